"""Refine coarse object masks to the photo's edges, at full resolution.

The whole method in one call, :func:`refine`, built from one function per
step:

1. :func:`~napari_boostseg.alignment.align_objects` moves an object's
   coarse mask when the photo's colours clearly say it is misplaced (a
   detector's box off by a few per cent, a mask a cell too fat or thin);
2. :func:`~napari_boostseg.softmask.blur_mask` and
   :func:`~napari_boostseg.softmask.apply_soft_mask` dim each object's
   interior;
3. :func:`~napari_boostseg.markers.band_geometry` marks sure object, sure
   background and the undecided band along each coarse outline, keeping the
   middle of thin parts sure;
4. :func:`~napari_boostseg.edges.gradient_magnitude` and
   :func:`~napari_boostseg.edges.edge_map` make the elevation;
5. :func:`~napari_boostseg.flood.flood` runs the watershed in the band;
6. :func:`~napari_boostseg.shadows.trim_shadows` gives back to the backdrop
   a soft shadow that an outline took in.

Without intermediates, steps 2 and 4 are computed only in the box around
the band, and the watershed only touches the band.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi

from .alignment import align_objects, largest_move
from .edges import edge_map, gradient_in_band, gradient_magnitude
from .flood import flood, flood_markers
from .inputs import as_label_image, check_image, compact_ids, image_to_float
from .markers import UNDECIDED, BandGeometry, _band_geometry, labels_from_markers
from .objects import object_boxes
from .params import GRID_CELLS, RefineParams, cell_size
from .safety import ObjectReport, core_kept, outline_supports
from .shadows import trim_shadows
from .softmask import apply_soft_mask, blur_block, blur_mask

__all__ = ["ObjectReport", "RefineParams", "Refinement", "refine", "refine_with_report", "reflood", "soft_sigma_pixels"]


@dataclass(frozen=True)
class Refinement:
    """Result of :func:`refine` with every intermediate, for display and re-flooding.

    Attributes
    ----------
    labels : (H, W) ndarray of int32
        Refined labels, 0 background, same ids as the coarse input.
    coarse : (H, W) ndarray of int32
        The coarse labels the refinement started from.
    soft_mask : (H, W) ndarray of float32
        Blurred coarse mask in [0, 1].
    soft_masked : ndarray
        The photo dimmed by the soft mask, same shape and dtype as the photo.
    edges : (H, W) ndarray of float32
        Elevation the watershed floods (full image).
    markers : (H, W) ndarray of int32
        0 undecided, 1 background, ``k + 1`` object ``k``.
    params : RefineParams
    aligned : (H, W) ndarray of int32 or None
        The coarse labels after alignment, which the band follows; the same
        as ``coarse`` where no object was moved. None: not recorded.
    objects : tuple of ObjectReport
        What the refinement made of each object (moved, fallback); around
        objects that fell back, and around the soft shadow an outline gave
        back to the backdrop (:mod:`napari_boostseg.shadows`), the band is
        decided in ``markers``, so a re-flood keeps them.
        Empty: not recorded.
    """

    labels: np.ndarray
    coarse: np.ndarray
    soft_mask: np.ndarray
    soft_masked: np.ndarray
    edges: np.ndarray
    markers: np.ndarray
    params: RefineParams = field(default_factory=RefineParams)
    aligned: np.ndarray | None = None
    objects: tuple[ObjectReport, ...] = ()


def soft_sigma_pixels(labels: np.ndarray, soft_sigma: float, boxes=None) -> float:
    """Soft-mask blur in pixels: ``soft_sigma`` cells of the objects' mean cell side.

    ``boxes`` is ``scipy.ndimage.find_objects(labels)`` when the caller has it.
    """
    sides = [
        ((s[0].stop - s[0].start) + (s[1].stop - s[1].start)) / (2 * GRID_CELLS)
        for s in (object_boxes(labels) if boxes is None else boxes)
        if s is not None
    ]
    return max(float(np.mean(sides)) * soft_sigma, 1.0) if sides else 1.0


def _padded(box: tuple[int, int, int, int], pad: int, shape) -> tuple[slice, slice]:
    y1, x1, y2, x2 = box
    return (
        slice(max(y1 - pad, 0), min(y2 + pad, shape[0])),
        slice(max(x1 - pad, 0), min(x2 + pad, shape[1])),
    )


def _elevation(
    image: np.ndarray,
    geometry: BandGeometry,
    params: RefineParams,
    window: tuple[slice, slice],
    soft: np.ndarray,
    everywhere: bool,
) -> np.ndarray:
    """Edge map over ``window`` (``soft``: the soft mask over the same window).

    With ``everywhere`` False the gradient is computed only near the band,
    which is all the watershed needs; the napari layer shows it everywhere.
    """
    photo = image[window]
    gain = 1 - np.float32(params.soft_strength) * soft

    def softly_masked(crop: tuple[slice, slice]) -> np.ndarray:
        out = image_to_float(photo[crop])
        if params.soft_strength > 0:
            out *= gain[crop][..., None]
        return out

    undecided = geometry.markers[window] == UNDECIDED
    if params.edge_sigma == 0:  # Sobel is cheap everywhere
        gradient = gradient_magnitude(softly_masked((slice(None), slice(None))), params.edge_sigma)
    else:
        # The napari layer shows the gradient everywhere; the flood needs it near the band.
        where = np.ones(undecided.shape, bool) if everywhere else undecided
        gradient = gradient_in_band(
            photo, where, params.edge_sigma, gain=gain if params.soft_strength > 0 else None
        )
    return edge_map(
        gradient,
        geometry.closeness[window],
        undecided,
        prior=params.prior,
        percentile=params.edge_percentile,
        out=gradient,  # the gradient is ours and not needed beyond this
    )


def _grown(box: tuple[slice, slice], cells: float, pixels: int, shape) -> tuple[int, int, int, int]:
    """``box`` grown by ``cells`` of the object's grid plus ``pixels``, clipped: (y1, x1, y2, x2)."""
    sy, sx = box
    cell_y, cell_x = cell_size((sy, sx))
    grow_y = int(np.ceil(cells * cell_y)) + pixels
    grow_x = int(np.ceil(cells * cell_x)) + pixels
    return (
        max(sy.start - grow_y, 0),
        max(sx.start - grow_x, 0),
        min(sy.stop + grow_y, shape[0]),
        min(sx.stop + grow_x, shape[1]),
    )


def _pulls(moved, params: RefineParams) -> dict[int, float]:
    """Closeness factors of the moved objects (ids ``moved``): their ``moved_prior`` over ``prior``."""
    if not moved or not params.prior > 0:
        return {}
    pull = min(params.moved_prior / params.prior, 1.0)
    return {label_id: pull for label_id in moved}


def _boxes_after_moves(guide: np.ndarray, boxes: list, moved, search: float) -> list:
    """Boxes of the objects once alignment moved some: only near the moved ones is looked at."""
    boxes = list(boxes)
    for label_id in moved:
        y1, x1, y2, x2 = _grown(boxes[label_id - 1], largest_move(search), 2, guide.shape)
        inside = guide[y1:y2, x1:x2] == label_id
        rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
        boxes[label_id - 1] = (
            (slice(y1 + rows[0], y1 + rows[-1] + 1), slice(x1 + cols[0], x1 + cols[-1] + 1))
            if rows.size
            else None
        )
    return boxes


@dataclass
class _Flooded:
    """Labels of one flood and the edge map it flooded, for the checks.

    The normalised edge strength is the edge map less ``prior`` times the
    closeness to the outline, known where the closeness is positive (the band).
    """

    labels: np.ndarray
    edges: np.ndarray  # over ``window`` (full-image coordinates)
    closeness: np.ndarray  # the same
    prior: float
    window: tuple[slice, slice]
    crop: tuple[slice, slice]  # ``labels`` is 0 outside it (full-image coordinates)


def _refined_labels(
    image: np.ndarray,
    guide: np.ndarray,
    boxes: list,
    bands: dict[int, float],
    sigma: float,
    params: RefineParams,
    band: float | None = None,
    moved=None,
) -> _Flooded:
    """Labels alone, every step computed on the crop around the objects.

    Beyond the objects' bands everything is background, so the markers, the
    soft mask and the flood only need the crop around them: the cost follows
    the objects, not the photo. The crop gives the very labels the whole
    image would: it holds every band, the filters' reach around it and one
    soft-mask block more, and starts on the soft-mask blocks' grid.
    ``band`` replaces ``params.band``. ``bands`` gives some objects their own
    band; those of ``moved`` (default: all of them) pull with ``moved_prior``.
    """
    band = params.band if band is None else band
    shape = guide.shape
    labels = np.zeros(shape, dtype=np.int32)
    none = np.zeros((0, 0), np.float32)
    empty = (slice(0, 0), slice(0, 0))
    nothing = _Flooded(labels, none, none, params.prior, empty, empty)
    # Filters need context beyond the band: the Gaussian's reach.
    reach = int(4 * params.edge_sigma) + 2
    f = blur_block(sigma)
    grown = [
        _grown(box, bands.get(index + 1, band), 1 + reach + f + 1, shape)
        for index, box in enumerate(boxes)
        if box is not None
    ]
    if not grown:
        return nothing
    y1, x1 = min(g[0] for g in grown) // f * f, min(g[1] for g in grown) // f * f
    y2, x2 = max(g[2] for g in grown), max(g[3] for g in grown)
    crop = (slice(y1, y2), slice(x1, x2))
    local = [
        None if b is None else (slice(b[0].start - y1, b[0].stop - y1), slice(b[1].start - x1, b[1].stop - x1))
        for b in boxes
    ]
    part = guide[crop]
    pulls = _pulls(bands if moved is None else moved, params)
    geometry = _band_geometry(part, band, params.ridge, bands, local, pulls)
    markers = geometry.markers
    flooded = _Flooded(labels, none, none, params.prior, empty, crop)
    if geometry.box != (0, 0, 0, 0):
        window = _padded(geometry.box, reach, part.shape)
        soft = blur_mask(part > 0, sigma, window)
        edges = _elevation(image[crop], geometry, params, window, soft, everywhere=False)
        closeness = geometry.closeness[window]
        del geometry, soft
        # The markers are ours alone here: fill them in place, no copy.
        flood_markers(edges, markers[window], in_place=True)
        whole = (
            slice(window[0].start + y1, window[0].stop + y1),
            slice(window[1].start + x1, window[1].stop + x1),
        )
        flooded = _Flooded(labels, edges, closeness, params.prior, whole, crop)
    markers -= 1
    np.maximum(markers, 0, out=labels[crop])
    return flooded


def _union(a: tuple[slice, slice] | None, b: tuple[slice, slice] | None) -> tuple[slice, slice] | None:
    if a is None or b is None:
        return a or b
    return (
        slice(min(a[0].start, b[0].start), max(a[0].stop, b[0].stop)),
        slice(min(a[1].start, b[1].start), max(a[1].stop, b[1].stop)),
    )


def _measures(
    flooded: _Flooded,
    win: tuple[slice, slice],
    coarse: np.ndarray,
    refined: np.ndarray,
    label_id: int,
    cells,
    params,
    *others: np.ndarray,
):
    """Core kept, refined and coarse outline support of object ``label_id`` over ``win``.

    ``coarse`` and ``refined`` are the full label images; the outline
    support of each label image of ``others`` follows, on the same edges.
    """
    kept = core_kept(coarse[win], refined[win], cells, params.core_depth, label_id)
    fw = flooded.window
    ys = slice(max(win[0].start, fw[0].start), min(win[0].stop, fw[0].stop))
    xs = slice(max(win[1].start, fw[1].start), min(win[1].stop, fw[1].stop))
    if ys.start >= ys.stop or xs.start >= xs.stop:
        return (kept, float("nan"), float("nan"), *[float("nan")] * len(others))
    src = (slice(ys.start - fw[0].start, ys.stop - fw[0].start), slice(xs.start - fw[1].start, xs.stop - fw[1].start))
    edges, closeness = flooded.edges[src], flooded.closeness[src]
    supports = outline_supports(
        edges, [image[ys, xs] for image in (refined, coarse, *others)], label_id, closeness, flooded.prior
    )
    return (kept, *supports)


def _passes(
    kept: float, refined_support: float, coarse_support: float, params: RefineParams, moved: bool = False
) -> bool:
    # NaN support (no outline in the band) is no evidence either way.
    least = params.confirm_move if moved else params.min_support
    weak = refined_support < least * coarse_support
    return kept >= params.min_core and not weak


def _keep_within(out: np.ndarray, win: tuple[slice, slice], label_id: int, box: tuple[slice, slice]) -> None:
    """Give back to the background the pixels of object ``label_id`` (over ``box``) outside ``win``.

    A small object's flood can run on through a neighbour's wider band, far
    beyond its own: what lies beyond its window (its widest band and a cell)
    is not its own, and a fallback, which replaces the object in its window
    only, would leave it behind.
    """
    if (
        box[0].start >= win[0].start
        and box[0].stop <= win[0].stop
        and box[1].start >= win[1].start
        and box[1].stop <= win[1].stop
    ):
        return
    view = out[box]
    stray = view == label_id
    rows = slice(max(win[0].start - box[0].start, 0), max(win[0].stop - box[0].start, 0))
    cols = slice(max(win[1].start - box[1].start, 0), max(win[1].stop - box[1].start, 0))
    stray[rows, cols] = False
    view[stray] = 0


def _put(out: np.ndarray, win: tuple[slice, slice], label_id: int, mask: np.ndarray, coarse: np.ndarray) -> None:
    """Replace object ``label_id`` of ``out`` over ``win`` by ``mask``.

    It takes free pixels and those of its coarse mask (``coarse``: the full
    coarse labels): a neighbour whose refinement spread into them while
    this object was moved, or refined in a band it failed in, gives them back.
    """
    view = out[win]
    view[view == label_id] = 0
    view[mask & ((view == 0) | (coarse[win] == label_id))] = label_id


#: A move by alignment is kept only when the moved outline lies on photo
#: edges at least this strong, relative to the coarse outline (mean normalised
#: edge strength, on the moved object's edge map). An accurate mask moved
#: towards a shadow left a clear edge for a weaker one (0.73 times as strong
#: on CCP training photo 0065, the one moved oracle-28 clothing mask of
#: 0001-0800 step 4); jittered person masks whose moves gained IoU had 0.80
#: to 3.3 (every 16th training photo).
MOVED_OUTLINE_EDGE = 0.75
#: ... unless the refined outline itself lies on edges at least this many
#: times as strong as the coarse outline: the move is then confirmed by the
#: result beyond doubt, even where the guide's own outline was weak. On CCP
#: training photos (every 4th of 0001-0800; person and clothing, oracle-28,
#: jittered and harsh masks), thin objects (seeds 0-199) and the studio
#: benchmark's training photos, the three moves the veto rightly undid had
#: refined outlines 1.48 to 1.64 times as strong as the coarse one (photo
#: 0065 above: 0.549 / 0.335); the two it wrongly undid, 3.2 and 6.3 times
#: (thin object seed 181, jittered: 0.868 / 0.137, IoU 0.674 instead of 0.998).
CONFIRMED_MOVE = 2.5
#: A kept move whose refined outline lies on edges weaker than this (mean
#: normalised edge strength) is refined again unmoved, in its own band, and
#: the unmoved result replaces it where it passes the checks and lies on edges
#: at least as strong. On a light garment with a large white print on white
#: paper (studio benchmark, training seed 1900285) the white parts of the
#: print meet the paper without an edge: alignment moved an accurate mask,
#: the moved band's flood took them for paper, and the result, on edges of
#: 0.66, kept 0.714 IoU of 0.967; unmoved it lay on edges of 0.67. On 34
#: training photos of light products on light paper, oracle-28 masks went
#: from 0.971 to 0.978 (coarse 0.974), the worst from -0.253 to -0.049 below
#: its coarse mask; CCP training people and clothing (every 8th photo) and
#: thin objects (seeds 0-119) did not change; training garments (every 16th)
#: oracle-28 0.9669 -> 0.9678, jittered 0.8780 -> 0.8774 and harsh 0.8542 ->
#: 0.8533 (3 and 5 jittered instances whose unmoved outline lay on edges as
#: strong were better moved). Asking the unmoved outline for edges 1.2 times
#: as strong missed the printed garment. Only such moves cost a second flood.
DOUBTED_MOVE = 0.75


def _widest(params: RefineParams) -> float:
    """The widest band any object may get, in cells."""
    return max(params.band, params.moved_band, params.wide_band)


def _touches_another(labels: np.ndarray, label_id: int) -> bool:
    """Whether object ``label_id`` of ``labels`` touches another object (within 2 pixels)."""
    others = (labels > 0) & (labels != label_id)
    if not others.any():
        return False
    return bool((ndi.binary_dilation(labels == label_id, iterations=2) & others).any())


def _widen(image, coarse, guide, boxes, moved, sigma, params: RefineParams, out, reports, windows) -> None:
    """Refine again, in a band ``wide_band`` cells wide, each unmoved object whose outline lies on no clear edge.

    A detector's mask that misses a part by more than the band (a coat's
    edge, a boot) is not a shifted one, so alignment leaves it where it is.
    The objects near it flood again with it, in their own bands, so the
    wider band cannot spill across a neighbour's outline. The wider result
    replaces the first where it keeps the core and its outline lies on
    edges ``confirm_move`` times as strong as the first one's.
    """
    ids = [
        k for k, r in reports.items()
        if k in windows and not r.moved and not r.fallback
        and r.support < params.keep_edge and windows[k][2] < params.keep_edge
        and not _touches_another(guide[windows[k][0]], k)
    ]
    if not ids:
        return
    near = set(ids)
    for k in ids:
        win = windows[k][0]
        near.update(int(v) for v in np.unique(guide[win]) if v)
    again = np.where(np.isin(guide, sorted(near)), guide, 0)
    again_boxes = [box if index + 1 in near else None for index, box in enumerate(boxes)]
    bands = {k: band for k, band in moved.items() if k in near} | dict.fromkeys(ids, params.wide_band)
    flooded = _refined_labels(image, again, again_boxes, bands, sigma, params, moved=[k for k in moved if k in near])
    for k in ids:
        win, cells, _ = windows[k]
        kept, support, coarse_support = _measures(flooded, win, coarse, flooded.labels, k, cells, params)
        if _passes(kept, support, coarse_support, params) and support >= params.confirm_move * reports[k].support:
            _put(out, win, k, flooded.labels[win] == k, coarse)
            reports[k] = ObjectReport(k, False, "", kept, support, widened=True)


def _unmoved_tries(image, coarse, coarse_boxes, tries: dict, sigma, params: RefineParams, band: float) -> list:
    """Refine the objects of ``tries`` (id -> (window, cells)) again from their unmoved coarse masks.

    They flood together, in a band ``band`` cells wide. Returns, per object,
    ``(id, window, mask over the window, core kept, outline support, passes
    the checks)``.
    """
    again = np.zeros(coarse.shape, np.int32)
    again_boxes: list = [None] * len(coarse_boxes)
    for k, (win, _) in tries.items():
        again[win][coarse[win] == k] = k
        again_boxes[k - 1] = coarse_boxes[k - 1]
    flooded = _refined_labels(image, again, again_boxes, {}, sigma, params, band=band)
    out = []
    for k, (win, cells) in tries.items():
        kept, support, coarse_support = _measures(flooded, win, coarse, flooded.labels, k, cells, params)
        out.append((k, win, flooded.labels[win] == k, kept, support, _passes(kept, support, coarse_support, params)))
    return out


def _weigh_doubtful_moves(image, coarse, coarse_boxes, sigma, params: RefineParams, out, reports, windows) -> None:
    """Refine each kept move on weak edges (under :data:`DOUBTED_MOVE`) again unmoved; keep the stronger.

    The unmoved result, in the plain band around the coarse mask, replaces
    the moved one where it passes the checks and its outline lies on edges at
    least as strong: colours that mislead alignment (white print on white
    paper) move an accurate mask onto texture edges only as strong as its own.
    """
    doubtful = {
        k: windows[k][:2]
        for k, r in reports.items()
        if r.moved and not r.fallback and k in windows and r.support < DOUBTED_MOVE
    }
    if not doubtful:
        return
    for k, win, mask, kept, support, passes in _unmoved_tries(
        image, coarse, coarse_boxes, doubtful, sigma, params, params.band
    ):
        if passes and support >= reports[k].support:
            _put(out, win, k, mask, coarse)
            reports[k] = ObjectReport(k, False, "unmoved", kept, support)


def _checked(
    image: np.ndarray,
    coarse: np.ndarray,
    guide: np.ndarray,
    coarse_boxes: list,
    boxes: list,
    moved: dict[int, float],
    sigma: float,
    params: RefineParams,
    first: _Flooded,
) -> tuple[np.ndarray, tuple[ObjectReport, ...], tuple[slice, slice] | None]:
    """Check each refined object of ``first`` and fall back where it fails (see :func:`refine`).

    Returns the labels, the reports and a box outside which the labels are 0
    (``first``'s crop and the windows that fallbacks may write to).
    """
    out = first.labels
    shape = coarse.shape
    reports: dict[int, ObjectReport] = {}
    failed: dict[int, tuple] = {}
    windows: dict[int, tuple] = {}  # objects refined in the first flood: (window, cells, coarse support)
    widest = _widest(params)
    reached = object_boxes(out, first.crop)
    region = first.crop if first.crop[0].stop != 0 else None
    for index, box in enumerate(_union(a, b) for a, b in zip(coarse_boxes, boxes)):
        if box is None or coarse_boxes[index] is None:
            continue
        label_id = index + 1
        y1, x1, y2, x2 = _grown(box, widest + 1, 2, shape)
        win = (slice(y1, y2), slice(x1, x2))
        region = _union(region, win)
        if index < len(reached) and reached[index] is not None:
            _keep_within(out, win, label_id, reached[index])
        cells = cell_size(coarse_boxes[index])
        if label_id in moved:
            kept, support, coarse_support, moved_support = _measures(
                first, win, coarse, out, label_id, cells, params, guide
            )
        else:
            kept, support, coarse_support = _measures(first, win, coarse, out, label_id, cells, params)
            moved_support = float("nan")
        passes = _passes(kept, support, coarse_support, params, label_id in moved)
        # A move that leaves a coarse outline on clearer photo edges than the
        # moved one has is not confirmed, unless the result lies on far clearer ones.
        if (
            passes
            and label_id in moved
            and moved_support < MOVED_OUTLINE_EDGE * coarse_support
            and not support >= CONFIRMED_MOVE * coarse_support
        ):
            passes = False
        small = max(cells) <= params.small_cell
        if not passes and not small:
            failed[label_id] = (win, cells)
            continue
        right = label_id not in moved and coarse_support >= params.keep_edge and coarse_support >= support
        if small and not (passes and label_id in moved):
            # The grid is as fine as the pixels: the coarse mask is as exact as the photo allows.
            _put(out, win, label_id, coarse[win] == label_id, coarse)
            reports[label_id] = ObjectReport(label_id, False, "small", 1.0, coarse_support)
        elif right:  # the coarse outline already lies on the photo's edges: keep it
            _put(out, win, label_id, coarse[win] == label_id, coarse)
            reports[label_id] = ObjectReport(label_id, False, "edge", 1.0, coarse_support)
        else:
            reports[label_id] = ObjectReport(label_id, label_id in moved, "", kept, support)
            windows[label_id] = (win, cells, coarse_support)
    if params.wide_band > params.band:
        _widen(image, coarse, guide, boxes, moved, sigma, params, out, reports, windows)
    _weigh_doubtful_moves(image, coarse, coarse_boxes, sigma, params, out, reports, windows)
    for stage, band in (("unmoved", params.band), ("narrow", params.band / 2)):
        tries = {k: failed[k] for k in failed if stage != "unmoved" or k in moved}
        if not tries:
            continue
        for k, win, mask, kept, support, passes in _unmoved_tries(
            image, coarse, coarse_boxes, tries, sigma, params, band
        ):
            if passes:
                _put(out, win, k, mask, coarse)
                reports[k] = ObjectReport(k, False, stage, kept, support)
                del failed[k]
    for k, (win, _) in failed.items():
        _put(out, win, k, coarse[win] == k, coarse)
        reports[k] = ObjectReport(k, False, "coarse", 1.0, float("nan"))
    return out, tuple(reports[k] for k in sorted(reports)), region


def _frozen(markers: np.ndarray, labels: np.ndarray, coarse: np.ndarray, ids, params: RefineParams) -> None:
    """Make the markers around each object of ``ids`` (one that fell back, was widened or gave a
    shadow back) say its labels, so a re-flood keeps it."""
    widest = _widest(params)
    for label_id in ids:
        boxes = [(object_boxes((image == label_id).astype(np.int32)) or [None])[0] for image in (coarse, labels)]
        box = _union(*boxes)
        if box is None:
            continue
        y1, x1, y2, x2 = _grown(box, widest + 1, 2, markers.shape)
        markers[y1:y2, x1:x2] = labels[y1:y2, x1:x2] + 1


def _frozen_near(markers: np.ndarray, labels: np.ndarray, before: np.ndarray, params: RefineParams) -> None:
    """Make the markers within the widest band (in each object's own cells) of the pixels that
    ``labels`` gave back from ``before`` (a shadow) say ``labels``, so a re-flood keeps the
    shadow with the backdrop (the product's faint edge would let the backdrop flood in again)
    and leaves the rest of each outline's band open."""
    owners = np.where(labels != before, before, 0)
    objects = object_boxes(before)
    h, w = markers.shape
    for k, (ys, xs) in ((k, box) for k, box in enumerate(object_boxes(owners), start=1) if box is not None):
        reach_y, reach_x = (int(np.ceil(_widest(params) * c)) + 2 for c in cell_size(objects[k - 1]))
        y1, y2 = max(ys.start - reach_y, 0), min(ys.stop + reach_y, h)
        x1, x2 = max(xs.start - reach_x, 0), min(xs.stop + reach_x, w)
        near = ndi.maximum_filter(owners[y1:y2, x1:x2] == k, size=(2 * reach_y + 1, 2 * reach_x + 1))
        markers[y1:y2, x1:x2][near] = labels[y1:y2, x1:x2][near] + 1


def _refine(image, coarse, params: RefineParams, return_intermediates: bool):
    params = params or RefineParams()
    image = check_image(image)
    labels = as_label_image(coarse, image.shape)
    compact, original = compact_ids(labels)
    if original is not None:  # large sparse ids: refine 1..N, hand back the ids given
        result = _refine(image, compact, params, return_intermediates)
        if return_intermediates:
            return _with_ids(result, original, labels)
        fixed, reports = result
        reports = tuple(replace(r, label_id=int(original[r.label_id])) for r in reports)
        return _with_ids(fixed, original, labels), reports
    # Everything after alignment works from the moved masks, ``guide``.
    coarse_boxes = object_boxes(labels)
    guide, moves = align_objects(image, labels, params.align, params.align_gain, coarse_boxes)
    wide = max(params.band, params.moved_band)
    moved = {move.label_id: wide for move in moves if move.applied}
    boxes = _boxes_after_moves(guide, coarse_boxes, moved, params.align) if moved else coarse_boxes
    sigma = soft_sigma_pixels(guide, params.soft_sigma, boxes)
    checks = params.min_core > 0 or params.min_support > 0 or params.keep_edge <= 1
    if not return_intermediates:
        first = _refined_labels(image, guide, boxes, moved, sigma, params)
        refined, reports, region = (
            _checked(image, labels, guide, coarse_boxes, boxes, moved, sigma, params, first) if checks
            else (first.labels, (), first.crop)
        )
        return trim_shadows(image, refined, params.shadow_depth, within=region), reports
    geometry = _band_geometry(guide, params.band, params.ridge, moved, boxes, _pulls(moved, params))
    shape = labels.shape
    full = (slice(0, shape[0]), slice(0, shape[1]))
    soft = blur_mask(guide > 0, sigma)
    edges = _elevation(image, geometry, params, full, soft, everywhere=True)
    markers = geometry.markers
    refined = flood(edges, markers)
    reports: tuple[ObjectReport, ...] = ()
    if checks:
        first = _Flooded(refined, edges, geometry.closeness, params.prior, full, full)
        refined, reports, _ = _checked(image, labels, guide, coarse_boxes, boxes, moved, sigma, params, first)
        markers = markers.copy()
        _frozen(markers, refined, labels, [r.label_id for r in reports if r.fallback or r.widened], params)
    trimmed = trim_shadows(image, refined, params.shadow_depth)
    if trimmed is not refined:  # a re-flood keeps the shadow with the backdrop
        markers = markers.copy() if markers is geometry.markers else markers
        _frozen_near(markers, trimmed, refined, params)
    refined = trimmed
    return Refinement(
        labels=refined,
        coarse=labels,
        aligned=guide,
        soft_mask=soft,
        soft_masked=apply_soft_mask(image, soft, params.soft_strength),
        edges=edges,
        markers=markers,
        params=params,
        objects=reports,
    )


def refine(
    image: ArrayLike,
    coarse: ArrayLike,
    params: RefineParams | None = None,
    *,
    return_intermediates: bool = False,
) -> np.ndarray | Refinement:
    """Snap coarse object masks to the photo's edges, at full resolution.

    Each refined object is checked (see :mod:`napari_boostseg.safety`): one
    that kept too little of its coarse mask's core, or whose outline lies
    on much weaker photo edges than the coarse one, falls back to a safer
    choice (the unmoved coarse mask in its band, a band half as wide, the
    coarse mask); a move confirmed only on weak edges gives way to the
    unmoved band's result where that lies on edges as strong; an unmoved
    coarse outline already on clear photo edges is kept as it is, and an
    unmoved object touching no other whose refined
    outline lies on no clear edge is tried again in a wider band
    (``wide_band``), kept where that finds clearly stronger edges. Last, a
    soft shadow that an outline took in along the backdrop goes back to it
    (``shadow_depth``, :func:`~napari_boostseg.shadows.trim_shadows`).
    :func:`refine_with_report` and the ``objects`` of a :class:`Refinement`
    say which objects fell back or were widened.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) array_like
        Photo: grayscale, RGB or RGBA; uint8, uint16 or float in [0, 1].
    coarse : (H, W) array_like of bool or int
        Coarse mask (one object) or instance label image: 0 background,
        1..N objects. Objects may touch.
    params : RefineParams, optional
        Parameters; default ``RefineParams()``.
    return_intermediates : bool, optional
        Also compute the full-size soft mask, softly masked photo and edge
        map and return a :class:`Refinement`. Default False (faster).

    Returns
    -------
    (H, W) ndarray of int32, or Refinement
        Refined labels with the coarse ids; all zero when ``coarse`` is empty.

    Raises
    ------
    ValueError
        If the photo or the mask has the wrong shape or type.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((64, 64), np.uint8); image[16:48, 16:48] = 200
    >>> coarse = np.zeros((64, 64), bool); coarse[18:46, 17:47] = True
    >>> labels = refine(image, coarse)
    >>> labels.shape, labels.dtype.name
    ((64, 64), 'int32')
    >>> int(np.count_nonzero(labels[16:48, 16:48])) >= 1000, int(np.count_nonzero(labels[:16]))
    (True, 0)
    """
    if return_intermediates:
        return _refine(image, coarse, params, True)
    return _refine(image, coarse, params, False)[0]


def refine_with_report(
    image: ArrayLike, coarse: ArrayLike, params: RefineParams | None = None
) -> tuple[np.ndarray, tuple[ObjectReport, ...]]:
    """:func:`refine`, and what it made of each object.

    Returns
    -------
    labels : (H, W) ndarray of int32
        As :func:`refine` returns them.
    objects : tuple of ObjectReport
        One per object of ``coarse``, by label id: whether alignment moved
        it, and which safer choice it fell back to, if any (objects that
        fell back are worth a look). Empty when every check is turned off.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((64, 64), np.uint8); image[16:48, 16:48] = 200
    >>> coarse = np.zeros((64, 64), bool); coarse[18:46, 17:47] = True
    >>> labels, objects = refine_with_report(image, coarse)
    >>> [(o.label_id, o.moved, o.fallback) for o in objects]  # moved onto the square, no fallback
    [(1, True, '')]
    """
    return _refine(image, coarse, params, False)


def _with_ids(result: np.ndarray | Refinement, original: np.ndarray, coarse: np.ndarray):
    """``result`` of compact ids 1..N with the ids ``original[k]`` they stand for."""
    if isinstance(result, np.ndarray):
        return original[result]
    markers = result.markers.copy()
    objects = markers > 1  # k + 1 marks object k
    markers[objects] = original[markers[objects] - 1] + 1
    return replace(
        result,
        labels=original[result.labels],
        coarse=coarse,
        aligned=None if result.aligned is None else original[result.aligned],
        markers=markers,
        objects=tuple(replace(r, label_id=int(original[r.label_id])) for r in result.objects),
    )


def reflood(
    refinement: Refinement,
    markers: ArrayLike,
    *,
    previous_markers: np.ndarray | None = None,
    previous_labels: np.ndarray | None = None,
) -> np.ndarray:
    """Labels from edited markers, reusing the cached edge map.

    Parameters
    ----------
    refinement : Refinement
        Result of ``refine(..., return_intermediates=True)``.
    markers : (H, W) array_like of int
        Edited markers (0 undecided, 1 background, ``k + 1`` object ``k``).
    previous_markers, previous_labels : (H, W) ndarray, optional
        The markers before this edit and the labels they gave. With both,
        only a window around the changed markers is flooded again (grown by
        twice the widest band, so the flood there sees the same
        neighbourhood) and the rest of ``previous_labels`` is kept: an
        interactive edit then costs in proportion to the stroke, not the
        image. Without them the whole band is flooded.

    Returns
    -------
    (H, W) ndarray of int32
    """
    markers = np.asarray(markers)
    if previous_markers is None or previous_labels is None:
        return flood(refinement.edges, markers)
    if previous_markers.shape != markers.shape or previous_labels.shape != markers.shape:
        raise ValueError("previous markers and labels must have the markers' shape")
    changed = markers != previous_markers
    if not changed.any():
        return previous_labels.copy()
    rows = np.flatnonzero(changed.any(axis=1))
    cols = np.flatnonzero(changed.any(axis=0))
    margin = _widest_band_pixels(refinement)
    h, w = markers.shape
    y1, y2 = max(rows[0] - margin, 0), min(rows[-1] + 1 + margin, h)
    x1, x2 = max(cols[0] - margin, 0), min(cols[-1] + 1 + margin, w)
    window = (slice(y1, y2), slice(x1, x2))
    local = markers[window].astype(np.int32, copy=True)
    # Undecided pixels on the window's rim keep their current label: they
    # seed the flood inside as the unchanged outside would.
    rim = np.zeros(local.shape, dtype=bool)
    rim[[0, -1], :] = True
    rim[:, [0, -1]] = True
    rim &= local == UNDECIDED
    local[rim] = previous_labels[window][rim] + 1
    out = previous_labels.copy()
    flooded = flood_markers(refinement.edges[window], local, in_place=True)  # ``local`` is ours
    out[window] = labels_from_markers(flooded, in_place=True)
    return out


def _widest_band_pixels(refinement: Refinement) -> int:
    """Twice the widest undecided band of the refinement, in pixels."""
    params = refinement.params
    # Objects that alignment moved have the wider of the two bands.
    band = max(params.band, params.moved_band) if params.align > 0 else params.band
    sides = [
        max(s[0].stop - s[0].start, s[1].stop - s[1].start)
        for s in object_boxes(compact_ids(refinement.coarse)[0])
        if s is not None
    ]
    cell = max(sides, default=GRID_CELLS) / GRID_CELLS
    return int(np.ceil(2 * band * cell)) + 2
