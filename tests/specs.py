"""Where the reference specifications live (outside the repository).

Tests find them through ``JIRABOT_SPECS_DIR`` (default ``../shared/specs`` beside the checkout). Where
they are absent, only the checks that need them are skipped, with a reason; under CI (``CI=true``) they
must be found and a missing one fails the run.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def specs_dir() -> Path:
    configured = os.environ.get("JIRABOT_SPECS_DIR")
    if configured:
        return Path(configured).expanduser().resolve()
    return (REPO_ROOT.parent / "shared" / "specs").resolve()


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def spec_path(name: str) -> Path | None:
    """The path of a spec file, or None where it is absent (never None under CI: that fails)."""
    path = specs_dir() / name
    if path.is_file():
        return path
    if under_ci():
        raise FileNotFoundError(
            f"spec {name} not found in {specs_dir()} (set JIRABOT_SPECS_DIR); CI requires the specs"
        )
    return None


def require_spec(name: str) -> Path:
    """The path of a spec file; skips the calling test, with a reason, where it is absent."""
    path = spec_path(name)
    if path is None:
        pytest.skip(f"reference spec {name} not found in {specs_dir()} (set JIRABOT_SPECS_DIR)")
    return path


@cache
def load_spec(name: str) -> Any | None:
    """The parsed JSON of a spec file, or None where it is absent (outside CI)."""
    path = spec_path(name)
    if path is None:
        return None
    return json.loads(path.read_text(encoding="utf-8"))
