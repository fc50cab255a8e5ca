"""The default garment model that ships with the package.

``garments.h5`` holds Mask R-CNN weights in the matterport layout (stored as
float16) and ``garments.json`` their config; both are written by
``scripts/train_default_model.py --ship``. Nothing here imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_WEIGHTS", "default_weights"]

#: Where the default weights live inside the installed package.
DEFAULT_WEIGHTS = Path(__file__).resolve().with_name("garments.h5")


def default_weights() -> Path | None:
    """The shipped weights file, or None when this installation has none."""
    if DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.with_suffix(".json").is_file():
        return DEFAULT_WEIGHTS
    return None
