"""Soft shadows that a refined outline took in, given back to the backdrop.

On studio paper a product casts a soft shadow: a contact shadow along its
edge, a drop shadow to one side. A shadow darkens the paper without changing
its colour, and most where it meets the product, so that across the outline
the brightness falls step by step from the paper's towards the product.
Where the product is light, or its own edge faint, the watershed may follow
the shadow's outer rim instead of the product's edge, and the cut-out
carries a grey halo.

:func:`trim_shadows` reads that profile along each outline, one stretch at a
time: the mean brightness and colour of the pixels at each distance from the
outline (one-pixel steps), inside and out. From the first pixel outside,
inwards, while each step is darker by at least :data:`DROP` levels but by no
more than :data:`STEEPEST` (an edge, not a shadow), keeps the paper's colour
(:data:`HUE`) and no less than :data:`LIGHT` of its brightness, the pixels
passed are shadow, when the darkest of them is at least :data:`DARKEST`
levels under the paper; inside the outline they go back to the backdrop,
each that keeps the paper's colour itself and is not brighter than the step
outside it (by more than :data:`RISE`). A product's own face is flat or
textured, not a steady fall, and its edge against the paper or the shadow
is a step: the walk stops there. Nothing deeper than ``depth`` is ever
given back, nor more than :data:`MOST` of an object (the steps nearest its
outline first), nor anything of an object whose shadow would be more than
twice that, or whose ``depth`` is under 2 px.

The stretches are squares of a fixed grid; a pixel outside the outline
reads with the object pixel beside it, so that where an outline runs along
the border between two squares both sides of it still fall in one. Where
one stretch finds a shadow and the next does not (its profile broke off
early, but not at an edge), a pixel takes the deeper of its own stretch's
depth and the one read between the centres of the stretches around it:
the band given back tapers from one to the other instead of ending in a
square notch as long as a stretch.

On training photos of the studio generator (products of CCP 0001-0700, seeds
1,900,000 on; see docs/studio.md) light products on light paper rose from
0.911 to 0.926 mean IoU (180 photos at 1000-2400 px) and other products
stayed as they were; see :data:`DROP` and the others for how each was chosen.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import ArrayLike

from .inputs import check_image, intensity_scale
from .objects import object_boxes
from .params import cell_size

__all__ = ["trim_shadows", "DROP", "STEEPEST", "HUE", "LIGHT", "DARKEST", "MOST", "RISE", "STRETCH"]

#: Least fall in brightness per pixel step inwards, in levels of 255, for a
#: step to count as shadow: a shadow's profile falls steadily, a product's
#: face is flat. A wide drop shadow falls by 1-2.5 levels a pixel; 2 (the
#: value before) left such shadows as a pale halo. 1 was chosen on the studio
#: benchmark's training photos (2, 1.5, 1 and 0.5 tried; see docs/studio.md).
DROP = 1.0
#: Largest fall per step, in levels of 255: a steeper one is a product's edge
#: (an enlarged product's soft edge falls 10-15 levels a pixel).
STEEPEST = 8.0
#: Largest difference of a shadow's colour from the paper's, in chromaticity
#: ((R - B) / L and (G - (R + B) / 2) / L, L the mean of R, G and B): for the
#: mean of a step of the profile, and twice it for each pixel given back.
HUE = 0.015
#: Least brightness of a shadow, as a share of the paper's: a shadow keeps at
#: least about half of the light.
LIGHT = 0.5
#: A shadow's darkest step is at least this many levels below the paper.
DARKEST = 4.0
#: Most of an object given back, as a share of its area: a shadow is a rim,
#: not the product. Where more would go, up to twice as much, only the steps
#: nearest the outline that together stay within it do (a wide halo that a
#: rough coarse mask took in is given back in part, not kept whole); where
#: more than twice as much would go, nothing does (what falls like a shadow
#: over that much of an object is its own shading).
MOST = 0.15
#: A pixel given back is at most this many levels brighter than the mean of
#: the step just outside its own: a shadow darkens inwards. Where an outline
#: runs slant to the product's edge, the deepest step of the shadow also holds
#: a few of the product's edge pixels, which are brighter.
RISE = 3.0
#: Length of a stretch of outline whose profile is read at once, in ``depth``.
STRETCH = 2


#: States of a pixel of the box before its step is known (steps lie within +-3 ``depth``).
_FREE_IN = np.int16(32767)  # object pixel not reached yet
_FREE_OUT = np.int16(32766)  # backdrop pixel not reached yet
_BLOCKED = np.int16(-32768)  # another object's pixel, or the one-pixel frame around the box


@numba.njit(cache=True, nogil=True, inline="always")
def _reach(steps, v, u, free, value, stretch, qy, qx, qs, tail):  # pragma: no cover - compiled
    """Give pixel ``(v, u)`` step ``value`` and queue it, if it is ``free``; the new queue length."""
    if steps[v, u] != free:
        return tail
    steps[v, u] = value
    qy[tail], qx[tail], qs[tail] = v, u, stretch
    return tail + 1


@numba.njit(cache=True, nogil=True)
def _shadow(photo, scale, labels, k, y0, y1, x0, x1, depth, side, drop, steepest, hue, light, darkest, most, rise):
    # pragma: no cover - compiled
    """Rows and columns of the pixels of object ``k`` that are its shadow (see the module)."""
    h, w, c = y1 - y0, x1 - x0, photo.shape[2]
    # 1. Signed steps from the outline between the object and the backdrop (-1, -2, ... inside,
    # 1, 2, ... outside), layer by layer, 8- and 4-connected in turn: octagonal distances, within
    # a few per cent of the Euclidean ones. Each pixel belongs to the stretch of outline (a square
    # of ``side`` px) of the outline pixel it grew from. ``steps`` holds the box with a frame of
    # one blocked pixel (no bounds to test); until a pixel is reached it holds its state.
    steps = np.empty((h + 2, w + 2), np.int16)
    steps[0, :] = _BLOCKED
    steps[h + 1, :] = _BLOCKED
    steps[:, 0] = _BLOCKED
    steps[:, w + 1] = _BLOCKED
    area = 0
    for y in range(h):
        for x in range(w):
            own = labels[y0 + y, x0 + x]
            if own == k:
                steps[y + 1, x + 1] = _FREE_IN
                area += 1
            else:
                steps[y + 1, x + 1] = _FREE_OUT if own == 0 else _BLOCKED
    size = h * w
    qy = np.empty(size, np.int32)  # rows and columns in ``steps``
    qx = np.empty(size, np.int32)
    qs = np.empty(size, np.int32)
    columns = (w + side - 1) // side
    tail = 0
    for y in range(1, h + 1):
        for x in range(1, w + 1):
            own = steps[y, x]
            if own == _BLOCKED:
                continue
            other = _FREE_OUT if own == _FREE_IN else _FREE_IN
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                v, u = y + dy, x + dx
                if steps[v, u] == other:
                    # An outside seed reads with the object pixel beside it, so that
                    # both sides of the outline fall in one stretch.
                    sy, sx = (y, x) if own == _FREE_IN else (v, u)
                    qy[tail], qx[tail], qs[tail] = y, x, ((sy - 1) // side) * columns + (sx - 1) // side
                    tail += 1
                    break
    for i in range(tail):
        steps[qy[i], qx[i]] = -1 if steps[qy[i], qx[i]] == _FREE_IN else 1
    head, layer = 0, 1
    while head < tail:
        end = tail
        diagonal = layer % 2 == 1
        layer += 1
        while head < end:
            y, x, stretch = qy[head], qx[head], qs[head]
            head += 1
            inside = steps[y, x] < 0
            if layer > (depth if inside else 2 * depth):
                continue
            free = _FREE_IN if inside else _FREE_OUT
            value = -layer if inside else layer
            # The neighbours in raster order (the order decides which stretch a pixel joins).
            if diagonal:
                tail = _reach(steps, y - 1, x - 1, free, value, stretch, qy, qx, qs, tail)
            tail = _reach(steps, y - 1, x, free, value, stretch, qy, qx, qs, tail)
            if diagonal:
                tail = _reach(steps, y - 1, x + 1, free, value, stretch, qy, qx, qs, tail)
            tail = _reach(steps, y, x - 1, free, value, stretch, qy, qx, qs, tail)
            tail = _reach(steps, y, x + 1, free, value, stretch, qy, qx, qs, tail)
            if diagonal:
                tail = _reach(steps, y + 1, x - 1, free, value, stretch, qy, qx, qs, tail)
            tail = _reach(steps, y + 1, x, free, value, stretch, qy, qx, qs, tail)
            if diagonal:
                tail = _reach(steps, y + 1, x + 1, free, value, stretch, qy, qx, qs, tail)
    # 2. Per stretch and step, the mean brightness and chromaticities; the paper's colour beyond depth.
    bins = 3 * depth + 1
    count = ((h + side - 1) // side) * columns
    n = np.zeros((count, bins), np.int64)
    sums = np.zeros((count, bins, 3), np.float64)
    paper = np.zeros(3, np.float64)
    papers = 0
    lum = np.empty(tail, np.float32)
    c1 = np.empty(tail, np.float32)
    c2 = np.empty(tail, np.float32)
    for i in range(tail):
        step = steps[qy[i], qx[i]]
        if 1 < step <= depth:  # read by no profile (only the first step outside is), nor the paper
            continue
        y, x = y0 + qy[i] - 1, x0 + qx[i] - 1
        r = photo[y, x, 0] * scale
        g = photo[y, x, min(1, c - 1)] * scale
        b = photo[y, x, min(2, c - 1)] * scale
        if step > depth:
            paper[0] += r
            paper[1] += g
            paper[2] += b
            papers += 1
            continue
        light_ = (r + g + b) / 3
        safe = max(light_, 1.0)
        lum[i], c1[i], c2[i] = light_, (r - b) / safe, (g - (r + b) / 2) / safe
        j = step + depth
        n[qs[i], j] += 1
        sums[qs[i], j, 0] += lum[i]
        sums[qs[i], j, 1] += c1[i]
        sums[qs[i], j, 2] += c2[i]
    if papers < 20:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    pr, pg, pb = paper[0] / papers, paper[1] / papers, paper[2] / papers
    paper_lum = (pr + pg + pb) / 3
    paper_c1 = (pr - pb) / max(paper_lum, 1.0)
    paper_c2 = (pg - (pr + pb) / 2) / max(paper_lum, 1.0)
    # 3. Per stretch, from the first step outside inwards while the profile falls as a shadow does.
    start = np.zeros(count, np.int32)  # give back inside steps >= start (0: none)
    edge = np.zeros(count, np.bool_)  # the walk stopped at a fall too steep for a shadow
    for s in range(count):
        cur, nxt, stop = depth + 1, depth - 1, 0
        while nxt >= 0 and n[s, nxt] >= 3 and n[s, cur] > 0:
            here = sums[s, cur, 0] / n[s, cur]
            there = sums[s, nxt, 0] / n[s, nxt]
            if there < here - steepest:
                edge[s] = True
                break
            if not (there <= here - drop and there >= light * paper_lum):
                break
            if abs(sums[s, nxt, 1] / n[s, nxt] - paper_c1) >= hue or abs(sums[s, nxt, 2] / n[s, nxt] - paper_c2) >= hue:
                break
            cur, nxt = nxt, nxt - 1
            stop = cur - depth
        if stop < 0 and sums[s, stop + depth, 0] / n[s, stop + depth] <= paper_lum - darkest:
            start[s] = stop
    if not (start < 0).any():  # no stretch found a shadow, nor can a pixel read one between them
        return np.empty(0, np.int64), np.empty(0, np.int64)
    # 4. The pixels given back: inside, from their start outwards, each of the paper's colour; no more
    # than ``most`` of the object, the steps nearest the outline first. A pixel's start is its stretch's,
    # or, unless that stretch ended at an edge, the deeper one read between the centres of the four
    # stretches around the pixel (bilinear, over those that hold some of the outline): where one
    # stretch finds a shadow and the next does not, the band given back tapers instead of ending square.
    give = np.zeros(tail, np.bool_)
    per_step = np.zeros(depth + 1, np.int64)
    rows = (h + side - 1) // side
    for i in range(tail):
        s = qs[i]
        step = steps[qy[i], qx[i]]
        outward = step + depth + 1 if step < -1 else depth + 1
        if step >= 0 or n[s, outward] == 0:
            continue
        first = start[s]
        if not edge[s]:
            fy, fx = (qy[i] - 1) / side - 0.5, (qx[i] - 1) / side - 0.5
            r0, c0 = int(np.floor(fy)), int(np.floor(fx))
            total, weights = 0.0, 0.0
            for r in (r0, r0 + 1):
                for q in (c0, c0 + 1):
                    if 0 <= r < rows and 0 <= q < columns and n[r * columns + q, depth - 1] > 0:
                        weight = (1 - abs(fy - r)) * (1 - abs(fx - q))
                        total += weight * start[r * columns + q]
                        weights += weight
            if weights > 0:
                first = min(first, -int(np.floor(0.5 - total / weights)))
        if (
            first < 0 and first <= step and lum[i] >= light * paper_lum
            and lum[i] <= sums[s, outward, 0] / n[s, outward] + rise
            and abs(c1[i] - paper_c1) < 2 * hue and abs(c2[i] - paper_c2) < 2 * hue
        ):
            give[i] = True
            per_step[-step] += 1
    deepest, given = 0, 0
    while deepest < depth and given + per_step[deepest + 1] <= most * area:
        deepest += 1
        given += per_step[deepest]
    if given == 0 or per_step.sum() > 2 * most * area:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    for i in range(tail):
        if give[i] and -steps[qy[i], qx[i]] > deepest:
            give[i] = False
    return qy[:tail][give] + (y0 - 1), qx[:tail][give] + (x0 - 1)


def trim_shadows(
    image: ArrayLike, labels: ArrayLike, depth: float = 0.5, *, within: tuple[slice, slice] | None = None
) -> np.ndarray:
    """Labels with the soft shadow along each object's outline given back to the backdrop.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) array_like
        The photo: uint8, uint16 or float in [0, 1].
    labels : (H, W) array_like of int
        Refined labels, 0 backdrop, 1..N objects. Only an outline between an
        object and the backdrop is read; objects may touch.
    depth : float, optional
        Deepest a shadow may reach inside an outline, in cells of the
        object's 28x28 grid (the longer side of its box / 28). 0 gives nothing
        back. Default 0.5.
    within : (slice, slice), optional
        A box outside which ``labels`` is known to be 0, so that only it is
        searched for objects. Default: the whole image.

    Returns
    -------
    (H, W) ndarray of int32
        ``labels`` with the shadow pixels set to 0: a new array where a shadow
        was given back, else ``labels`` itself (as int32: a copy only when it
        had another type).

    Examples
    --------
    >>> import numpy as np
    >>> photo = np.full((120, 120, 3), 240, np.uint8)
    >>> photo[30:90, 30:90] = 210                              # a light grey product
    >>> ramp = np.array([204, 210, 216, 222, 228, 234], np.uint8)  # its shadow, right of it
    >>> photo[30:90, 90:96] = ramp[None, :, None]
    >>> labels = np.zeros((120, 120), np.int32)
    >>> labels[30:90, 30:96] = 1                               # an outline on the shadow's rim
    >>> trimmed = trim_shadows(photo, labels, depth=3.0)
    >>> int(trimmed[60, 30:100].sum()), int(labels[60, 30:100].sum())
    (60, 66)
    """
    image = check_image(image)
    labels = np.asarray(labels)
    if labels.shape != image.shape[:2]:
        raise ValueError(f"labels {labels.shape} and photo {image.shape[:2]} must have the same size")
    if not depth >= 0:
        raise ValueError(f"depth must be >= 0 cells, got {depth}")
    ids = np.ascontiguousarray(labels, dtype=np.int32)
    if depth == 0:
        return ids
    photo = image[..., :3] if image.ndim == 3 else image[..., None]
    if photo.dtype == np.float16:
        photo = photo.astype(np.float32)
    scale = 255 / intensity_scale(photo.dtype)
    out = ids
    h, w = ids.shape
    for index, box in enumerate(object_boxes(ids, within)):
        if box is None:
            continue
        reach = int(round(depth * max(cell_size(box))))
        if reach < 2:
            continue
        pad = 2 * reach + 2
        y0, x0 = max(0, box[0].start - pad), max(0, box[1].start - pad)
        y1, x1 = min(h, box[0].stop + pad), min(w, box[1].stop + pad)
        rows, cols = _shadow(
            photo, scale, ids, index + 1, y0, y1, x0, x1, reach, max(2, STRETCH * reach),
            DROP, STEEPEST, HUE, LIGHT, DARKEST, MOST, RISE,
        )
        if rows.size:
            out = ids.copy() if out is ids else out
            out[rows, cols] = 0
    return out
