"""Stop signals during start-up: SIGTERM or SIGINT at any moment ends the process cleanly (exit 0).

Outside an event loop the signal handler raises StopRequested, which unwinds whatever runs. Inside a
start-up step run with `run_stoppable` (migrations, for instance), it cancels that step instead, so the
step's clean-up runs before the process ends; clean-up that must not be cut short itself (closing
database connections) runs under `deferring_stop()`, and the stop follows it. While uvicorn serves, it
handles these signals itself (a graceful stop), and raises them again once it has stopped.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopRequested(SystemExit):
    """A stop signal arrived. A SystemExit (code 0): no `except Exception` on the way keeps it, and
    asyncio lets it through even from inside a loop callback."""


class _State:
    requested = False
    step: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
    deferring = 0


def _cancel_step() -> None:
    """On the step's loop: cancels it, unless it is in clean-up that must finish (then the stop
    follows the step)."""
    if _State.step is not None and not _State.deferring:
        _State.step[1].cancel()


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    _State.requested = True
    if _State.step is not None:
        _State.step[0].call_soon_threadsafe(_cancel_step)
        return
    raise StopRequested(0)


@contextmanager
def deferring_stop() -> Iterator[None]:
    """Clean-up inside a stoppable step that a stop signal must not cut short."""
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1


def install() -> None:
    """Takes SIGTERM and SIGINT over; call first thing in the process."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_signal)


def run_stoppable(step: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(step)`, where a stop signal cancels the step and then ends the process."""

    async def guarded() -> T:
        _State.step = (asyncio.get_running_loop(), asyncio.current_task())  # type: ignore[assignment]
        try:
            return await step
        finally:
            _State.step = None

    try:
        result = asyncio.run(guarded())
    except asyncio.CancelledError:
        if _State.requested:
            raise StopRequested(0) from None
        raise
    if _State.requested:  # it came during clean-up that had to finish
        raise StopRequested(0)
    return result
