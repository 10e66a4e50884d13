"""The process entry point of `jirabot` and `python -m bot`.

Stop signals are taken over before anything heavy is imported: a SIGTERM or SIGINT at any moment of
start-up (imports, settings, migrations) unwinds it and ends the process with exit code 0. Once uvicorn
serves, it handles these signals itself (a graceful stop), then raises them again, which lands here too.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from types import FrameType


class StopRequested(SystemExit):
    """SIGTERM or SIGINT arrived. A SystemExit (code 0): no `except Exception` on the way keeps it, and
    asyncio lets it through even from inside a loop callback (other BaseExceptions it would only log)."""


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise StopRequested(0)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        from bot.cli import main as cli_main

        return cli_main(argv)
    except StopRequested:
        import logging

        logging.getLogger("bot.cli").info("app.stopped_by_signal")
        return 0
