"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def ushark_yaml() -> Path:
    return ROOT / "examples" / "ushark.yaml"
