"""Small photo shoots on disk for the batch, command-line and Dask tests.

The bundled samples are used when the package ships them; otherwise (and in
addition) synthetic photos: a smooth product shape on a textured backdrop,
with a coarse mask as a 28x28 mask head would give it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
from PIL import Image

from napari_boostseg import files
from napari_boostseg.coarse import oracle28

ICC = b"\x00\x00\x02\x0cprofile-bytes-for-tests" + bytes(range(40))


def synthetic(seed: int, h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """An RGB uint8 photo and the true mask of its product."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = h * rng.uniform(0.4, 0.6), w * rng.uniform(0.4, 0.6)
    ry, rx = h * rng.uniform(0.2, 0.3), w * rng.uniform(0.2, 0.3)
    wobble = 1 + 0.15 * np.sin(5 * np.arctan2(yy - cy, xx - cx) + seed)
    truth = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= wobble**2
    backdrop = rng.integers(170, 230, size=3)
    product = rng.integers(20, 120, size=3)
    photo = np.where(truth[..., None], product, backdrop).astype(float)
    photo += rng.normal(0, 6, size=photo.shape)
    return np.clip(photo, 0, 255).astype(np.uint8), truth


@functools.lru_cache(maxsize=1)
def _all_samples() -> tuple:
    try:
        from samples import load_samples
    except ImportError:
        return ()
    return tuple((s.name, s.image, s.coarse, s.truth) for s in load_samples())


def bundled_samples(limit: int = 2) -> list:
    """``(name, image, coarse, truth)`` of up to ``limit`` bundled samples, or []."""
    return list(_all_samples()[:limit])


def make_shoot(root: Path, *, corrupt: bool = False, samples: int = 2) -> dict[str, Path]:
    """Write photos, coarse masks and true masks under ``root``.

    Photos: ``a.jpg`` (ICC profile bytes attached), ``b.png`` stored
    sideways with EXIF orientation 6, ``c.tif`` 16-bit, plus the first
    ``samples`` bundled samples as PNG; ``bad.jpg`` is garbage when
    ``corrupt``. Masks are named like the photos and describe the upright
    photo.

    Returns
    -------
    dict
        Folders ``images``, ``masks`` (coarse) and ``truth``.
    """
    images, masks, truth_dir = root / "images", root / "masks", root / "truth"
    for d in (images, masks, truth_dir):
        d.mkdir(parents=True, exist_ok=True)

    photo, truth = synthetic(1)
    Image.fromarray(photo).save(images / "a.jpg", quality=92, icc_profile=ICC)
    files.write_labels(masks / "a.png", oracle28(truth).astype(np.uint8) * 255)
    files.write_labels(truth_dir / "a.png", truth)

    photo, truth = synthetic(2, 80, 112)
    stored = np.rot90(photo, 1)  # orientation 6 turns it back by 90 degrees clockwise
    im = Image.fromarray(np.ascontiguousarray(stored))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(images / "b.png", exif=exif)
    files.write_labels(masks / "b.png", oracle28(truth))
    files.write_labels(truth_dir / "b.png", truth)

    photo, truth = synthetic(3)
    files.write_image(images / "c.tif", photo.astype(np.uint16) * 257, icc_profile=ICC)
    files.write_labels(masks / "c.tif", oracle28(truth))
    files.write_labels(truth_dir / "c.png", truth)

    if samples:
        for name, image, coarse, truth in bundled_samples(samples):
            Image.fromarray(image).save(images / f"{name}.png")
            files.write_labels(masks / f"{name}.png", coarse)
            files.write_labels(truth_dir / f"{name}.png", truth)

    if corrupt:
        (images / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
        files.write_labels(masks / "bad.png", np.zeros((8, 8), np.uint8))
    return {"images": images, "masks": masks, "truth": truth_dir}


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` by relative path, with its content."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }
