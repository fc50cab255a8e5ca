"""Make whole the products that a backdrop model found only in part.

A white shirt on white paper departs from the backdrop only along its folds
and seams, so the backdrop model finds it as a few fragments (a collar, a
cuff, a shaded fold) and gives the rest to the paper. A detector trained on
studio photos still sees the whole shirt. :func:`complete_by_detections`
takes the detections that the backdrop's regions cover only in part: each
becomes one object, its mask together with the regions that lie mostly
inside it and the small pieces of its outline beside it. A detection that
the backdrop found almost entirely (nearly every product) changes nothing,
and one on bare paper (found not at all) adds nothing: the backdrop model
sees no product there. A detection that the backdrop found, but as separate
regions, joins them into one product. Where the fragments the backdrop found
run into a product found whole beside it (a white shirt touching a dark
jacket: one region), the detection takes back the part of that region
inside its mask that is not the neighbour's, when its colours differ.
Where the backdrop found nothing at all (a white product on white paper in a
small photo may depart nowhere from the paper by its measure), each sure
detection is a product.

Examples
--------
>>> import numpy as np
>>> labels = np.zeros((100, 100), np.int32)
>>> labels[20:30, 20:80], labels[70:80, 20:80] = 1, 2     # a shirt's hem and yoke
>>> masks = np.zeros((1, 100, 100), bool)
>>> masks[0, 18:82, 18:82] = True                        # the model sees the shirt
>>> out, completed = complete_by_detections(labels, masks, np.array([0.9]), ["top"])
>>> int(out.max()), completed, bool(out[50, 50] == 1)
(1, 1, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.color import rgb2lab
from skimage.segmentation import relabel_sequential

from .inputs import check_detections, intensity_scale

__all__ = ["CompleteParams", "complete_by_detections"]


@dataclass(frozen=True)
class CompleteParams:
    """When :func:`complete_by_detections` lets a detection complete a product.

    Chosen on the studio benchmark's training photos (see README): of 220,
    4 change (white products on white paper, 0.27-0.86 -> 0.53-0.97 refined
    IoU) and none is lower; 0.6 for ``max_found`` and 0.8 for ``hold`` also
    keep a detection that reaches beyond its product onto the paper from
    adding that paper (seen at 0.72 and 0.74 found, and at 0.55 found with 73 %
    of the region inside, on drawn test scenes). "person" detections were
    left out at first; let in, they changed 1 of 284 training photos at 1000
    and 1400 px (a white dress in two fragments, which the model saw as a
    person of 0.89: coarse IoU 0.20 -> 0.89) and no other. ``max_piece`` and
    ``reach`` come from 188 training photos at 1000 px: within 3 px of the
    products they completed lay two pieces of those products (0.8 and 2.2 %
    of them, a third inside the detection, so left apart by ``hold``) and
    nothing else.

    Attributes
    ----------
    min_score : float
        Least score of a detection that may complete a product. Default 0.5
        (but see ``take_score``).
    max_found : float
        A detection whose pixels the regions cover by this share or more was
        found by the backdrop: it changes nothing. Default 0.6.
    min_found : float
        A detection whose pixels the regions cover by less than this share lies
        on bare paper: it adds nothing. Default 0.005: a white coat on light
        grey paper at 1000 px, found by the backdrop as one speck of 1 % of it
        (the smallest product the backdrop keeps), was lost at 0.05; at 0.005
        it is whole (coarse IoU 0.007 -> 0.891), and no other of 650 studio
        photos of unseen training seeds at 1000, 1400 and 2400 px changed, nor
        any development photo. Where the mask itself holds less, the regions
        within a cell of it (``slack``) count: the backdrop kept of white
        trousers on white paper only a speck along the hem, just outside the
        mask (coarse IoU 0.002 -> 0.92; the one change on 670 training photos
        of unseen seeds at 1000-2400 px). Where the regions are none at all,
        the sure detections are the products (see Returns).
    hold : float
        Least share of a region's pixels inside the detection for the region to
        join the completed product (a fragment lies inside the product it
        belongs to; the 28x28 mask is coarse). Default 0.8.
    max_overlap : float
        Two detections that overlap by more than this share of the smaller one
        are one product seen twice: the lower-scoring one is dropped, unless the
        better one completed nothing (it sees a part of a product found in
        part, and the other may see all of it). Default 0.3. That exception
        changed none of the 1,055 training photos above, and found one more
        product of 199 on 80 more training photos of light products touching
        on light paper (and none of 80 of other touching products); it was
        first seen on a development photo (a white shirt whose best detection
        held 77 % of a better one that saw only a part of it).
    min_joined : float
        Least share of the found pixels inside the detection that belong to the
        joining regions: a detection of a part of a product found whole (its
        sleeve) completes nothing. Default 0.9.
    max_piece : float
        A region that touches a completed product (within ``reach``) and is at
        most this share of it is a piece of its outline that the coarse mask
        left out: it joins the product. Default 0.05.
    reach : float
        How near a piece must come, as a share of the photo's long side.
        Default 0.003 (3 px at 1000 px).
    slack : float
        How far outside the detection's mask a region may reach and still lie
        inside it (``hold``), as a share of the longer side of the mask's box:
        the mask comes from a 28x28 grid, and its outline may be a cell off.
        Default 1/28. With none, a black coat on black paper found as 13
        fragments stayed 13 objects (2 of them reached a cell beyond the
        mask, so the fragments inside made up under ``min_joined`` of the
        found pixels); of the studio benchmark's training photos, 216 at
        1000 px and 216 at 1400 px, it changed that one only (coarse IoU 0.04
        -> 0.91 and 0.02 -> 0.90, one object).
    min_colour : float
        A detection found only in part takes back its fragments from a region
        that also holds a product found whole beside it (the part of the region
        inside the detection's mask and outside the masks of the neighbour's
        detections: sure ones, found by the backdrop, overlapping it by no more
        than ``max_overlap``) when their mean colour lies at least this far
        from the rest of the region, in CIELAB units; ``np.inf`` never. It
        needs the photo (``image``). Default 13, the colour step by which
        :class:`~napari_boostseg.split.DetectionSplitParams` tells two products
        apart. On the studio benchmark's 1,055 training photos (unseen seeds,
        1000-2400 px) it found 4 more touching products of 2,038 (white or
        light products touching a darker one; coarse IoU 0.15-0.60 -> 0.41-0.88
        per photo) and changed no other photo; the pieces it would take from
        three light products alone on light paper (beside a detection of part
        of each) lay 2.0-4.5 units from the rest of them, those of the white
        products 17.8-41.4.
    take_score : float
        Least score of a detection that may take back its fragments from a
        neighbour's region (``min_colour``); one below ``min_score`` does
        nothing else (it joins no regions of its own, and drops no other
        detection). Default 0.3, the least score the product model is asked
        for (as in :class:`~napari_boostseg.split.DetectionSplitParams`). On
        340 studio training photos of unseen seeds (1000-2400 px, 200 of them
        of touching products) it found one more product of 732 (a grey and
        white jacket touching a white lace wrap on white paper, seen by
        detections under 0.5 only: coarse IoU 0.275 -> 0.507, and the wrap's
        0.629 -> 0.775; 3 objects for 2 products) and changed no other photo;
        on 1,215 others, one more of 2,426, one photo's coarse IoU 0.831 ->
        0.847, nothing lower.
    join_apart : bool
        Also join the regions that a detection the backdrop found (``max_found``
        or more) holds together (``hold``, ``min_joined``), when they are
        separate backdrop regions (a product whose faint middle the backdrop
        left out) and no other detection, of any score, holds some of them
        alone. Default True. On 270 studio photos of seeds the product model
        never saw, it changed three, each to one object per product: a set (7
        objects for 6 products -> 6, refined IoU 0.907 -> 0.910), a dark
        product on black (3 objects -> 1, 0.501 -> 0.663) and a thin one (2 ->
        1, 0.985 -> 0.994); none of 380 more at 1000 and at 1400 px. Other
        detections first counted from ``min_score`` on; at 1400 px that joined
        two products of a development set, which a detection of 0.50 saw
        apart, so every detection counts now (the training photos unchanged).
        Regions whose mean colours lie within ``min_colour`` of each other
        (CIELAB; with ``image``) join even so, as the parts of one product
        seen by two detections do in the split: on 670 training photos of
        unseen seeds (1000-2400 px) that joined four single products, each
        found as two regions that lower detections saw apart (4.3-7.0 units
        apart: trousers with a cord 0.548 -> 0.973 coarse IoU, 2 -> 1
        objects; three others 2 -> 1 objects, +0.005 to +0.028), and nothing
        else; the two products of that development set lie 79.4 apart.
    """

    min_score: float = 0.5
    max_found: float = 0.6
    min_found: float = 0.005
    hold: float = 0.8
    max_overlap: float = 0.3
    min_joined: float = 0.9
    max_piece: float = 0.05
    reach: float = 0.003
    slack: float = 1 / 28
    min_colour: float = 13.0
    take_score: float = 0.3
    join_apart: bool = True


def _widened(box: tuple[slice, ...], r: int) -> tuple[slice, ...]:
    """``box`` with a margin of ``r`` pixels (clipped at 0; slicing clips the far end)."""
    return tuple(slice(max(0, b.start - r), b.stop + r) for b in box)


def _grown(mask: np.ndarray, share: float) -> np.ndarray:
    """``mask`` grown by a square of ``share`` of its box's longer side."""
    box = ndi.find_objects(mask.view(np.uint8))[0]
    r = round(share * max(b.stop - b.start for b in box))
    if r < 1:
        return mask
    box = _widened(box, r)
    out = np.zeros_like(mask)
    out[box] = ndi.maximum_filter(mask[box].view(np.uint8), 2 * r + 1, mode="constant").view(bool)
    return out


def _join_pieces(out: np.ndarray, product: int, max_piece: float, reach: int) -> None:
    """Give ``product`` (in place) the small regions within ``reach`` pixels of it."""
    box = _widened(ndi.find_objects(out, max_label=product)[product - 1], reach)
    view = out[box]
    mine = view == product
    near = ndi.binary_dilation(mine, iterations=reach) & ~mine
    pieces = np.unique(view[near])
    pieces = pieces[pieces > 0]
    if not pieces.size:
        return
    area = np.bincount(out.ravel(), minlength=int(pieces.max()) + 1)
    small = pieces[area[pieces] <= max_piece * area[product]]
    out[np.isin(out, small)] = product  # whole regions, also where they leave the box


def _mean_lab(image: np.ndarray, where: np.ndarray, most: int = 20_000) -> np.ndarray:
    """Mean CIELAB colour of ``image`` over ``where`` (at most ``most`` pixels, evenly taken)."""
    rows, cols = np.nonzero(where)
    step = max(1, rows.size // most)
    rgb = image[rows[::step], cols[::step]]
    rgb = np.repeat(rgb[:, None], 3, axis=1) if rgb.ndim == 1 else rgb[:, :3]
    rgb = np.clip(rgb.astype(np.float32) / np.float32(intensity_scale(image.dtype)), 0, 1)
    return rgb2lab(rgb[None])[0].mean(axis=0)


def _taken_beside(
    out: np.ndarray, k: int, masks: np.ndarray, scores: np.ndarray, image: np.ndarray, params: CompleteParams
) -> np.ndarray | None:
    """The pixels detection ``k`` takes back from regions it shares with products found whole beside it.

    A neighbour is another detection of ``min_score`` or more that the
    regions cover by ``max_found`` or more and that overlaps ``k`` by no more
    than ``max_overlap`` of the smaller. From each region that ``k`` does not
    hold (``hold``) and that reaches into a neighbour's mask outside ``k``,
    the part inside ``k`` and outside every neighbour is taken when its mean
    colour is ``min_colour`` or more from the region's part outside ``k``.
    None when nothing is taken.
    """
    mask = masks[k]
    size = int(mask.sum())
    neighbours = np.zeros_like(mask)
    for j in range(len(masks)):
        other = masks[j]
        n = int(other.sum())
        if j == k or scores[j] < params.min_score or n == 0 or np.count_nonzero(out[other]) < params.max_found * n:
            continue
        if (other & mask).sum() <= params.max_overlap * min(n, size):
            neighbours |= other
    if not neighbours.any():
        return None
    taken = np.zeros_like(mask)
    for region_id in np.unique(out[mask]):
        if region_id == 0:
            continue
        region = out == region_id
        inside = region & mask
        if inside.sum() >= params.hold * region.sum() or not (region & neighbours & ~mask).any():
            continue
        part = inside & ~neighbours
        if not part.any():
            continue
        if np.linalg.norm(_mean_lab(image, part) - _mean_lab(image, region & ~mask)) >= params.min_colour:
            taken |= part
    return taken if taken.any() else None


def _held(
    out: np.ndarray, mask: np.ndarray, area: np.ndarray, params: CompleteParams, *, all_found: bool = False
) -> np.ndarray:
    """The regions lying inside ``mask`` (``hold``, with ``slack``), or none when they make up less
    than ``min_joined`` of the found pixels there (those belong to products found whole) and
    ``all_found`` is False."""
    held = np.bincount(out[_grown(mask, params.slack)], minlength=area.size)
    joins = np.flatnonzero(held >= params.hold * area)
    joins = joins[joins > 0]
    if not all_found and held[joins].sum() < params.min_joined * held[1:].sum():
        return joins[:0]
    return joins


def _alike(out: np.ndarray, ids: np.ndarray, image: np.ndarray | None, params: CompleteParams) -> bool:
    """Whether the regions ``ids`` have mean colours within ``min_colour`` of each other (False without
    the photo)."""
    if image is None:
        return False
    colours = [_mean_lab(image, out == i) for i in ids]
    return max(float(np.linalg.norm(a - b)) for a in colours for b in colours) < params.min_colour


def _join_apart(
    out: np.ndarray,
    origin: np.ndarray,
    masks: np.ndarray,
    taken: list[tuple[int, int]],
    done: list[int],
    params: CompleteParams,
    image: np.ndarray | None = None,
) -> list[int]:
    """Join (in place) the regions that one detection holds together as one product.

    Only regions of different backdrop regions (``origin``) join, never the
    parts of a region that a split made, nor the products in ``done``; and
    not when another detection, of any score, holds some of them without the
    others (the model sees them apart too), unless their mean colours lie
    within ``min_colour`` of each other in ``image`` (one product's parts).
    Returns the ids of the joined products.
    """
    origin_of = np.zeros(int(out.max()) + 1, np.int64)
    origin_of[out.ravel()] = np.asarray(origin).ravel()
    area = np.maximum(np.bincount(out.ravel(), minlength=origin_of.size), 1)
    joined: list[int] = []
    for k, size in taken:
        if np.count_nonzero(out[masks[k]]) < params.max_found * size:
            continue  # found only in part: completed above, or not a product
        joins = _held(out, masks[k], area, params)
        if joins.size < 2 or np.isin(joins, done + joined).any() or np.unique(origin_of[joins]).size < joins.size:
            continue

        def sees_apart(other: np.ndarray) -> bool:
            inside = np.bincount(out[other], minlength=area.size)[joins] >= params.hold * area[joins]
            return bool(inside.any() and not inside.all())

        if any(sees_apart(masks[j]) for j in range(len(masks)) if j != k) and not _alike(out, joins, image, params):
            continue
        out[np.isin(out, joins)] = joins[0]
        area = np.maximum(np.bincount(out.ravel(), minlength=area.size), 1)
        joined.append(int(joins[0]))
    return joined


def _seen_before(mask: np.ndarray, size: int, masks: np.ndarray, taken, params: CompleteParams) -> bool:
    """Whether ``mask`` overlaps a detection of ``taken`` (index, size) by more than ``max_overlap`` of
    the smaller: one product seen twice."""
    return any((mask & masks[j]).sum() > params.max_overlap * min(size, n) for j, n in taken)


def _on_bare_paper(masks: np.ndarray, scores: np.ndarray, params: CompleteParams) -> np.ndarray:
    """One product per sure detection (``min_score``), best first, leaving out one that overlaps a
    product taken before by more than ``max_overlap`` of the smaller (a part seen apart)."""
    out = np.zeros(masks.shape[1:], np.int32)
    taken: list[tuple[int, int]] = []
    for k in np.argsort(-scores, kind="stable"):
        size = int(masks[k].sum())
        if scores[k] < params.min_score or size == 0:
            continue
        if _seen_before(masks[k], size, masks, taken, params):
            continue
        taken.append((int(k), size))
        out[masks[k] & (out == 0)] = len(taken)
    return out


def complete_by_detections(
    labels: np.ndarray,
    masks: np.ndarray,
    scores: np.ndarray,
    class_names,
    params: CompleteParams | None = None,
    *,
    origin: np.ndarray | None = None,
    image: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Labels where each product that the regions hold only in part is one whole object.

    Parameters
    ----------
    labels : (H, W) ndarray of int
        0 backdrop, 1..N regions of product pixels (from
        :func:`napari_boostseg.backdrop.backdrop_labels`, perhaps split by
        :func:`napari_boostseg.split.split_by_detections`).
    masks : (K, H, W) ndarray of bool
        A detector's masks at the photo's size.
    scores : (K,) array of float
        Their scores.
    class_names : sequence of str
        Their classes, for the people reading the result: a detection of any
        class completes. A garment on a ghost mannequin is at times seen as a
        "person"; a person standing on the backdrop is found whole by it, so
        that detection changes nothing.
    params : CompleteParams, optional
    origin : (H, W) ndarray of int, optional
        The backdrop's regions before they were split (``labels`` before
        :func:`~napari_boostseg.split.split_by_detections`): parts of one
        region are never joined again. Default ``labels``.
    image : (H, W) or (H, W, C) ndarray, optional
        The photo: with it, a product found in part also takes back its
        fragments from a region of a product found whole beside it
        (``min_colour``). Default None: it does not.

    Returns
    -------
    labels : (H, W) ndarray of int32
        0 backdrop, 1..M products, in the order of the input ids; a completed
        product takes the place of the first region it joined. Where
        ``labels`` holds no region at all, each detection of ``min_score`` or
        more is a product, best first, but one that overlaps a better one by
        more than ``max_overlap`` of the smaller.
    completed : int
        How many products were completed (or found on bare paper).
    """
    params = params or CompleteParams()
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D, got shape {labels.shape}")
    masks, scores = check_detections(labels.shape, masks, scores, class_names)
    out = labels.astype(np.int32, copy=True)
    if out.min(initial=0) < 0:
        raise ValueError("labels must be >= 0 (0 backdrop, 1..N regions)")
    if not out.any():
        # Nothing departs from the paper, yet the model sees products there.
        out = _on_bare_paper(masks, scores, params)
        return out, int(out.max())
    grown: list[int] = []  # the ids of the completed products
    seen: list[tuple[int, int]] = []  # the detections taken: their indices and sizes
    area = np.maximum(np.bincount(out.ravel()), 1)  # each region's pixels; changes only when one is completed
    for k in np.argsort(-scores, kind="stable"):
        if scores[k] < min(params.min_score, params.take_score):
            continue
        low = scores[k] < params.min_score  # it may only take back its fragments from a neighbour's region
        mask = masks[k]
        size = int(mask.sum())
        if size == 0 or _seen_before(mask, size, masks, seen, params):
            continue
        found = np.count_nonzero(out[mask]) / size
        if found < params.min_found:
            # Bare paper, unless the regions found reach the share within a cell of the mask: the
            # backdrop may keep of a white product on white paper only a speck along its outline.
            found = np.count_nonzero(out[_grown(mask, params.slack)]) / size
        if not params.min_found <= found < params.max_found:
            if not low:
                seen.append((int(k), size))  # a product found whole, or none: it stands for what it sees
            continue
        taken = None if image is None else _taken_beside(out, int(k), masks, scores, image, params)
        if low and taken is None:
            continue
        # With pixels taken back from a neighbour's region, the found pixels it leaves are the neighbour's.
        joins = _held(out, mask, area, params, all_found=taken is not None)
        if not joins.size and taken is None:
            # Nothing inside, or the pixels found there belong to products found whole (a detected
            # sleeve). It completes nothing, so it does not keep a detection overlapping it, which
            # may see more of the product, from completing it.
            continue
        seen.append((int(k), size))
        # The completed product takes the id of the first region it joins (a new id if it joins none).
        product = int(joins[0]) if joins.size else int(out.max()) + 1
        into = (mask & (out == 0)) | np.isin(out, joins)
        if taken is not None:
            into |= taken
        out[into] = product
        area = np.maximum(np.bincount(out.ravel(), minlength=area.size), 1)
        grown.append(product)
    if params.join_apart:
        grown += _join_apart(out, labels if origin is None else origin, masks, seen, grown, params, image)
    for product in grown:
        _join_pieces(out, product, params.max_piece, max(1, round(params.reach * max(out.shape))))
    if grown:
        out = relabel_sequential(out)[0].astype(np.int32, copy=False)  # ids 1..M again, in order
    return out, len(grown)
