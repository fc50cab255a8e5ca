"""Coarse masks as a Mask R-CNN mask head would give them.

A Mask R-CNN predicts each object's mask on a 28x28 grid inside its box and
resizes it to the box. These functions make such masks from a known true mask,
so refinement can be measured, tested and demonstrated without a detector:

* :func:`oracle28` -- what a perfect 28x28 head could give;
* :func:`jittered28` -- the same with the box shifted and scaled by a few per
  cent and the grid mask grown or shrunk by one cell, like a real detector.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi

from .params import GRID_CELLS

__all__ = ["oracle28", "jittered28", "area_matrix", "bilinear_matrix", "bounding_box"]

GRID = GRID_CELLS
# One cell in the city-block sense: the elementary structuring element.
_CROSS = ndi.generate_binary_structure(2, 1)
#: Structuring elements of :func:`jittered28`: the cross, or the harsher 3x3 square.
FOOTPRINTS = {"cross": _CROSS, "square": np.ones((3, 3), bool)}


def area_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Matrix ``(n_out, n_in)`` that area-averages a signal of length ``n_in``.

    Output cell ``i`` covers ``[i, i+1) * n_in / n_out`` input pixels and takes
    their overlap-weighted mean (OpenCV's ``INTER_AREA`` for shrinking).
    """
    scale = n_in / n_out
    edges = np.arange(n_out + 1) * scale
    lo, hi = edges[:-1, None], edges[1:, None]
    pix = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, pix + 1) - np.maximum(lo, pix), 0, None)
    return (overlap / scale).astype(np.float32)


def bilinear_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Matrix ``(n_out, n_in)`` for bilinear resizing with pixel-centre alignment.

    Output pixel ``j`` samples the input at ``(j + 0.5) * n_in / n_out - 0.5``,
    clamped to the edge pixels (OpenCV's and scikit-image's convention).
    """
    src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    src = np.clip(src, 0, n_in - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac = (src - i0).astype(np.float32)
    m = np.zeros((n_out, n_in), dtype=np.float32)
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), 1 - frac)
    np.add.at(m, (rows, i1), frac)
    return m


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(y1, x1, y2, x2)`` of a mask's True pixels, end exclusive; None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def _check_mask(mask: ArrayLike) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D (height, width), got shape {mask.shape}")
    return mask.astype(bool, copy=False)


def _grid_to_box(grid: np.ndarray, box: tuple[int, int, int, int], shape) -> np.ndarray:
    """Bilinearly resize a grid to ``box``, threshold at 0.5, paste into ``shape``."""
    y1, x1, y2, x2 = box
    h, w = y2 - y1, x2 - x1
    out = np.zeros(shape, dtype=bool)
    if h <= 0 or w <= 0:
        return out
    soft = bilinear_matrix(h, GRID) @ grid @ bilinear_matrix(w, GRID).T
    patch = soft >= 0.5
    # Clip the box to the image: a jittered box may stick out.
    cy1, cx1 = max(y1, 0), max(x1, 0)
    cy2, cx2 = min(y2, shape[0]), min(x2, shape[1])
    if cy1 < cy2 and cx1 < cx2:
        out[cy1:cy2, cx1:cx2] = patch[cy1 - y1 : cy2 - y1, cx1 - x1 : cx2 - x1]
    return out


def _grid(mask: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    y1, x1, y2, x2 = box
    crop = mask[y1:y2, x1:x2].astype(np.float32)
    return area_matrix(GRID, y2 - y1) @ crop @ area_matrix(GRID, x2 - x1).T


def oracle28(mask: ArrayLike) -> np.ndarray:
    """The coarse mask a perfect 28x28 mask head would give for ``mask``.

    Crop to the bounding box, area-downsample to 28x28, bilinear-upsample back
    to the box, threshold at 0.5 and paste.

    Parameters
    ----------
    mask : (H, W) array_like of bool
        True object mask.

    Returns
    -------
    (H, W) ndarray of bool
        Coarse mask; empty where ``mask`` is empty.
    """
    mask = _check_mask(mask)
    box = bounding_box(mask)
    if box is None:
        return np.zeros(mask.shape, dtype=bool)
    return _grid_to_box(_grid(mask, box), box, mask.shape)


def jittered28(
    mask: ArrayLike,
    seed: int | np.random.Generator = 0,
    max_jitter: float = 0.05,
    footprint: str = "cross",
) -> np.ndarray:
    """A coarse mask like :func:`oracle28` but with a detector's typical errors.

    The box is shifted and scaled by up to ``max_jitter`` of its size along each
    axis, and the 28x28 grid mask is eroded or dilated by one cell (grey-level
    morphology with the 4-connected cross, chosen at random), before it is
    resized into the jittered box.

    Parameters
    ----------
    mask : (H, W) array_like of bool
        True object mask.
    seed : int or numpy.random.Generator, optional
        Makes the jitter reproducible. Default 0.
    max_jitter : float, optional
        Largest shift and scale change as a fraction of the box side. Default 0.05.
    footprint : {"cross", "square"}, optional
        Neighbourhood of the one-cell growth or shrinkage: the 4-connected
        cross, or the 3x3 square, which also moves diagonal outlines by a
        cell and makes a harsher error. Default "cross".
    """
    if footprint not in FOOTPRINTS:
        raise ValueError(f"footprint must be one of {sorted(FOOTPRINTS)}, got {footprint!r}")
    mask = _check_mask(mask)
    rng = np.random.default_rng(seed)
    box = bounding_box(mask)
    if box is None:
        return np.zeros(mask.shape, dtype=bool)
    grid = _grid(mask, box)
    if rng.random() < 0.5:
        grid = ndi.grey_erosion(grid, footprint=FOOTPRINTS[footprint], mode="constant", cval=0.0)
    else:
        grid = ndi.grey_dilation(grid, footprint=FOOTPRINTS[footprint], mode="constant", cval=0.0)
    y1, x1, y2, x2 = box
    h, w = y2 - y1, x2 - x1
    cy, cx = (y1 + y2) / 2, (x1 + x2) / 2
    cy += rng.uniform(-max_jitter, max_jitter) * h
    cx += rng.uniform(-max_jitter, max_jitter) * w
    h *= 1 + rng.uniform(-max_jitter, max_jitter)
    w *= 1 + rng.uniform(-max_jitter, max_jitter)
    jbox = (
        int(round(cy - h / 2)),
        int(round(cx - w / 2)),
        int(round(cy + h / 2)),
        int(round(cx + w / 2)),
    )
    return _grid_to_box(grid, jbox, mask.shape)
