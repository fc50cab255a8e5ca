"""Marker strokes that claim a region up to the photo's edge.

A person corrects a refinement by painting on its markers (see
:mod:`napari_boostseg.markers`). Painted as they are, the markers claim only
the pixels a stroke covers: a part of a product that the coarse mask missed
stays sure background around the stroke, so winning it back would take
painting all of it. :func:`stroke_markers` re-marks the neighbourhood of
each stroke instead: around a stroke of object ``k`` the automatic sure
background within ``reach`` pixels becomes undecided, so the watershed
floods from the stroke to the photo's edge; around a stroke of background the
automatic sure markers of the objects it paints over become undecided in the
same way.

The result depends only on the automatic markers, the painted markers and
the labels they gave, so undoing a stroke undoes its re-marking too, and it
is local: a stroke changes markers no further than ``reach`` from it, which
lets an interactive editor recompute only a window around the stroke.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from .markers import BACKGROUND, UNDECIDED
from .objects import object_boxes
from .params import GRID_CELLS

__all__ = ["stroke_markers", "stroke_reach", "changed_window"]

Window = tuple[slice, slice]


def stroke_reach(coarse: np.ndarray, cells: float = 2.0) -> float:
    """How far a stroke re-marks, in pixels: ``cells`` cells of the largest object's grid.

    A cell is the larger side of the object's box / 28 (the Mask R-CNN mask
    grid, as for the undecided band).

    Parameters
    ----------
    coarse : (H, W) ndarray of int
        Coarse labels (0 background).
    cells : float, optional
        Reach in grid cells. Default 2.0.

    Returns
    -------
    float
        Pixels, at least 1. Without objects, the image's larger side stands
        in for the object's.

    Examples
    --------
    >>> coarse = np.zeros((100, 100), np.int32); coarse[10:66, 10:38] = 1
    >>> stroke_reach(coarse, 2.0)
    4.0
    """
    if cells < 0:
        raise ValueError(f"cells must be >= 0, got {cells}")
    sides = [
        max(s[0].stop - s[0].start, s[1].stop - s[1].start)
        for s in object_boxes(np.asarray(coarse))
        if s is not None
    ]
    side = max(sides, default=max(np.shape(coarse)))
    return max(1.0, cells * side / GRID_CELLS)


def changed_window(before: np.ndarray, after: np.ndarray, grow: float) -> Window | None:
    """The box around the pixels that differ, grown by ``grow`` pixels; None if none differ."""
    changed = before != after
    rows = np.flatnonzero(changed.any(axis=1))
    if not len(rows):
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    g = int(np.ceil(grow)) + 1
    h, w = changed.shape
    return (
        slice(max(rows[0] - g, 0), min(rows[-1] + 1 + g, h)),
        slice(max(cols[0] - g, 0), min(cols[-1] + 1 + g, w)),
    )


def _near(mask: np.ndarray, reach: float) -> np.ndarray:
    """Pixels within ``reach`` pixels (Euclidean) of ``mask``."""
    if not mask.any():
        return mask
    if mask.all():
        return mask.copy()
    return ndi.distance_transform_edt(~mask) <= reach


def stroke_markers(
    automatic: np.ndarray,
    painted: np.ndarray,
    labels: np.ndarray,
    reach: float,
    *,
    window: Window | None = None,
) -> np.ndarray:
    """Markers for the watershed: the painted ones, with the band around strokes re-marked.

    A stroke is where ``painted`` differs from ``automatic``; painted pixels
    always keep their painted value. Around a stroke, within ``reach``
    pixels of it:

    * object ``k`` (marker ``k + 1``) painted where the refinement found
      background (``labels`` 0: sure background, or band the watershed gave
      to the background) turns the automatic sure background around it
      undecided, so object ``k`` floods up to the photo's edge there;
    * background (marker 1) painted over object ``k``'s sure markers turns
      object ``k``'s sure markers around it undecided, so the background
      floods back up to the edge. An object keeps its sure markers when all
      of those it has left would go (a stroke never removes an object).
      Background painted in the band re-marks nothing: the band is the
      watershed's to decide, and an object's interior next to an outline
      the photo does not show must not be handed to the background.

    Eraser strokes (marker 0) re-mark nothing.

    Parameters
    ----------
    automatic : (H, W) ndarray of int
        The markers the refinement made (``Refinement.markers``).
    painted : (H, W) ndarray of int
        The markers after the person's strokes.
    labels : (H, W) ndarray of int
        The labels ``automatic`` gave (``Refinement.labels``).
    reach : float
        Re-marking distance from a stroke, in pixels (see :func:`stroke_reach`).
    window : (slice, slice), optional
        Compute only this box (strokes up to ``reach`` outside it are taken
        into account). Default: the whole image.

    Returns
    -------
    ndarray of int32
        The markers in ``window`` (the whole image by default).

    Examples
    --------
    >>> automatic = np.ones((5, 9), np.int32); automatic[:, :3] = 2
    >>> labels = (automatic == 2).astype(np.int32)
    >>> painted = automatic.copy(); painted[2, 5] = 2   # object 1, out in the background
    >>> stroke_markers(automatic, painted, labels, reach=1.5)[2]
    array([2, 2, 2, 1, 0, 2, 0, 1, 1], dtype=int32)
    """
    automatic, painted, labels = np.asarray(automatic), np.asarray(painted), np.asarray(labels)
    if automatic.shape != painted.shape or automatic.shape != labels.shape or automatic.ndim != 2:
        raise ValueError(
            f"automatic {automatic.shape}, painted {painted.shape} markers and labels "
            f"{labels.shape} must be 2-D images of one shape"
        )
    if not reach >= 0:
        raise ValueError(f"reach must be >= 0 pixels, got {reach}")
    h, w = automatic.shape
    if window is None:
        window = (slice(0, h), slice(0, w))
    # The context: strokes up to ``reach`` outside the window re-mark inside it.
    g = int(np.ceil(reach)) + 1
    y1, y2 = max(window[0].start - g, 0), min(window[0].stop + g, h)
    x1, x2 = max(window[1].start - g, 0), min(window[1].stop + g, w)
    context = (slice(y1, y2), slice(x1, x2))
    inner = (
        slice(window[0].start - y1, window[0].stop - y1),
        slice(window[1].start - x1, window[1].stop - x1),
    )
    auto, paint = automatic[context], painted[context]
    out = paint.astype(np.int32, copy=True)
    edited = paint != auto
    if not edited.any():
        return out[inner]

    claims = edited & (paint > BACKGROUND) & (labels[context] == 0)
    if claims.any():
        out[_near(claims, reach) & ~edited & (auto == BACKGROUND)] = UNDECIDED

    gives_back = edited & (paint == BACKGROUND) & (auto > BACKGROUND)
    for marker in np.unique(auto[gives_back]):
        opened = _near(gives_back & (auto == marker), reach) & ~edited & (auto == marker)
        # Keep the object when every sure marker it has left would go.
        if opened.any() and np.count_nonzero(opened) < np.count_nonzero(painted == marker):
            out[opened] = UNDECIDED
    return out[inner]
