"""Lay out the Clothing Co-Parsing photos as the tests, benchmarks and training read them.

The benchmarks, the studio generator and ``scripts/train_default_model.py`` read CCP
(Yang, Luo, Lin, CVPR 2014; Apache-2.0) from ``../shared/data/ccp`` beside the
repository. This script makes that folder from a copy of the public dataset
(``git clone https://github.com/bearpaw/clothing-co-parsing``), which holds
``photos/NNNN.jpg``, ``annotations/pixel-level/NNNN.mat`` (a ``groundtruth``
matrix of label ids per pixel) and ``label_list.mat`` (the 59 label names, id 0
``null``). It writes, for each photo with pixel-level annotations:

- ``images/NNNN.jpg``: the photo, its bytes unchanged;
- ``labels/NNNN.png``: the label id of each pixel (uint8), names in ``labels.txt``;
- ``masks_person/NNNN.png``: 255 where any label but ``null`` is;
- ``masks_clothing/NNNN.png``: 255 where any label but ``null``, ``hair`` and ``skin`` is;
- ``manifest.csv``: id, width, height and the share of the photo each mask covers.

Ids 0001-0800 are the training split, 0801-0900 the development split.

    python scripts/prepare_ccp.py path/to/clothing-co-parsing            # writes ../shared/data/ccp
    python scripts/prepare_ccp.py path/to/clothing-co-parsing --out DIR

Nothing is replaced unless ``--overwrite`` is given; each file is written atomically.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from napari_boostseg.files.atomic import atomic_write, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO.parent / "shared" / "data" / "ccp"
NOT_CLOTHING = ("null", "hair", "skin")


def label_names(path: Path) -> list[str]:
    """The label names of ``label_list.mat``, in id order (id 0 first)."""
    from scipy.io import loadmat

    cells = np.asarray(loadmat(path)["label_list"], dtype=object).ravel()
    names = [str(np.asarray(cell).ravel()[0]).strip() for cell in cells]
    missing = [name for name in NOT_CLOTHING if name not in names]
    if missing:
        raise SystemExit(f"{path} names no {', '.join(missing)} label: is it CCP's label_list.mat?")
    return names


def read_annotation(path: Path) -> np.ndarray:
    """The ``groundtruth`` matrix of one pixel-level annotation, as uint8 label ids."""
    from scipy.io import loadmat

    truth = np.asarray(loadmat(path)["groundtruth"])
    if truth.ndim != 2 or truth.size == 0 or truth.min() < 0 or truth.max() > 255:
        raise SystemExit(f"{path}: groundtruth is not a 2-D matrix of label ids 0-255 (shape {truth.shape})")
    return truth.astype(np.uint8)


def masks(labels: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Person (any label but null) and clothing (any but null, hair and skin) masks as 0/255 uint8."""
    person = labels != names.index("null")
    clothing = ~np.isin(labels, [names.index(name) for name in NOT_CLOTHING])
    return person.astype(np.uint8) * 255, clothing.astype(np.uint8) * 255


def prepare(source: Path, out: Path, *, overwrite: bool = False) -> int:
    """Write the layout described above from the CCP copy ``source`` into ``out``; the photo count."""
    if not source.is_dir():
        raise SystemExit(f"{source} is not a folder: give the root of a copy of the Clothing Co-Parsing dataset")
    annotations = source / "annotations" / "pixel-level"
    photos = source / "photos"
    for needed in (annotations, photos, source / "label_list.mat"):
        if not needed.exists():
            raise SystemExit(
                f"{needed} is missing: give the root of a copy of the Clothing Co-Parsing dataset "
                "(git clone https://github.com/bearpaw/clothing-co-parsing)"
            )
    names = label_names(source / "label_list.mat")
    found = sorted(annotations.glob("*.mat"))
    if not found:
        raise SystemExit(f"{annotations} holds no .mat annotations")
    manifest = out / "manifest.csv"
    if manifest.exists() and not overwrite:
        raise SystemExit(f"{out} already holds a prepared copy (manifest.csv); add --overwrite to replace it")
    rows = ["id,width,height,fg_person_frac,fg_clothing_frac"]
    try:
        for index, path in enumerate(found, start=1):
            rows.append(_prepare_one(path, photos, out, names, overwrite))
            if index % 100 == 0:
                print(f"{index} of {len(found)} photos", flush=True)
    except FileExistsError as error:
        raise SystemExit(f"{error} (an earlier run stopped part way?)") from None
    atomic_write_text(out / "labels.txt", "".join(f"{i} {name}\n" for i, name in enumerate(names)), overwrite=overwrite)
    atomic_write_text(manifest, "\n".join(rows) + "\n", overwrite=overwrite)
    return len(found)


def _prepare_one(path: Path, photos: Path, out: Path, names: list[str], overwrite: bool) -> str:
    """Write one photo's files; its manifest row."""
    stem = path.stem
    photo = photos / f"{stem}.jpg"
    if not photo.exists():
        raise SystemExit(f"{photo} is missing: annotation {path.name} has no photo")
    labels = read_annotation(path)
    with Image.open(photo) as image:
        size = image.size
    if size != (labels.shape[1], labels.shape[0]):
        raise SystemExit(f"{photo} is {size[0]}x{size[1]} but {path.name} is {labels.shape[1]}x{labels.shape[0]}")
    person, clothing = masks(labels, names)
    atomic_write(out / "images" / f"{stem}.jpg", lambda tmp: shutil.copyfile(photo, tmp), overwrite=overwrite)
    for folder, array in (("labels", labels), ("masks_person", person), ("masks_clothing", clothing)):
        atomic_write(out / folder / f"{stem}.png", Image.fromarray(array).save, overwrite=overwrite)
    return f"{stem},{size[0]},{size[1]},{(person > 0).mean():.4f},{(clothing > 0).mean():.4f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="root of a copy of the Clothing Co-Parsing dataset")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write (default: {DEFAULT_OUT})")
    parser.add_argument("--overwrite", action="store_true", help="replace a copy prepared before")
    args = parser.parse_args(argv)
    count = prepare(args.source, args.out, overwrite=args.overwrite)
    print(f"wrote {count} photos with their labels and masks to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
