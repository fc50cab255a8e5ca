"""Instances of the default garment model, built from the Clothing Co-Parsing labels.

CCP labels every pixel of the main person with one of 58 names (``labels.txt``).
The default model detects seven classes: the whole ``person`` and six garment
groups. A garment instance is one connected region (8-connected) of its group;
regions smaller than ``MIN_REGION_PX`` pixels at CCP's resolution (550 px wide)
are annotation crumbs and are dropped. Names not in any group (skin, hair,
jewellery, belts, hats, socks, tights, ...) belong to the person only.

The person overlaps its garments, so the instances cannot live in one label
image: :class:`CCPInstances` hands the trainer a stack of masks per photo.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

__all__ = [
    "GARMENT_GROUPS",
    "CLASS_NAMES",
    "MIN_REGION_PX",
    "TRAIN_IDS",
    "DEV_IDS",
    "label_names",
    "group_lookup",
    "instances",
    "CCPInstances",
]

#: Label names of each garment group (the CCP names of labels.txt).
GARMENT_GROUPS: dict[str, tuple[str, ...]] = {
    "top": ("blouse", "bodysuit", "hoodie", "jumper", "shirt", "sweater", "sweatshirt", "t-shirt", "top", "vest"),
    "outerwear": ("blazer", "cape", "cardigan", "coat", "jacket", "suit"),
    "bottom": ("jeans", "leggings", "pants", "shorts", "skirt"),
    "dress": ("dress", "romper"),
    "footwear": ("boots", "clogs", "flats", "heels", "loafers", "pumps", "sandals", "shoes", "sneakers", "wedges"),
    "bag": ("bag", "purse", "wallet"),
}

#: Classes of the model, background first.
CLASS_NAMES: tuple[str, ...] = ("BG", "person", *GARMENT_GROUPS)

#: Regions below this many pixels (at 550 px width) are not instances.
MIN_REGION_PX = 200

TRAIN_IDS = range(1, 801)
DEV_IDS = range(801, 901)


def label_names(ccp_dir: Path) -> dict[str, int]:
    """CCP label name -> id, read from ``labels.txt``."""
    names = {}
    for line in (Path(ccp_dir) / "labels.txt").read_text().splitlines():
        if line.strip():
            value, name = line.split(maxsplit=1)
            names[name.strip()] = int(value)
    return names


def group_lookup(ccp_dir: Path) -> np.ndarray:
    """(256,) uint8 table: CCP label id -> class index (0: no garment group)."""
    ids = label_names(ccp_dir)
    table = np.zeros(256, np.uint8)
    for k, (group, members) in enumerate(GARMENT_GROUPS.items(), start=2):
        for name in members:
            if name not in ids:
                raise ValueError(f"CCP label {name!r} of group {group!r} is not in labels.txt")
            table[ids[name]] = k
    return table


def instances(labels: np.ndarray, lookup: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Instance masks and class ids of one CCP label image.

    Returns
    -------
    masks : (H, W, N) bool
        The person first, then garment regions.
    class_ids : (N,) int32
        Indices into :data:`CLASS_NAMES`.
    """
    person = labels > 0
    masks, classes = [], []
    if person.any():
        masks.append(person)
        classes.append(1)
    groups = lookup[labels]
    eight = np.ones((3, 3), bool)
    for k in range(2, len(CLASS_NAMES)):
        regions, n = ndi.label(groups == k, structure=eight)
        if n == 0:
            continue
        sizes = np.bincount(regions.ravel(), minlength=n + 1)
        for r in np.flatnonzero(sizes >= MIN_REGION_PX):
            if r == 0:
                continue
            masks.append(regions == r)
            classes.append(k)
    h, w = labels.shape
    stack = np.stack(masks, axis=2) if masks else np.zeros((h, w, 0), bool)
    return stack, np.asarray(classes, np.int32)


class CCPInstances:
    """CCP photos as a training dataset (``len()`` and ``load(i)``) for ``mrcnn.train``.

    Parameters
    ----------
    ccp_dir : path-like
        The CCP folder (``images/``, ``labels/``, ``labels.txt``).
    ids : iterable of int
        Photo ids, e.g. :data:`TRAIN_IDS`.
    """

    def __init__(self, ccp_dir, ids):
        self.root = Path(ccp_dir)
        if not (self.root / "labels.txt").is_file():
            raise FileNotFoundError(f"{self.root} is not a CCP folder (no labels.txt)")
        self.ids = [int(i) for i in ids]
        self.lookup = group_lookup(self.root)

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        stem = f"{self.ids[index]:04d}"
        image = np.asarray(Image.open(self.root / "images" / f"{stem}.jpg").convert("RGB"))
        labels = np.asarray(Image.open(self.root / "labels" / f"{stem}.png"))
        masks, classes = instances(labels, self.lookup)
        return image, masks, classes
