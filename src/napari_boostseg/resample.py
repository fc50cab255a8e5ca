"""Block averaging and bilinear upsampling for work done at reduced scale.

Smooth quantities (a blurred mask, a distance to an outline drawn on a 28x28
grid) carry no detail finer than several pixels, so the core computes them on
a grid ``f`` times coarser and samples them back. Block ``i`` covers pixels
``[i f, (i + 1) f)``; its value sits at the block's centre. Blocks may be
oblong, ``f = (fy, fx)``: an object's 28x28 grid has oblong cells when its
box is not square.
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np

__all__ = ["block_mean", "upsample", "bilinear_taps"]


Blocks = int | Sequence[int]


def _sides(f: Blocks) -> tuple[int, int]:
    """Block height and width from ``f`` or ``(fy, fx)``."""
    fy, fx = (f, f) if np.ndim(f) == 0 else f
    if int(fy) < 1 or int(fx) < 1:
        raise ValueError(f"block sides must be >= 1 pixel, got {f!r}")
    return int(fy), int(fx)


@numba.njit(cache=True, nogil=True)
def _block_sums(image, fy, fx, out):  # pragma: no cover - compiled
    h, w, channels = image.shape
    for y in range(h):
        by = y // fy
        for bx in range(out.shape[1]):
            for c in range(channels):
                acc = np.float32(0)
                for x in range(bx * fx, min(bx * fx + fx, w)):
                    acc += image[y, x, c]
                out[by, bx, c] += acc


@numba.njit(cache=True, nogil=True)
def _block_sums_int(image, fy, fx, acc, out):  # pragma: no cover - compiled
    """``_block_sums`` of an integer image: a row of blocks at a time, summed along the
    rows in memory order (which compiles to vector adds) into the int32 ``acc``, exact."""
    h, w, channels = image.shape
    flat = image.reshape(h, w * channels)
    for by in range(out.shape[0]):
        acc[:] = 0
        for y in range(by * fy, min(by * fy + fy, h)):
            row = flat[y]
            for i in range(w * channels):
                acc[i] += row[i]
        for bx in range(out.shape[1]):
            for x in range(bx * fx, min(bx * fx + fx, w)):
                for c in range(channels):
                    out[by, bx, c] += acc[x * channels + c]


def block_mean(image: np.ndarray, f: Blocks) -> np.ndarray:
    """Mean over blocks of ``f`` x ``f`` (or ``fy`` x ``fx``) pixels, float32;
    partial blocks at the far edges average the pixels they have.

    ``image`` is (H, W) or (H, W, C) (each channel averaged on its own). One
    compiled pass straight over the input's dtype (bool, uint8, uint16 or
    float): no float copy of the full-resolution input is made.
    """
    fy, fx = _sides(f)
    flat = image.ndim == 2
    planes = image[..., None] if flat else image
    h, w, channels = planes.shape
    sums = np.zeros((-(-h // fy), -(-w // fx), channels), dtype=np.float32)
    if planes.dtype == bool or (np.issubdtype(planes.dtype, np.integer) and planes.dtype.itemsize <= 2):
        # A block row's sums of 8- and 16-bit samples, signed or not, fit int32 up to 32768 rows.
        whole = np.ascontiguousarray(planes)
        _block_sums_int(whole.view(np.uint8) if whole.dtype == bool else whole, fy, fx,
                        np.zeros(w * channels, np.int32), sums)
    else:
        _block_sums(planes, fy, fx, sums)
    rows = np.minimum(fy, h - np.arange(0, h, fy)).astype(np.float32)
    cols = np.minimum(fx, w - np.arange(0, w, fx)).astype(np.float32)
    sums /= (rows[:, None] * cols[None, :])[..., None]
    return sums[..., 0] if flat else sums


@numba.njit(cache=True, nogil=True)
def _bilinear(small, y0, y1, fy, x0, x1, fx, out):  # pragma: no cover - compiled
    one = np.float32(1)
    row = np.empty(small.shape[1], np.float32)
    for i in range(out.shape[0]):
        # Rows first: the intermediate has the small width, so it stays cheap.
        for j in range(small.shape[1]):
            row[j] = small[y0[i], j] * (one - fy[i]) + small[y1[i], j] * fy[i]
        for k in range(out.shape[1]):
            out[i, k] = row[x0[k]] * (one - fx[k]) + row[x1[k]] * fx[k]


def upsample(
    small: np.ndarray, f: Blocks, shape: tuple[int, int], window: tuple[slice, slice] | None = None
) -> np.ndarray:
    """Bilinear inverse of :func:`block_mean`: ``small`` sampled at full resolution.

    Parameters
    ----------
    small : (h, w) ndarray of float32
        Values at block centres.
    f : int or (int, int)
        Block size in pixels (height and width).
    shape : tuple of int
        Full-resolution shape.
    window : tuple of slice, optional
        Return only this part of the full-resolution result.

    Returns
    -------
    ndarray of float32
    """
    y0, y1, fy, x0, x1, fx = bilinear_taps(small.shape, f, shape, window)
    out = np.empty((len(fy), len(fx)), dtype=np.float32)
    _bilinear(np.ascontiguousarray(small, dtype=np.float32), y0, y1, fy, x0, x1, fx, out)
    return out


def bilinear_taps(
    small_shape: tuple[int, int], f: Blocks, shape: tuple[int, int], window: tuple[slice, slice] | None = None
) -> tuple[np.ndarray, ...]:
    """Rows and columns of the block grid that :func:`upsample` blends, and their weights.

    Returns
    -------
    y0, y1, fy, x0, x1, fx : ndarray
        Pixel row ``i`` of the window blends block rows ``y0[i]`` and
        ``y1[i]`` with weights ``1 - fy[i]`` and ``fy[i]`` (float32); the
        same for columns.
    """
    fy, fx = _sides(f)
    window = window or (slice(0, shape[0]), slice(0, shape[1]))
    ys = (np.arange(shape[0], dtype=np.float32)[window[0]] - (fy - 1) / 2) / fy
    xs = (np.arange(shape[1], dtype=np.float32)[window[1]] - (fx - 1) / 2) / fx

    def taps(coords: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        coords = np.clip(coords, 0, n - 1)
        i0 = np.floor(coords).astype(np.intp)
        i1 = np.minimum(i0 + 1, n - 1)
        return i0, i1, (coords - i0).astype(np.float32)

    return (*taps(ys, small_shape[0]), *taps(xs, small_shape[1]))
