"""Block averaging and bilinear upsampling for work done at reduced scale.

Smooth quantities (a blurred mask, a distance to an outline drawn on a 28x28
grid) carry no detail finer than several pixels, so the core computes them on
a grid ``f`` times coarser and samples them back. Block ``i`` covers pixels
``[i f, (i + 1) f)``; its value sits at the block's centre.
"""

from __future__ import annotations

import numpy as np

__all__ = ["block_mean", "upsample"]


def block_mean(image: np.ndarray, f: int) -> np.ndarray:
    """Mean over ``f`` x ``f`` blocks, float32; partial blocks at the far edges
    average the pixels they have.

    Sums run in float32 straight from the input's dtype (bool, uint8,
    uint16 or float), so no float copy of the full-resolution input is made.
    """
    h, w = image.shape
    sums = np.add.reduceat(image, np.arange(0, w, f), axis=1, dtype=np.float32)
    sums = np.add.reduceat(sums, np.arange(0, h, f), axis=0)
    rows = np.minimum(f, h - np.arange(0, h, f)).astype(np.float32)
    cols = np.minimum(f, w - np.arange(0, w, f)).astype(np.float32)
    sums /= rows[:, None] * cols[None, :]
    return sums


def upsample(
    small: np.ndarray, f: int, shape: tuple[int, int], window: tuple[slice, slice] | None = None
) -> np.ndarray:
    """Bilinear inverse of :func:`block_mean`: ``small`` sampled at full resolution.

    Parameters
    ----------
    small : (h, w) ndarray of float32
        Values at block centres.
    f : int
        Block size in pixels.
    shape : tuple of int
        Full-resolution shape.
    window : tuple of slice, optional
        Return only this part of the full-resolution result.
    """
    window = window or (slice(0, shape[0]), slice(0, shape[1]))
    ys = (np.arange(shape[0], dtype=np.float32)[window[0]] - (f - 1) / 2) / f
    xs = (np.arange(shape[1], dtype=np.float32)[window[1]] - (f - 1) / 2) / f

    def taps(coords: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coords = np.clip(coords, 0, n - 1)
        i0 = np.floor(coords).astype(np.intp)
        i1 = np.minimum(i0 + 1, n - 1)
        return i0, i1, (coords - i0).astype(np.float32)

    y0, y1, fy = taps(ys, small.shape[0])
    x0, x1, fx = taps(xs, small.shape[1])
    # Rows first: the intermediate has the small width, so it stays cheap.
    rows = small[y0] * (1 - fy)[:, None] + small[y1] * fy[:, None]
    return rows[:, x0] * (1 - fx) + rows[:, x1] * fx
