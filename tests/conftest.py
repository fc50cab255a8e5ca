"""Fixtures shared by the core tests."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "ccp" / "images").is_dir():
        pytest.skip("../shared/data is not present beside the repository")
    return SHARED_DATA
