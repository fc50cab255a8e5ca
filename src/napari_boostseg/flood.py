"""Marker-controlled watershed restricted to the undecided band."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi
from skimage.segmentation import watershed

from .markers import BACKGROUND, UNDECIDED, labels_from_markers

__all__ = ["flood", "flood_markers"]


def _box(mask: np.ndarray, pad: int) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return (
        slice(max(rows[0] - pad, 0), min(rows[-1] + 1 + pad, h)),
        slice(max(cols[0] - pad, 0), min(cols[-1] + 1 + pad, w)),
    )


def _check(edges: ArrayLike, markers: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    edges = np.asarray(edges)
    markers = np.asarray(markers)
    if edges.ndim != 2 or markers.shape != edges.shape:
        raise ValueError(
            f"edges must be 2-D and markers the same shape; got edges {edges.shape}, "
            f"markers {markers.shape}"
        )
    if not np.issubdtype(markers.dtype, np.integer):
        raise ValueError(f"markers must be an integer image, got {markers.dtype}")
    if markers.size and markers.min() < 0:
        raise ValueError("markers must be >= 0 (0 undecided, 1 background, k+1 object k)")
    return edges, markers


def flood_markers(edges: ArrayLike, markers: ArrayLike) -> np.ndarray:
    """Fill every undecided pixel of ``markers`` by a watershed on ``edges``.

    Only the undecided pixels and the one-pixel rim of markers around them
    enter the watershed, inside their bounding box: the cost follows the
    band, not the image.

    Parameters
    ----------
    edges : (H, W) array_like of float
        Elevation; floods meet on its ridges.
    markers : (H, W) array_like of int
        0 undecided, 1 background, ``k + 1`` object ``k``.

    Returns
    -------
    (H, W) ndarray of int32
        Markers with every undecided pixel that a marker can reach filled.
        Undecided pixels cut off from every marker become background.
    """
    edges, markers = _check(edges, markers)
    out = markers.astype(np.int32, copy=True)
    undecided = out == UNDECIDED
    window = _box(undecided, pad=1)
    if window is None:
        return out
    und = undecided[window]
    seeds = out[window]
    # The rim: marker pixels touching the band. Interior marker pixels would
    # only fill the watershed's queue.
    rim = ndi.binary_dilation(und, structure=np.ones((3, 3), bool)) & ~und
    filled = watershed(edges[window], np.where(rim, seeds, 0), mask=und | rim)
    band_values = filled[und]
    band_values[band_values == UNDECIDED] = BACKGROUND
    seeds[und] = band_values
    return out


def flood(edges: ArrayLike, markers: ArrayLike) -> np.ndarray:
    """Label image from a watershed of ``edges`` seeded by ``markers``.

    Parameters
    ----------
    edges : (H, W) array_like of float
        Elevation, e.g. from :func:`napari_boostseg.edges.edge_map`.
    markers : (H, W) array_like of int
        0 undecided, 1 background, ``k + 1`` object ``k``.

    Returns
    -------
    (H, W) ndarray of int32
        0 background, ``k`` object ``k``.
    """
    return labels_from_markers(flood_markers(edges, markers))
