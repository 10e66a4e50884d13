"""The `jirabot` command line run as an operator runs it: a subprocess in a folder of its own, with the
test run's own settings (DATABASE_URL, SLACK_…) removed from its environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.harness import wait_for

_OPERATOR_PREFIXES = ("SLACK_", "JIRABOT_", "ATLASSIAN_", "DATABASE_URL", "LOG_", "PORT")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any jirabot setting, plus `extra`; help text is not wrapped."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OPERATOR_PREFIXES)}
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def run_jirabot(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Runs `python -m bot ARGS` to its end in `cwd`."""
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


class Running:
    """A `jirabot` process that runs on; its stderr is read as it comes, line by line."""

    def __init__(self, cwd: Path, env: dict[str, str], *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", *args], cwd=cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, containing: str, timeout: float = 30) -> str:
        def found() -> str | None:
            if self.proc.poll() is not None and not self._reader.is_alive():
                raise AssertionError(f"jirabot exited ({self.proc.returncode}) before {containing!r}: "
                                     + "\n".join(self.lines[-20:]))
            return next((line for line in self.lines if containing in line), None)

        return wait_for(found, timeout, message=f"a log line with {containing!r}")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 40) -> int:
        """The exit code; fails (and kills the process) when it does not exit within `timeout`."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"jirabot did not exit within {timeout}s: " + "\n".join(self.lines[-20:])
            ) from None
        self._reader.join(5)
        return code

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
