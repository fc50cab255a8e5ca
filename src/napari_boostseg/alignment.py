"""Move a misplaced coarse mask to where the photo's colours put the object.

A Mask R-CNN mask is a 28x28 grid stretched over the detected box. When the
box is off by a few per cent, or the head's threshold makes the mask a cell
too fat or too thin, the whole outline is off by one to three cells: further
than a narrow undecided band can reach, and a wide band lets the watershed
wander off to texture edges where the mask was right. The error is mostly a
shift, a box a little too tall or too wide, and a uniform growth or
shrinkage of the whole object, so it is estimated per object as just that:

1. colour models: beyond a wide band around the coarse outline, the sure
   object and sure background near the band give local colour statistics
   (a diagonal Gaussian per pixel, from Gaussian-weighted means and
   variances of the nearby sure pixels of each class);
2. evidence: in the wide band, the clipped log-likelihood ratio ``L`` of
   object over background colour;
3. search: over shifts of up to ``search`` cells and growths of up to
   ``MAX_GROWTH`` cells, then over changes of the box's height and width
   (``SCALES``) at the best shift, the moved mask ``M`` maximises
   ``sum(L[M])``;
4. gate: the move is kept only when it gains at least ``min_gain`` per band
   pixel over the mask as it was, and when the moved outline still lies on
   photo edges at least ``EDGE_KEEP`` times as strong (on average) as the
   coarse one. An accurate mask gains little that way, and where colours
   mislead, moving it would leave the photo's edges behind; a misplaced
   mask gains a lot and moves onto them.

All of it runs on blocks of about a quarter of a cell, as oblong as the
cells (the colour statistics on blocks of half a cell), so the cost follows
the number of cells, not the photo's resolution. The moved mask is then refined at full
resolution like any coarse mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy import ndimage as ndi

from .inputs import intensity_scale
from .markers import signed_distance
from .objects import object_boxes
from .params import DEFAULT_PARAMS, GRID_CELLS, cell_size
from .resample import bilinear_taps, block_mean, upsample

__all__ = ["Move", "align_objects", "largest_move"]

#: Half-width of the band where colour evidence is weighed, in cells.
EVIDENCE_BAND = 2.5
#: How far beyond that band sure pixels feed the colour models, in cells.
MODEL_REACH = 1.5
#: Reach of the local colour models (Gaussian sigma), in cells.
MODEL_SIGMA = 1.0
#: Variance floor of the colour models, in (intensity in [0, 1]) squared:
#: a flat patch must not make any other colour infinitely unlikely.
VARIANCE_FLOOR = 1e-3
#: Log-likelihood ratios are clipped to this many nats, so a few odd pixels
#: cannot outvote the band.
CLIP_NATS = 3.0
#: Largest growth or shrinkage tried, in cells.
MAX_GROWTH = 1.5
#: Step of the coarse search, in cells; a second pass tries half steps.
STEP = 0.5
#: Changes of the box's height and width tried (fractions, about its centre):
#: a detector's box is often a few per cent too tall or too wide.
SCALES = (-0.04, -0.02, 0.0, 0.02, 0.04)
#: A move must keep the outline on edges at least this strong, relative to
#: the mean edge strength along the coarse outline.
EDGE_KEEP = 0.75
#: Blocks per cell side for the whole estimate.
BLOCKS_PER_CELL = 4.0
#: Objects whose cells are at most this many pixels on their longer side (a
#: box of 28 pixels or less) are not moved: a cell is a pixel or less, so the
#: coarse outline is as exact as the photo allows, and the colours of so few
#: pixels mislead. On CCP training garments (every 16th photo of 0001-0800)
#: the moves of such instances lowered IoU: from oracle-28 masks a top of 18
#: px 1.00 -> 0.76, from jittered ones 5 instances -0.067 on average, from
#: harsh ones -0.094.
FINEST_CELL = 1.0


def largest_move(search: float) -> float:
    """Farthest, in cells, that alignment can move any point of an outline.

    The sum of the largest shift (``search``), growth and box change (each
    end of a 28-cell box moves by half the change), plus half a step of the
    fine search for the shift and for the growth, and a block of rounding.
    """
    return search + MAX_GROWTH + max(abs(s) for s in SCALES) * GRID_CELLS / 2 + STEP + 1 / BLOCKS_PER_CELL


@dataclass(frozen=True)
class Move:
    """How one object's coarse mask was moved.

    Attributes
    ----------
    label_id : int
    dy, dx : float
        Shift in pixels (down, right).
    growth : float
        Growth of the outline in cells (negative: shrinkage).
    gain : float
        Mean gain of clipped log-likelihood ratio per band pixel, in nats.
    edge_ratio : float
        Mean edge strength along the moved outline over that along the
        coarse one (NaN when not computed: the gain was too small).
    applied : bool
        Whether the move passed the gate and the mask was moved.
    scale_y, scale_x : float
        Relative change of the mask's height and width about its box's
        centre (0.05: 5 % taller or wider).
    """

    label_id: int
    dy: float
    dx: float
    growth: float
    gain: float
    edge_ratio: float
    applied: bool
    scale_y: float = 0.0
    scale_x: float = 0.0


def _shifted(values: np.ndarray, dy: int, dx: int, fill: float) -> np.ndarray:
    """``values`` moved by ``(dy, dx)`` pixels, ``fill`` where nothing moves in."""
    out = np.full(values.shape, fill, dtype=values.dtype)
    h, w = values.shape
    ys, ye = max(dy, 0), h + min(dy, 0)
    xs, xe = max(dx, 0), w + min(dx, 0)
    if ys < ye and xs < xe:
        out[ys:ye, xs:xe] = values[ys - dy : ye - dy, xs - dx : xe - dx]
    return out


def _colour_evidence(
    photo: np.ndarray, sure_object: np.ndarray, sure_background: np.ndarray, sigma: tuple[float, float]
) -> np.ndarray:
    """Log-likelihood ratio, object over background, under local Gaussian models.

    Parameters
    ----------
    photo : (h, w, C) ndarray of float32
    sure_object, sure_background : (h, w) ndarray of bool
        Pixels whose colours make each model.
    sigma : tuple of float
        Reach of the models in pixels (rows, columns).
    """
    coarse_sigma = (sigma[0] / 2, sigma[1] / 2)

    def blur(values: np.ndarray) -> np.ndarray:
        # A Gaussian of a whole cell keeps nothing finer than half a cell,
        # so it runs on blocks twice as coarse and is sampled back bilinearly
        # (as in softmask.blur_mask). Its default reach of 4 sigmas matters:
        # the band's middle lies 2.5 sigmas from the nearest model pixels.
        small = ndi.gaussian_filter(block_mean(values, 2), coarse_sigma, mode="nearest")
        return upsample(small, 2, values.shape)

    loglik = []
    for sure in (sure_object, sure_background):
        weight = sure.astype(np.float32)
        total = np.maximum(blur(weight), 1e-6)
        out = np.zeros(sure.shape, dtype=np.float32)
        for c in range(photo.shape[2]):
            channel = photo[..., c]
            mean = blur(weight * channel) / total
            square = blur(weight * channel * channel) / total
            var = np.maximum(square - mean * mean, 0) + np.float32(VARIANCE_FLOOR)
            out += (channel - mean) ** 2 / var + np.log(var)
        loglik.append(-0.5 * out)
    return loglik[0] - loglik[1]


def _outline_support(edges: np.ndarray, mask: np.ndarray) -> float:
    """Mean of ``edges`` over the outline (inner boundary pixels) of ``mask``."""
    outline = mask & ~ndi.binary_erosion(mask, border_value=1)
    return float(edges[outline].mean()) if outline.any() else 0.0


def _edge_ratio(photo: np.ndarray, signed: np.ndarray, moved: np.ndarray, growth: float) -> float:
    """Edge strength along the moved outline relative to the coarse outline.

    Computed on the block grid: a gradient of one block's scale still peaks
    where the photo's outline is, which is all the comparison needs.
    """
    edges = np.zeros(signed.shape, dtype=np.float32)
    for c in range(photo.shape[2]):
        edges += ndi.gaussian_gradient_magnitude(photo[..., c], 1.0, mode="nearest") ** 2
    before = _outline_support(edges, signed > 0)
    after = _outline_support(edges, moved > -growth)
    return after / before if before > 0 else np.inf


def _moved_signed(signed: np.ndarray, move: tuple, centre: tuple[float, float]) -> np.ndarray:
    """Signed distance of the moved mask on the block grid (bilinear; -1e3 off the grid).

    ``move`` is ``(dy, dx, scale_y, scale_x)``: the mask is scaled by
    ``1 + scale`` about ``centre`` and then shifted by ``(dy, dx)`` blocks.
    """
    dy, dx, scale_y, scale_x = move
    if scale_y == 0 and scale_x == 0:
        return _shifted(signed, int(dy), int(dx), -1e3)
    rows = centre[0] + (np.arange(signed.shape[0]) - dy - centre[0]) / (1 + scale_y)
    cols = centre[1] + (np.arange(signed.shape[1]) - dx - centre[1]) / (1 + scale_x)
    grid = np.meshgrid(rows, cols, indexing="ij")
    return ndi.map_coordinates(signed, grid, order=1, mode="constant", cval=-1e3).astype(np.float32)


def _best_move(
    evidence: np.ndarray,
    signed: np.ndarray,
    steps: tuple[int, int],
    reach: tuple[int, int],
    growths: np.ndarray,
    centre: tuple[float, float],
) -> tuple[float, tuple[int, int, float, float], float]:
    """Move and growth of the mask ``signed > 0`` that collect most evidence.

    The mask scaled by ``(1 + sy, 1 + sx)`` about ``centre``, shifted by
    ``(dy, dx)`` blocks and grown by ``g`` cells is ``moved(signed) > -g``.
    Only pixels with evidence count; a pixel with moved distance ``d`` lies
    in every mask with ``g > -d``, so one weighted histogram over the
    growths (evenly spaced, ascending) scores them all at once. Shifts are
    searched first, then scales at the best shift, then half steps.

    Returns
    -------
    score, (dy, dx, scale_y, scale_x), growth
    """
    rows, cols = np.nonzero(evidence)
    values = evidence[rows, cols].astype(np.float64)
    table = np.ascontiguousarray(signed, dtype=np.float32)

    def best_of(moves: list[tuple], grow: np.ndarray, best: tuple) -> tuple:
        scores = _move_scores(
            table, rows, cols, values, np.array(moves, dtype=np.float64), centre[0], centre[1],
            np.float32(grow[0]), np.float32(grow[1] - grow[0]), grow.size,
        )
        for move, row in zip(moves, scores):
            i = int(np.argmax(row))
            if row[i] > best[0]:
                best = (float(row[i]), move, float(grow[i]))
        return best

    ny, nx = reach[0] // steps[0], reach[1] // steps[1]
    shifts = [
        (dy, dx, 0.0, 0.0)
        for dy in range(-ny * steps[0], ny * steps[0] + 1, steps[0])
        for dx in range(-nx * steps[1], nx * steps[1] + 1, steps[1])
    ]
    best = best_of(shifts, growths, (-np.inf, (0, 0, 0.0, 0.0), 0.0))
    by, bx = best[1][:2]
    scaled = [(by, bx, sy, sx) for sy in SCALES for sx in SCALES if (sy, sx) != (0.0, 0.0)]
    if scaled:
        best = best_of(scaled, growths, best)
    # Refine by half steps around the best move.
    _, (by, bx, sy, sx), bg = best
    half = (max(steps[0] // 2, 1), max(steps[1] // 2, 1))
    near = [(dy, dx, sy, sx) for dy in (by - half[0], by, by + half[0]) for dx in (bx - half[1], bx, bx + half[1])]
    return best_of(near, np.array([bg - STEP / 2, bg, bg + STEP / 2]), best)


@numba.njit(cache=True, nogil=True)
def _move_scores(signed, rows, cols, values, moves, centre_y, centre_x, grow0, step, n):  # pragma: no cover - compiled
    """Evidence collected by each moved mask at each of ``n`` growths.

    Row ``s`` is for move ``moves[s] = (dy, dx, scale_y, scale_x)``: the mask
    at block ``p`` is the coarse one at the block nearest to ``p`` moved
    back. Column ``g`` is for growth ``grow0 + g * step``. A pixel of moved
    signed distance ``d`` lies in every mask with ``g > -d``: one histogram
    over the first such growth, summed cumulatively, scores them all.
    """
    h, w = signed.shape
    out = np.empty((moves.shape[0], n), np.float64)
    histogram = np.empty(n + 1, np.float64)
    outside = np.float32(-1e3)
    for s in range(moves.shape[0]):
        dy, dx = moves[s, 0], moves[s, 1]
        ky, kx = 1.0 / (1.0 + moves[s, 2]), 1.0 / (1.0 + moves[s, 3])
        histogram[:] = 0.0
        for p in range(rows.shape[0]):
            r = int(np.floor(centre_y + (rows[p] - dy - centre_y) * ky + 0.5))
            c = int(np.floor(centre_x + (cols[p] - dx - centre_x) * kx + 0.5))
            d = signed[r, c] if 0 <= r < h and 0 <= c < w else outside
            first = int(np.floor((-d - grow0) / step)) + 1
            histogram[min(max(first, 0), n)] += values[p]
        total = 0.0
        for g in range(n):
            total += histogram[g]
            out[s, g] = total
    return out


def align_objects(
    image: np.ndarray,
    labels: np.ndarray,
    search: float = DEFAULT_PARAMS.align,
    min_gain: float = DEFAULT_PARAMS.align_gain,
    boxes=None,
) -> tuple[np.ndarray, list[Move]]:
    """Shift and grow each object's coarse mask to fit the photo's colours.

    Parameters
    ----------
    image : (H, W) or (H, W, C) ndarray
        Photo, any dtype :func:`napari_boostseg.inputs.image_to_float` takes.
    labels : (H, W) ndarray of int
        Coarse labels, 0 background, 1..N objects.
    search : float, optional
        Largest shift tried along each axis, in cells of the object's 28x28
        grid. 0 turns alignment off. Default ``RefineParams().align`` (2.0).
    boxes : list of (slice, slice) or None, optional
        ``scipy.ndimage.find_objects(labels)`` when the caller has it already.
    min_gain : float, optional
        A move is applied only when it raises the clipped colour
        log-likelihood ratio by at least this much per band pixel, in nats.
        Default ``RefineParams().align_gain`` (0.08).

    Returns
    -------
    labels : (H, W) ndarray of int32
        Labels with the moved objects; an object grows only into background.
        When nothing moves, the input itself (as int32) is returned.
    moves : list of Move
        One per object searched.
    """
    labels = np.asarray(labels, dtype=np.int32)
    out = labels
    moves: list[Move] = []
    if not search > 0:
        return out, moves
    h, w = labels.shape
    for index, box in enumerate(object_boxes(labels) if boxes is None else boxes):
        if box is None:
            continue
        label_id = index + 1
        sy, sx = box
        cell_y, cell_x = cell_size((sy, sx))
        if max(cell_y, cell_x) <= FINEST_CELL:
            continue  # a grid finer than the pixels: its outline is as exact as the photo
        # Blocks as oblong as the cells, so the work follows the number of cells.
        fy = max(1, int(cell_y / BLOCKS_PER_CELL))
        fx = max(1, int(cell_x / BLOCKS_PER_CELL))
        if (sy.stop - sy.start) < 4 * fy or (sx.stop - sx.start) < 4 * fx:
            continue
        # Room for the evidence band, the models' reach and their blur.
        margin = EVIDENCE_BAND + MODEL_REACH + 2 * MODEL_SIGMA
        y1, y2 = max(sy.start - int(margin * cell_y), 0), min(sy.stop + int(margin * cell_y), h)
        x1, x2 = max(sx.start - int(margin * cell_x), 0), min(sx.stop + int(margin * cell_x), w)
        window = (slice(y1, y2), slice(x1, x2))
        # Average the raw channels block by block and scale afterwards: no
        # float copy of the full-resolution window.
        raw = image[window] if image.ndim == 3 else image[window][..., None]
        photo = block_mean(raw[..., :3], (fy, fx))  # alpha does not count
        photo *= np.float32(1 / intensity_scale(image.dtype))
        inside = block_mean(labels[window] == label_id, (fy, fx)) >= 0.5
        signed = signed_distance(inside, (fy / cell_y, fx / cell_x))  # in cells
        depth = np.abs(signed)
        band = depth <= EVIDENCE_BAND
        model = ~band & (depth <= EVIDENCE_BAND + MODEL_REACH)
        if not (model & inside).any() or not (model & ~inside).any():
            continue
        evidence = _colour_evidence(
            photo, model & inside, model & ~inside, (MODEL_SIGMA * cell_y / fy, MODEL_SIGMA * cell_x / fx)
        )
        evidence = np.clip(evidence, -CLIP_NATS, CLIP_NATS) * band
        steps = (max(1, round(STEP * cell_y / fy)), max(1, round(STEP * cell_x / fx)))
        reach = (round(search * cell_y / fy), round(search * cell_x / fx))
        growths = np.arange(-MAX_GROWTH, MAX_GROWTH + STEP / 2, STEP)
        # The box's centre in block coordinates (block i is centred on pixel i f + (f - 1) / 2).
        centre = (
            ((sy.start + sy.stop - 1) / 2 - y1 - (fy - 1) / 2) / fy,
            ((sx.start + sx.stop - 1) / 2 - x1 - (fx - 1) / 2) / fx,
        )
        score, move, growth = _best_move(evidence, signed, steps, reach, growths, centre)
        dy, dx, scale_y, scale_x = move
        stay = float(evidence[signed > 0].sum())
        gain = (score - stay) / max(int(band.sum()), 1)
        applied = gain >= min_gain and (move, growth) != ((0, 0, 0.0, 0.0), 0.0)
        moved = _moved_signed(signed, move, centre) if applied else None
        ratio = _edge_ratio(photo, signed, moved, growth) if applied else float("nan")
        applied = applied and ratio >= EDGE_KEEP
        moves.append(Move(label_id, dy * fy, dx * fx, growth, gain, ratio, applied, scale_y, scale_x))
        if not applied:
            continue
        # The moved outline only needs the accuracy of a block: the
        # watershed snaps it to the photo afterwards.
        level = np.ascontiguousarray(moved, dtype=np.float32)
        taps = bilinear_taps(level.shape, (fy, fx), (y2 - y1, x2 - x1))
        if out is labels:  # the first move: from here on, a copy
            out = labels.copy()
        whole_pixels = growth == 0 and scale_y == 0 and scale_x == 0
        _apply_move(
            labels[window], out[window], label_id, int(dy * fy), int(dx * fx), float(growth), whole_pixels,
            level, *taps,
        )
    return out, moves


@numba.njit(cache=True, nogil=True)
def _apply_move(
    labels, out, label_id, shift_y, shift_x, growth, whole_pixels, level, y0, y1, fy, x0, x1, fx
):  # pragma: no cover - compiled
    """Move object ``label_id`` of ``labels`` into ``out`` (same window), one pass.

    A plain shift (``whole_pixels``) moves the mask by whole pixels;
    otherwise the mask is the moved signed distance ``level`` (block grid,
    read back bilinearly) above ``-growth``. The object leaves the pixels it
    no longer covers and takes only background.
    """
    h, w = labels.shape
    one = np.float32(1)
    row = np.empty(level.shape[1], np.float32)
    for i in range(h):
        if not whole_pixels:
            for j in range(level.shape[1]):
                row[j] = level[y0[i], j] * (one - fy[i]) + level[y1[i], j] * fy[i]
        for k in range(w):
            if whole_pixels:
                si, sk = i - shift_y, k - shift_x
                moved = 0 <= si < h and 0 <= sk < w and labels[si, sk] == label_id
            else:
                moved = row[x0[k]] * (one - fx[k]) + row[x1[k]] * fx[k] > -growth
            if labels[i, k] == label_id and not moved:
                out[i, k] = 0
            elif moved and out[i, k] == 0:
                out[i, k] = label_id
