"""Marker-controlled watershed restricted to the undecided band.

The flood is a priority flood over a bucket queue. Elevations are quantised
to 65536 levels over their range in the band, each level is a first-in
first-out queue, and a pixel takes its label when it is queued, from the
neighbour that queued it (4-connected: up, left, right, down). Lowest
elevation first, earliest queued first among equals (elevations closer than
1/65535 of the band's range count as equal): where elevations differ this is
the order of scikit-image's ``watershed``, at a fraction of its cost: no
float64 copy of the image, no heap, constant work per pixel, and only the
band's pixels touched. NaN and infinite elevations are walls.

Memory traffic is what the flood waits for, so it is kept small: the band's
box is copied once into one padded image that holds, per pixel, its label
or, while it is undecided, its queue level (as a negative number), so a
neighbour's state and level come in one read; every pixel is queued exactly
once at a level known in advance, so each level gets its own contiguous
stretch of one queue array (a counting sort), and a two-tier bitmap of the
non-empty levels finds the next level to pop in a few word operations.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros
from numpy.typing import ArrayLike

from .markers import BACKGROUND, labels_from_markers

__all__ = ["flood", "flood_markers"]

_LEVELS = 65536
_WORDS = _LEVELS // 64  # bitmap words, one bit per level
_ONE = np.uint64(1)


@numba.njit(cache=True, nogil=True)
def _undecided_box(markers):  # pragma: no cover - compiled
    """Box ``(y1, x1, y2, x2)`` of the 0 pixels grown by one (end exclusive;
    ``y2 == 0`` when there are none), and the markers' minimum."""
    h, w = markers.shape
    y1, x1, y2, x2 = h, w, 0, 0
    lo = 0
    for y in range(h):
        for x in range(w):
            v = markers[y, x]
            if v == 0:
                y1 = min(y1, y)
                y2 = max(y2, y + 1)
                x1 = min(x1, x)
                x2 = max(x2, x + 1)
            else:
                lo = min(lo, v)
    if y2 == 0:
        return 0, 0, 0, 0, lo
    # Marker pixels next to the band seed the flood.
    return max(y1 - 1, 0), max(x1 - 1, 0), min(y2 + 1, h), min(x2 + 1, w), lo


@numba.njit(inline="always")
def _level(value, lo, scale):  # pragma: no cover - compiled
    """Queue level of an elevation; values off the range land on the end levels, NaN on top."""
    if value != value or value == np.inf:
        return _LEVELS - 1
    x = (value - lo) * scale
    if not x > 0:
        return 0
    if x >= _LEVELS - 1:
        return _LEVELS - 1
    return int(x)


@numba.njit(inline="always")
def _mark(words, summary, level):  # pragma: no cover - compiled
    word = level >> 6
    if words[word] == 0:
        summary[word >> 6] |= _ONE << np.uint64(word & 63)
    words[word] |= _ONE << np.uint64(level & 63)


@numba.njit(inline="always")
def _unmark(words, summary, level):  # pragma: no cover - compiled
    word = level >> 6
    words[word] &= ~(_ONE << np.uint64(level & 63))
    if words[word] == 0:
        summary[word >> 6] &= ~(_ONE << np.uint64(word & 63))


@numba.njit(inline="always")
def _next_level(words, summary, level):  # pragma: no cover - compiled
    """Lowest marked level at or above ``level``; ``_LEVELS`` when none."""
    word = level >> 6
    bits = words[word] & ~((_ONE << np.uint64(level & 63)) - _ONE)
    if bits != 0:
        return (word << 6) + int(trailing_zeros(bits))
    word += 1
    if word == _WORDS:
        return _LEVELS
    group = word >> 6
    bits = summary[group] & ~((_ONE << np.uint64(word & 63)) - _ONE)
    while bits == 0:
        group += 1
        if group == summary.shape[0]:
            return _LEVELS
        bits = summary[group]
    word = (group << 6) + int(trailing_zeros(bits))
    return (word << 6) + int(trailing_zeros(words[word]))


#: In the flood's state image: the padding that nothing floods.
_WALL = -1


@numba.njit(inline="always")
def _waiting(level):  # pragma: no cover - compiled
    """State of an undecided pixel waiting at queue ``level`` (below ``_WALL``)."""
    return -2 - level


@numba.njit(cache=True, nogil=True)
def _flood_box(edges, markers, state):  # pragma: no cover - compiled
    """Fill the 0 pixels of ``markers`` (the band's box) from their marker neighbours.

    ``state`` is int32 scratch of shape ``markers.shape + 2``: the markers
    with a border of ``_WALL``, undecided pixels as ``_waiting(level)`` until
    a neighbour labels them, so neighbours are plain index offsets and one
    read tells whether a neighbour is free and at which level it queues.
    Seeds are the marker pixels next to a 0 pixel, queued in raster order.
    Pixels no seed reaches become background.
    """
    h, w = markers.shape
    wp = w + 2
    free = _waiting(0)  # every undecided pixel until the levels are known
    state[0, :] = _WALL
    state[h + 1, :] = _WALL
    for y in range(h):
        state[y + 1, 0] = _WALL
        state[y + 1, w + 1] = _WALL
        for x in range(w):
            v = markers[y, x]
            state[y + 1, x + 1] = free if v == 0 else v
    st = state.ravel()
    # The seeds and the band's size, and the elevation's range where the
    # flood runs (it sets the quantisation).
    seeds = np.empty(h * w, np.int32)
    n_seeds = 0
    n_band = 0
    lo, hi = np.inf, -np.inf
    for y in range(h):
        for x in range(w):
            i = (y + 1) * wp + x + 1
            if st[i] == free:
                n_band += 1
            elif st[i - 1] == free or st[i + 1] == free or st[i - wp] == free or st[i + wp] == free:
                seeds[n_seeds] = i
                n_seeds += 1
            else:
                continue
            v = edges[y, x]
            if abs(v) < np.inf:  # NaN and infinities do not stretch the scale
                lo = min(lo, v)
                hi = max(hi, v)
    if n_band == 0:
        return
    scale = (_LEVELS - 1) / (hi - lo) if hi > lo else 0.0
    # Levels of the band's pixels, and how many pixels each level will queue.
    start = np.zeros(_LEVELS + 1, np.int32)
    for y in range(h):
        for x in range(w):
            if markers[y, x] == 0:
                level = _level(edges[y, x], lo, scale)
                state[y + 1, x + 1] = _waiting(level)
                start[level + 1] += 1
    seed_levels = np.empty(n_seeds, np.int32)
    for s in range(n_seeds):
        y = seeds[s] // wp - 1
        level = _level(edges[y, seeds[s] - (y + 1) * wp - 1], lo, scale)
        seed_levels[s] = level
        start[level + 1] += 1
    for level in range(_LEVELS):
        start[level + 1] += start[level]
    # Level l's queue is queue[head[l]:tail[l]] within its own stretch.
    head = start[:_LEVELS].copy()
    tail = start[:_LEVELS].copy()
    queue = np.empty(n_band + n_seeds, np.int32)
    words = np.zeros(_WORDS, np.uint64)
    summary = np.zeros(_WORDS // 64, np.uint64)
    current = _LEVELS
    for s in range(n_seeds):
        level = seed_levels[s]
        if head[level] == tail[level]:
            _mark(words, summary, level)
        queue[tail[level]] = seeds[s]
        tail[level] += 1
        current = min(current, level)
    while current < _LEVELS:
        i = queue[head[current]]
        head[current] += 1
        if head[current] == tail[current]:
            _unmark(words, summary, current)
        label = st[i]
        for k in range(4):
            j = i - wp if k == 0 else (i - 1 if k == 1 else (i + 1 if k == 2 else i + wp))
            v = st[j]
            if v >= _WALL:  # the border, a marker or flooded already
                continue
            # Labelled when queued, so every pixel is queued once.
            st[j] = label
            level = _waiting(v)  # the map is its own inverse
            if head[level] == tail[level]:
                _mark(words, summary, level)
            queue[tail[level]] = j
            tail[level] += 1
            current = min(current, level)
        if head[current] == tail[current]:
            current = _next_level(words, summary, current)
    for y in range(h):
        for x in range(w):
            if markers[y, x] == 0:
                v = state[y + 1, x + 1]
                markers[y, x] = BACKGROUND if v < 0 else v


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
    return edges, markers


def flood_markers(edges: ArrayLike, markers: ArrayLike, *, in_place: bool = False) -> np.ndarray:
    """Fill every undecided pixel of ``markers`` by a watershed on ``edges``.

    Only the undecided pixels and the marker pixels next to them enter the
    flood, inside their bounding box: the cost follows the band, not the
    image.

    Parameters
    ----------
    edges : (H, W) array_like of float
        Elevation; floods meet on its ridges.
    markers : (H, W) array_like of int
        0 undecided, 1 background, ``k + 1`` object ``k``.
    in_place : bool, optional
        Fill ``markers`` itself, which must then be an int32 ndarray (a view
        is fine). Default False: work on a copy.

    Returns
    -------
    (H, W) ndarray of int32
        Markers with every undecided pixel that a marker can reach filled.
        Undecided pixels cut off from every marker become background.
    """
    edges, markers = _check(edges, markers)
    if in_place:
        if markers.dtype != np.int32:
            raise ValueError(f"in_place needs int32 markers, got {markers.dtype}")
        out = markers
    else:
        out = markers.astype(np.int32, copy=True)
    y1, x1, y2, x2, low = _undecided_box(out)
    if low < 0:
        raise ValueError("markers must be >= 0 (0 undecided, 1 background, k+1 object k)")
    if y2 == 0:
        return out
    scratch = np.empty((y2 - y1 + 2, x2 - x1 + 2), np.int32)
    window = (slice(y1, y2), slice(x1, x2))
    _flood_box(np.asarray(edges[window], np.float32), out[window], scratch)
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
    # The flooded copy is ours: it becomes the labels in place.
    return labels_from_markers(flood_markers(edges, markers), in_place=True)
