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
def _extents(labels, n):  # pragma: no cover - compiled
    h, w = labels.shape
    box = np.empty((n + 1, 4), np.int64)
    box[:, 0] = h
    box[:, 1] = w
    box[:, 2] = -1
    box[:, 3] = -1
    for y in range(h):
        for x in range(w):
            k = labels[y, x]
            if k == 0:
                continue
            if y < box[k, 0]:
                box[k, 0] = y
            if y > box[k, 2]:
                box[k, 2] = y
            if x < box[k, 1]:
                box[k, 1] = x
            if x > box[k, 3]:
                box[k, 3] = x
    return box


def object_boxes(labels: np.ndarray) -> list[tuple[slice, slice] | None]:
    """Bounding box of each object id 1..max, as ``scipy.ndimage.find_objects`` gives them.

    Parameters
    ----------
    labels : (H, W) ndarray of int
        0 background, 1..N objects (non-negative).

    Returns
    -------
    list of (slice, slice) or None
        Entry ``k - 1`` is the box of id ``k`` (end exclusive), None for an
        id that does not occur.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 2-D integer image, got {labels.dtype} of shape {labels.shape}")
    n = int(labels.max()) if labels.size else 0
    if n <= 0:
        return []
    extents = _extents(labels, n)
    return [
        None if y2 < 0 else (slice(int(y1), int(y2) + 1), slice(int(x1), int(x2) + 1))
        for y1, x1, y2, x2 in extents[1:]
    ]
