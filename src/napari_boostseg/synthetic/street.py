"""Street photos of one person with a known true mask, made from two CCP photos.

The person of one CCP photo is laid over the street of another, whose own
person is first painted out (filled from the nearest street pixels, then
blurred, where the new person does not cover it). The result is a real
street scene with a person whose every pixel is known: a photo without a
backdrop, for the Mask R-CNN path of ``boostseg demo`` and napari's sample
menu.

>>> photo = street_photo("../shared/data/ccp", scene=12, person=40)   # doctest: +SKIP
>>> photo.image.shape, int(photo.truth.max())                          # doctest: +SKIP
((1314, 880, 3), 1)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

__all__ = ["StreetPhoto", "street_photo"]

#: Pixels of the painted-out person's outline also painted out (its fringe).
_FRINGE = 6
#: Blur of the painted-out area, in pixels of the CCP photo.
_FILL_BLUR = 25.0


@dataclass(frozen=True)
class StreetPhoto:
    """A street photo and its person.

    Attributes
    ----------
    image : (H, W, 3) ndarray of uint8
    truth : (H, W) ndarray of int32
        1 where the person is (more than half of the pixel), else 0.
    """

    image: np.ndarray
    truth: np.ndarray


def _person(ccp_dir: Path, i: int) -> tuple[np.ndarray, np.ndarray]:
    stem = f"{i:04d}"
    image = np.asarray(Image.open(ccp_dir / "images" / f"{stem}.jpg").convert("RGB"))
    mask = np.asarray(Image.open(ccp_dir / "masks_person" / f"{stem}.png")) > 127
    if mask.shape != image.shape[:2] or not mask.any():
        raise ValueError(f"CCP photo {stem} has no person mask of its size")
    return image, mask


def _resized(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize(size, Image.LANCZOS), dtype=np.float32)


def street_photo(ccp_dir: str | os.PathLike, scene: int, person: int, *, scale: float = 1.6) -> StreetPhoto:
    """The person of CCP photo ``person`` standing in the street of CCP photo ``scene``.

    Parameters
    ----------
    ccp_dir : str or os.PathLike
        The CCP folder (``images/``, ``masks_person/``).
    scene, person : int
        CCP photo ids (use training ids only: 0001-0800). The person's photo is
        resized to the scene's (CCP's differ by a few pixels).
    scale : float, optional
        Enlargement of the scene (Lanczos). Default 1.6: 880x1320 pixels for
        a 550x825 scene.

    Returns
    -------
    StreetPhoto
        The new person stands where the scene's person stood (centres of mass
        aligned); edges are blended with the enlarged true mask, so they carry
        the photo's own anti-aliasing.
    """
    root = Path(ccp_dir)
    street, gone = _person(root, scene)
    photo, mask = _person(root, person)
    height, width = street.shape[:2]
    # The scene's person painted out: nearest street pixel, blurred inside.
    hole = ndi.binary_dilation(gone, iterations=_FRINGE)
    _, (iy, ix) = ndi.distance_transform_edt(hole, return_indices=True)
    filled = street[iy, ix].astype(np.float32)
    weight = ndi.gaussian_filter(hole.astype(np.float32), _FRINGE)[..., None]
    filled = filled * (1 - weight) + ndi.gaussian_filter(filled, (_FILL_BLUR, _FILL_BLUR, 0)) * weight
    size = (round(width * scale), round(height * scale))
    background = _resized(filled.clip(0, 255).astype(np.uint8), size)
    # Centres of mass as shares of each photo's size, so the person's may differ.
    where = np.divide(ndi.center_of_mass(gone), gone.shape) - np.divide(ndi.center_of_mass(mask), mask.shape)
    dy, dx = (int(v) for v in np.round(where * size[::-1]))
    person_rgb = ndi.shift(_resized(photo, size), (dy, dx, 0), order=0)  # zeros where nothing moved in
    alpha = ndi.shift(_resized(mask.astype(np.uint8) * 255, size) / 255, (dy, dx), order=0).clip(0, 1)
    image = background * (1 - alpha[..., None]) + person_rgb * alpha[..., None]
    return StreetPhoto(np.round(image).clip(0, 255).astype(np.uint8), (alpha > 0.5).astype(np.int32))
