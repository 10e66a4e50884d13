"""The process entry point of `jirabot` and `python -m bot`: stop signals are taken over before anything
heavy is imported (see bot.stopping), so that SIGTERM or SIGINT at any moment ends it with exit code 0."""

from __future__ import annotations

from collections.abc import Sequence

from bot import stopping


def main(argv: Sequence[str] | None = None) -> int:
    stopping.install()
    try:
        from bot.cli import main as cli_main

        return cli_main(argv)
    except stopping.StopRequested:
        import logging

        logging.getLogger("bot.cli").info("app.stopped_by_signal")
        return 0
