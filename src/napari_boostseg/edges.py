"""The edge map the watershed floods: where an outline is likely.

Two terms are added: the colour gradient of the (softly masked) photo,
normalised so that a clear edge counts 1 whatever the photo's contrast, and a
prior that peaks on the coarse outline. Where the photo shows a clear edge
near the coarse outline, the refined outline snaps to it; where it shows
none (a garment as dark as its shadow), the outline stays near the coarse
one instead of leaking away.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from scipy import ndimage as ndi

from .params import DEFAULT_PARAMS
from .threads import thread_count

__all__ = ["gradient_magnitude", "gradient_in_band", "edge_map"]


def gradient_magnitude(image: np.ndarray, sigma: float = DEFAULT_PARAMS.edge_sigma) -> np.ndarray:
    """Colour gradient magnitude of a float image.

    Each channel is differentiated with derivative-of-Gaussian filters of
    ``sigma`` pixels (Sobel filters when ``sigma`` is 0); the magnitude is
    the root of the sum of squares over channels and both directions (the
    Frobenius norm of the colour Jacobian), so an edge between two colours
    of equal brightness still counts.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray of float32
        Image, typically in [0, 1].
    sigma : float, optional
        Scale of the derivative in pixels; 0 for plain Sobel. Default
        ``RefineParams().edge_sigma`` (1.0).

    Returns
    -------
    (H, W) ndarray of float32
    """
    if image.ndim == 2:
        image = image[..., None]
    total = np.zeros(image.shape[:2], dtype=np.float32)
    for c in range(image.shape[2]):
        channel = np.ascontiguousarray(image[..., c], dtype=np.float32)
        if sigma > 0:
            magnitude = ndi.gaussian_gradient_magnitude(channel, sigma, mode="nearest")
            total += magnitude * magnitude
        else:
            for axis in (0, 1):
                d = ndi.sobel(channel, axis=axis, mode="nearest")
                total += d * d
    return np.sqrt(total, out=total)


def _gaussian_weights(sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Correlation weights of the Gaussian and of its derivative, as scipy.ndimage uses them."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / sigma**2 * x**2)
    phi /= phi.sum()
    # scipy correlates with the reversed kernel; the derivative kernel is odd.
    return phi, (x / sigma**2 * phi)


@numba.njit(cache=True, nogil=True, fastmath=True)
def _tiles_gradient(photo, gain, scale, tiles, tile, smooth, derive, out):  # pragma: no cover - compiled
    """Colour gradient magnitude on the given tiles of ``out`` ("nearest" beyond the edges).

    float32 throughout, and every inner loop runs along a row of the tile, so
    it compiles to vector instructions; intensities lie in [0, 1] and the
    kernels have a few taps, so float32 sums stay within 1e-6 of float64.
    """
    h, w, channels = photo.shape
    taps = smooth.shape[0]
    r = (taps - 1) // 2
    use_gain = gain.shape[0] == h
    span = tile + 2 * r
    line = np.empty((span, span), np.float32)  # the tile and its rim, as intensities
    smoothed = np.empty((span, tile), np.float32)  # smoothed along x
    derived = np.empty((span, tile), np.float32)  # differentiated along x
    total = np.empty((tile, tile), np.float32)
    gx = np.empty(tile, np.float32)
    gy = np.empty(tile, np.float32)
    s = smooth.astype(np.float32)
    d = derive.astype(np.float32)
    k = np.float32(scale)
    for n in range(tiles.shape[0]):
        y1, x1 = tiles[n, 0] * tile, tiles[n, 1] * tile
        y2, x2 = min(y1 + tile, h), min(x1 + tile, w)
        th, tw = y2 - y1, x2 - x1
        total[:th, :tw] = 0
        for c in range(channels):
            for yy in range(th + 2 * r):
                sy = min(max(y1 + yy - r, 0), h - 1)
                for xx in range(tw + 2 * r):
                    sx = min(max(x1 + xx - r, 0), w - 1)
                    v = np.float32(photo[sy, sx, c]) * k
                    line[yy, xx] = v * gain[sy, sx] if use_gain else v
                smoothed[yy, :tw] = 0
                derived[yy, :tw] = 0
                for t in range(taps):
                    for xx in range(tw):
                        v = line[yy, xx + t]
                        smoothed[yy, xx] += s[t] * v
                        derived[yy, xx] += d[t] * v
            # Along y: d/dx = smooth(y) of the x-derivative, d/dy = derivative(y) of the smoothed.
            for yy in range(th):
                gx[:tw] = 0
                gy[:tw] = 0
                for t in range(taps):
                    for xx in range(tw):
                        gx[xx] += s[t] * derived[yy + t, xx]
                        gy[xx] += d[t] * smoothed[yy + t, xx]
                for xx in range(tw):
                    total[yy, xx] += gx[xx] * gx[xx] + gy[xx] * gy[xx]
        for yy in range(th):
            for xx in range(tw):
                out[y1 + yy, x1 + xx] = np.sqrt(total[yy, xx])


def gradient_in_band(
    photo: np.ndarray,
    band: np.ndarray,
    sigma: float = DEFAULT_PARAMS.edge_sigma,
    gain: np.ndarray | None = None,
    tile: int = 64,
) -> np.ndarray:
    """:func:`gradient_magnitude` of ``photo * gain``, only on tiles that meet ``band``.

    The undecided band is a thin ring, so most of its bounding box needs no
    gradient. Tiles of ``tile`` pixels that contain band pixels are filtered
    (in one compiled pass over the photo's own pixels: no float copy of the
    photo); elsewhere the result is 0.

    Parameters
    ----------
    photo : (H, W), (H, W, 3) or (H, W, 4) ndarray
        uint8, uint16 or float in [0, 1], as :func:`napari_boostseg.inputs.image_to_float`
        reads it (alpha ignored).
    band : (H, W) ndarray of bool
        Where the gradient is needed.
    sigma : float, optional
        Scale of the derivative in pixels, > 0. Default ``RefineParams().edge_sigma`` (1.0).
    gain : (H, W) ndarray of float32, optional
        Per-pixel factor applied to the photo first (the soft mask's dimming).
    tile : int, optional
        Tile side in pixels. Default 64.

    Returns
    -------
    (H, W) ndarray of float32
    """
    from .inputs import check_image, intensity_scale

    photo = check_image(photo)
    if photo.ndim == 2:
        photo = photo[..., None]
    photo = photo[..., :3]
    h, w = band.shape
    if photo.shape[:2] != (h, w) or (gain is not None and gain.shape != (h, w)):
        raise ValueError(f"photo {photo.shape[:2]}, band {band.shape} and gain must have the same size")
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    scale = 1.0 / intensity_scale(photo.dtype) if np.issubdtype(photo.dtype, np.integer) else 1.0
    out = np.zeros((h, w), dtype=np.float32)
    ty, tx = -(-h // tile), -(-w // tile)
    padded = np.zeros((ty * tile, tx * tile), dtype=bool)
    padded[:h, :w] = band
    tiles = np.argwhere(padded.reshape(ty, tile, tx, tile).any(axis=(1, 3)))
    if len(tiles):
        smooth, derive = _gaussian_weights(float(sigma))
        gain = np.ones((1, 1), np.float32) if gain is None else np.asarray(gain, np.float32)
        # Tiles write disjoint parts of ``out`` and the kernel releases the
        # GIL: share them out over the cores.
        # As many parts as threads the process may use (threads.thread_count).
        threads = thread_count()
        parts = np.array_split(tiles, max(1, min(threads, len(tiles) // 8)))
        futures = [
            _pool(threads).submit(_tiles_gradient, photo, gain, float(scale), part, tile, smooth, derive, out)
            for part in parts[1:]
        ]
        _tiles_gradient(photo, gain, float(scale), parts[0], tile, smooth, derive, out)
        for future in futures:
            future.result()
    return out


_POOL: tuple[int, ThreadPoolExecutor] | None = None


def _pool(threads: int) -> ThreadPoolExecutor:
    """The gradient pool for ``threads`` threads in all (the caller's is one of them)."""
    global _POOL
    if _POOL is None or _POOL[0] != threads:
        if _POOL is not None:
            _POOL[1].shutdown(wait=False)
        _POOL = (threads, ThreadPoolExecutor(max_workers=max(1, threads - 1), thread_name_prefix="boostseg-gradient"))
    return _POOL[1]


@numba.njit(cache=True, nogil=True)
def _every_nth(values, where, step, count):  # pragma: no cover - compiled
    """``values[where][::step]`` without the full ``values[where]`` copy (``count`` of them)."""
    out = np.empty((count + step - 1) // step, values.dtype)
    seen = 0
    for y in range(values.shape[0]):
        for x in range(values.shape[1]):
            if where[y, x]:
                if seen % step == 0:
                    out[seen // step] = values[y, x]
                seen += 1
    return out


@numba.njit(cache=True, nogil=True)
def _combine(gradient, closeness, inverse, prior, out):  # pragma: no cover - compiled
    """``out = min(gradient * inverse, 1) + prior * closeness``, one pass."""
    for y in range(out.shape[0]):
        for x in range(out.shape[1]):
            out[y, x] = min(gradient[y, x] * inverse, np.float32(1)) + prior * closeness[y, x]


def edge_map(
    gradient: np.ndarray,
    closeness: np.ndarray,
    undecided: np.ndarray,
    *,
    prior: float = DEFAULT_PARAMS.prior,
    percentile: float = DEFAULT_PARAMS.edge_percentile,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Elevation for the watershed from a gradient magnitude and the outline prior.

    Parameters
    ----------
    gradient : (H, W) ndarray of float32
        Output of :func:`gradient_magnitude`.
    closeness : (H, W) ndarray of float32
        1 on the coarse outline, 0 at the band's edge (see
        :func:`napari_boostseg.markers.band_geometry`).
    undecided : (H, W) ndarray of bool
        The band; its gradients set the normalisation.
    prior : float, optional
        Weight of the outline prior relative to a clear edge (which counts 1).
        A photo edge ``d`` band-widths away from the coarse outline wins over
        the coarse outline when its normalised strength exceeds ``prior * d``.
        Default ``RefineParams().prior`` (0.6).
    percentile : float, optional
        Gradients at or above this percentile of the band's gradients count
        as a clear edge (1). Default ``RefineParams().edge_percentile`` (98).
    out : (H, W) ndarray of float32, optional
        Where to write the result; may be ``gradient`` itself. Default: a
        new array.

    Returns
    -------
    (H, W) ndarray of float32
    """
    if gradient.shape != closeness.shape or gradient.shape != undecided.shape:
        raise ValueError(
            f"gradient {gradient.shape}, closeness {closeness.shape} and undecided "
            f"{undecided.shape} must have the same shape"
        )
    if out is None:
        out = np.empty(gradient.shape, np.float32)
    elif out.shape != gradient.shape or out.dtype != np.float32:
        raise ValueError(f"out must be float32 of shape {gradient.shape}, got {out.dtype} {out.shape}")
    count = int(np.count_nonzero(undecided))
    scale = 0.0
    if count:
        # A strided sample of the band gives the percentile to well within a per cent.
        sample = _every_nth(gradient, undecided, max(1, count // 200_000), count)
        scale = float(np.percentile(sample, percentile))
    inverse = np.float32(1 / scale) if scale > 0 else np.float32(0)
    _combine(gradient, closeness, inverse, np.float32(prior), out)
    return out
