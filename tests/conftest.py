"""Fixtures shared by the core tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules import their helpers (``_scenes``) from this folder.
sys.path.insert(0, str(Path(__file__).resolve().parent))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "ccp" / "images").is_dir():
        pytest.skip("../shared/data is not present beside the repository")
    return SHARED_DATA
