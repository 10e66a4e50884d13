"""The folder where the workers of `jirabot serve --workers N` keep their metrics for each other.

prometheus_client reads `PROMETHEUS_MULTIPROC_DIR` when it is imported, so the folder is settled here,
in the parent, before any worker starts (this module does not import prometheus_client). An operator's
folder is emptied (values of an earlier run would count again); otherwise a new temporary folder is made
for the run and removed after it.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def reset_metrics_folder() -> str | None:
    """Empties the operator's PROMETHEUS_MULTIPROC_DIR, if set (and creates it when missing)."""
    configured = os.environ.get(MULTIPROC_ENV)
    if not configured:
        return None
    folder = Path(configured)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return str(folder)


@contextmanager
def shared_metrics_folder() -> Iterator[str]:
    configured = reset_metrics_folder()
    if configured is not None:
        yield configured
        return
    folder = tempfile.mkdtemp(prefix="jirabot-metrics-")
    os.environ[MULTIPROC_ENV] = folder
    log.info("metrics.multiprocess_folder", extra={"folder": folder})
    try:
        yield folder
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)
