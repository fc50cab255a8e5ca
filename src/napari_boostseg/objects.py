"""Where the objects of a label image lie: their bounding boxes.

``scipy.ndimage.find_objects`` answers the same question; this compiled
version does it in one pass that skips the background quickly, which matters
at 4 Mpx where it runs more than once per refinement.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["object_boxes"]


@numba.njit(cache=True, nogil=True)
def _extents(labels, size):  # pragma: no cover - compiled
    """Rows (top, left, bottom, right) per id 0..largest seen, and the largest
    id; stops early (largest id >= ``size``) when the table is too small."""
    h, w = labels.shape
    box = np.empty((size, 4), np.int64)
    box[:, 0] = h
    box[:, 1] = w
    box[:, 2] = -1
    box[:, 3] = -1
    n = 0
    for y in range(h):
        for x in range(w):
            k = np.int64(labels[y, x])
            if k <= 0:
                continue
            if k >= size:
                return box, k
            if k > n:
                n = k
            if y < box[k, 0]:
                box[k, 0] = y
            if y > box[k, 2]:
                box[k, 2] = y
            if x < box[k, 1]:
                box[k, 1] = x
            if x > box[k, 3]:
                box[k, 3] = x
    return box[: n + 1], n


def object_boxes(
    labels: np.ndarray, within: tuple[slice, slice] | None = None
) -> list[tuple[slice, slice] | None]:
    """Bounding box of each object id 1..max, as ``scipy.ndimage.find_objects`` gives them.

    Parameters
    ----------
    labels : (H, W) ndarray of int
        0 background, 1..N objects (non-negative).
    within : (slice, slice), optional
        A box (steps of 1) outside which ``labels`` is known to be 0: only
        it is read. Default: the whole image.

    Returns
    -------
    list of (slice, slice) or None
        Entry ``k - 1`` is the box of id ``k`` (end exclusive), None for an
        id that does not occur.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 2-D integer image, got {labels.dtype} of shape {labels.shape}")
    top = left = 0
    if within is not None:
        rows, cols = within
        top, left = rows.indices(labels.shape[0])[0], cols.indices(labels.shape[1])[0]
        labels = labels[rows, cols]
    if not labels.size:
        return []
    # One pass for the usual few ids; a second, with a table as long as the largest id, otherwise.
    extents, n = _extents(labels, 256)
    if n >= 256:
        extents, n = _extents(labels, int(labels.max()) + 1)
    return [
        None if y2 < 0 else (slice(int(y1) + top, int(y2) + 1 + top), slice(int(x1) + left, int(x2) + 1 + left))
        for y1, x1, y2, x2 in extents[1:]
    ]
