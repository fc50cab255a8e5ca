"""The models that ship with the package.

``garments.h5`` holds the default garment model's Mask R-CNN weights in the
matterport layout (stored as float16) and ``garments.json`` its config; both
are written by ``scripts/train_default_model.py --ship``. ``products.h5`` and
``products.json`` are the product model, the same network fine-tuned on
studio photos only, which splits touching products on a backdrop
(``--ship-products``). Nothing here imports TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DEFAULT_WEIGHTS", "PRODUCT_WEIGHTS", "GARMENT_CLASSES", "default_weights", "product_weights", "default_classes",
]

#: Where the default weights live inside the installed package.
DEFAULT_WEIGHTS = Path(__file__).resolve().with_name("garments.h5")
#: Where the product model's weights live.
PRODUCT_WEIGHTS = Path(__file__).resolve().with_name("products.h5")


#: Classes of the default model that are products; its "person" class covers
#: the garments a person wears, so it is asked for explicitly.
GARMENT_CLASSES = ("top", "outerwear", "bottom", "dress", "footwear", "bag")


def default_classes(weights, class_names) -> tuple[str, ...]:
    """Classes to cut out when the user names none.

    The garment classes for the shipped model (a person and their garments
    overlap, and each pixel goes to one object); every class for any other.
    """
    if weights is not None and DEFAULT_WEIGHTS.exists() and Path(weights).resolve() == DEFAULT_WEIGHTS:
        return tuple(c for c in class_names if c in GARMENT_CLASSES)
    return tuple(c for c in class_names if c != "BG")


def default_weights() -> Path | None:
    """The shipped weights file, or None when this installation has none."""
    if DEFAULT_WEIGHTS.is_file() and DEFAULT_WEIGHTS.with_suffix(".json").is_file():
        return DEFAULT_WEIGHTS
    return None


def product_weights() -> Path | None:
    """The shipped product model's weights, or None when this installation has none."""
    if PRODUCT_WEIGHTS.is_file() and PRODUCT_WEIGHTS.with_suffix(".json").is_file():
        return PRODUCT_WEIGHTS
    return None
