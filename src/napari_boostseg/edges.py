"""The edge map the watershed floods: where an outline is likely.

Two terms are added: the colour gradient of the (softly masked) photo,
normalised so that a clear edge counts 1 whatever the photo's contrast, and a
prior that peaks on the coarse outline. Where the photo shows a clear edge
near the coarse outline, the refined outline snaps to it; where it shows
none (a garment as dark as its shadow), the outline stays near the coarse
one instead of leaking away.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage as ndi

__all__ = ["gradient_magnitude", "gradient_in_band", "edge_map"]


def gradient_magnitude(image: np.ndarray, sigma: float = 1.0) -> np.ndarray:
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
        Scale of the derivative in pixels; 0 for plain Sobel. Default 1.0.

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


def gradient_in_band(
    crop: Callable[[tuple[slice, slice]], np.ndarray],
    band: np.ndarray,
    sigma: float = 1.0,
    tile: int = 96,
) -> np.ndarray:
    """:func:`gradient_magnitude`, computed only on tiles that meet ``band``.

    The undecided band is a thin ring, so most of its bounding box needs no
    gradient. Tiles of ``tile`` pixels that contain band pixels are filtered
    with a margin for the filter's reach; elsewhere the result is 0.

    Parameters
    ----------
    crop : callable
        ``crop(window)`` returns the float32 (h, w, C) image over ``window``
        (a pair of slices into ``band``'s frame), so that only the needed
        pixels are ever converted to float.
    band : (H, W) ndarray of bool
        Where the gradient is needed.
    sigma : float, optional
        As in :func:`gradient_magnitude`. Default 1.0.
    tile : int, optional
        Tile side in pixels. Default 96.

    Returns
    -------
    (H, W) ndarray of float32
    """
    h, w = band.shape
    out = np.zeros((h, w), dtype=np.float32)
    reach = int(4 * sigma + 0.5) + 2
    ty, tx = -(-h // tile), -(-w // tile)
    padded = np.zeros((ty * tile, tx * tile), dtype=bool)
    padded[:h, :w] = band
    active = padded.reshape(ty, tile, tx, tile).any(axis=(1, 3))
    for i, j in zip(*np.nonzero(active)):
        y1, x1 = i * tile, j * tile
        y2, x2 = min(y1 + tile, h), min(x1 + tile, w)
        cy1, cx1 = max(y1 - reach, 0), max(x1 - reach, 0)
        cy2, cx2 = min(y2 + reach, h), min(x2 + reach, w)
        g = gradient_magnitude(crop((slice(cy1, cy2), slice(cx1, cx2))), sigma)
        out[y1:y2, x1:x2] = g[y1 - cy1 : y2 - cy1, x1 - cx1 : x2 - cx1]
    return out


def edge_map(
    gradient: np.ndarray,
    closeness: np.ndarray,
    undecided: np.ndarray,
    *,
    prior: float = 0.3,
    percentile: float = 90.0,
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
        Default 0.3.
    percentile : float, optional
        Gradients at or above this percentile of the band's gradients count
        as a clear edge (1). Default 90.

    Returns
    -------
    (H, W) ndarray of float32
    """
    if gradient.shape != closeness.shape or gradient.shape != undecided.shape:
        raise ValueError(
            f"gradient {gradient.shape}, closeness {closeness.shape} and undecided "
            f"{undecided.shape} must have the same shape"
        )
    band_values = gradient[undecided]
    if band_values.size:
        # A strided sample gives the percentile to well within a per cent.
        step = max(1, band_values.size // 200_000)
        scale = float(np.percentile(band_values[::step], percentile))
    else:
        scale = 0.0
    out = gradient * np.float32(1 / scale) if scale > 0 else np.zeros_like(gradient)
    np.minimum(out, 1, out=out)
    out += np.float32(prior) * closeness
    return out
