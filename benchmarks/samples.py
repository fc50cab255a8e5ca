"""Studio-like sample photos generated in code, each with a coarse and a true mask.

The samples need no download and no weights: each is a product shape with
fabric texture and shading on a lit backdrop with a soft shadow, its true
label image, and a coarse label image made as a 28x28 Mask R-CNN head would
(:func:`napari_boostseg.coarse.jittered28`). They feed the tests, the speed
benchmarks and the screenshots (the shipped studio photos are
:mod:`napari_boostseg.sample_photos`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy import ndimage as ndi
from skimage.draw import ellipse, polygon

from napari_boostseg.coarse import jittered28
from napari_boostseg.softmask import blur_mask

__all__ = ["Sample", "SAMPLE_NAMES", "load_sample", "load_samples"]


@dataclass(frozen=True)
class Sample:
    """A generated photo with its masks.

    Attributes
    ----------
    name : str
    image : (H, W, 3) ndarray of uint8
        RGB photo.
    coarse : (H, W) ndarray of int32
        Coarse instance labels, 0 background, 1..N products.
    truth : (H, W) ndarray of int32
        True instance labels with the same ids.
    """

    name: str
    image: np.ndarray
    coarse: np.ndarray
    truth: np.ndarray


def _backdrop(shape: tuple[int, int], tint: tuple[float, float, float], rng) -> np.ndarray:
    """Seamless paper: a vertical light fall-off, vignetting and fine grain."""
    h, w = shape
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    light = 0.93 - 0.12 * y - 0.08 * x * x
    grain = rng.normal(0, 0.008, shape).astype(np.float32)
    return (light + grain)[..., None] * np.asarray(tint, np.float32)


def _fabric(shape: tuple[int, int], colour, stripe_period: float, rng) -> np.ndarray:
    """Cloth: a base colour, woven fine texture, optional stripes, soft folds."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = 0.04 * np.sin(xx * 1.7) * np.sin(yy * 1.9)
    folds = ndi.gaussian_filter(rng.normal(0, 1, (h // 16 + 1, w // 16 + 1)), 2)
    folds = np.kron(folds, np.ones((16, 16)))[:h, :w].astype(np.float32)
    shade = 1 + weave + 0.25 * folds
    out = shade[..., None] * np.asarray(colour, np.float32)
    if stripe_period:
        stripes = (np.sin(yy * 2 * np.pi / stripe_period) > 0.3)[..., None]
        out = np.where(stripes, out * 0.55 + 0.35, out)
    return out


def _shadowed(photo: np.ndarray, mask: np.ndarray, offset: tuple[int, int], blur: float) -> None:
    """Darken the backdrop under a soft drop shadow of ``mask`` (in place)."""
    shadow = blur_mask(np.roll(mask, offset, axis=(0, 1)), blur)
    photo *= (1 - 0.35 * shadow)[..., None]


def _tshirt(shape: tuple[int, int], top: int, left: int, size: int) -> np.ndarray:
    s = size / 100
    ys = np.array([0, 0, 8, 30, 42, 28, 100, 100, 28, 42, 30, 8]) * s + top
    xs = np.array([35, 65, 70, 100, 88, 78, 80, 20, 22, 12, 0, 30]) * s + left
    mask = np.zeros(shape, bool)
    rr, cc = polygon(ys, xs, shape)
    mask[rr, cc] = True
    # The neckline: a scoop out of the top edge.
    rr, cc = ellipse(top, left + 50 * s, 9 * s, 14 * s, shape=shape)
    mask[rr, cc] = False
    return mask


def _dress(shape: tuple[int, int], top: int, left: int, size: int) -> np.ndarray:
    s = size / 100
    ys = np.array([0, 0, 12, 35, 100, 100, 35, 12]) * s + top
    xs = np.array([20, 40, 44, 38, 64, -4, 22, 16]) * s + left
    mask = np.zeros(shape, bool)
    rr, cc = polygon(ys, xs, shape)
    mask[rr, cc] = True
    return mask


def _bag(shape: tuple[int, int], top: int, left: int, size: int) -> np.ndarray:
    s = size / 100
    mask = np.zeros(shape, bool)
    rr, cc = polygon(np.array([30, 30, 100, 100]) * s + top, np.array([5, 95, 100, 0]) * s + left, shape)
    mask[rr, cc] = True
    # A handle: a ring above the body, with a hole the refinement must keep.
    outer = np.zeros(shape, bool)
    rr, cc = ellipse(top + 32 * s, left + 50 * s, 30 * s, 32 * s, shape=shape)
    outer[rr, cc] = True
    rr, cc = ellipse(top + 32 * s, left + 50 * s, 24 * s, 26 * s, shape=shape)
    outer[rr, cc] = False
    return mask | outer


def _compose(name: str, shape, backdrop_tint, items, seed: int) -> Sample:
    rng = np.random.default_rng(seed)
    photo = _backdrop(shape, backdrop_tint, rng)
    truth = np.zeros(shape, np.int32)
    for label_id, (mask, colour, stripes) in enumerate(items, start=1):
        _shadowed(photo, mask, (shape[0] // 80, shape[1] // 60), shape[0] / 60)
        cloth = _fabric(shape, colour, stripes, rng)
        photo[mask] = cloth[mask]
        truth[mask & (truth == 0)] = label_id
    # A slightly soft lens: real product edges span a pixel or two.
    photo = ndi.gaussian_filter(photo, (0.8, 0.8, 0))
    image = (np.clip(photo, 0, 1) * 255 + 0.5).astype(np.uint8)
    coarse = np.zeros(shape, np.int32)
    for label_id in range(1, len(items) + 1):
        piece = jittered28(truth == label_id, seed=seed + label_id, max_jitter=0.02)
        coarse[piece & (coarse == 0)] = label_id
    return Sample(name, image, coarse, truth)


def _make(name: str) -> Sample:
    shape = (1200, 1600)
    if name == "tshirt":
        items = [(_tshirt(shape, 180, 420, 820), (0.10, 0.16, 0.35), 28)]
        return _compose(name, shape, (1.0, 1.0, 1.0), items, seed=1)
    if name == "dress":
        items = [(_dress((1600, 1200), 160, 380, 1300), (0.62, 0.08, 0.10), 0)]
        return _compose(name, (1600, 1200), (0.92, 0.93, 0.95), items, seed=2)
    if name == "bag_and_scarf":
        bag = _bag(shape, 260, 240, 620)
        scarf = np.zeros(shape, bool)
        rr, cc = polygon(
            np.array([300, 260, 900, 1050, 1000]), np.array([880, 1300, 1420, 1200, 860]), shape
        )
        scarf[rr, cc] = True
        scarf &= ~bag
        items = [(bag, (0.55, 0.36, 0.20), 0), (scarf, (0.85, 0.80, 0.30), 40)]
        return _compose(name, shape, (0.96, 0.95, 0.93), items, seed=3)
    raise ValueError(f"unknown sample {name!r}; choose one of {', '.join(SAMPLE_NAMES)}")


SAMPLE_NAMES = ("tshirt", "dress", "bag_and_scarf")


@cache
def _cached(name: str) -> Sample:
    sample = _make(name)
    for array in (sample.image, sample.coarse, sample.truth):
        array.setflags(write=False)
    return sample


def load_sample(name: str) -> Sample:
    """One generated sample by name (see ``SAMPLE_NAMES``); arrays are read-only."""
    return _cached(name)


def load_samples() -> list[Sample]:
    """All generated samples, in ``SAMPLE_NAMES`` order."""
    return [load_sample(name) for name in SAMPLE_NAMES]
