"""Shared helpers of the benchmark scripts: where the data lives and how to read it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CCP = SHARED / "ccp"
HIRES = SHARED / "hires"


def require(path: Path) -> Path:
    if not path.exists():
        raise SystemExit(f"{path} is missing: this benchmark needs the shared data beside the repository")
    return path


def ccp_pair(image_id: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """RGB photo and boolean ground truth (``kind`` 'person' or 'clothing')."""
    stem = f"{image_id:04d}"
    image = np.asarray(Image.open(require(CCP) / "images" / f"{stem}.jpg").convert("RGB"))
    truth = np.asarray(Image.open(CCP / f"masks_{kind}" / f"{stem}.png")) > 127
    return image, truth
