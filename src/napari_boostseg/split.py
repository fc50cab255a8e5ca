"""Split a region that holds several touching products into one region each.

Products laid out side by side on a studio backdrop often touch or overlap a
little, and a backdrop model then sees one region for two or three of them.
Two touching products almost always differ somewhere along their contact, in
colour or texture, and they meet along a line that is short beside their
size. :func:`split_touching` looks for such a line in each region:

1. **Superpixels.** The region is cut into small patches (about ``spacing``
   pixels across) by a watershed on the photo's colour gradient, so patch
   borders follow the photo's edges.
2. **Graph.** Neighbouring patches are linked by the length of their common
   border, weighted down by how much their colours (CIELAB means) differ.
3. **Normalised cut.** The second eigenvector of the graph's normalised
   Laplacian orders the patches; the threshold along it with the lowest
   normalised cut (Shi and Malik, 2000) gives the best split in two.
4. **Verdict.** The split is kept only when it is cheap (the two parts are
   joined by little, and by patches of other colours), the parts differ in
   mean colour, both are large, broad (not a sleeve or a strap) and each is
   one piece, and the shape agrees:
   the dividing line runs from a notch of the outline to another notch, and
   the parts lie side by side (their convex hulls overlap little) rather
   than one inside the other. Otherwise the region stays whole: splitting
   one product is worse than leaving two together. A kept part is tried
   again, for three or more products.

Two touching products of the same colour, or whose contact is not notched,
stay one region; a garment of two colours whose parts meet between notches
(a pair of socks of two colours, a skirt over tights) may be split.

Examples
--------
>>> import numpy as np
>>> yy, xx = np.mgrid[:120, :200]
>>> blue = (yy - 60) ** 2 + (xx - 55) ** 2 < 45**2      # a round product
>>> red = (yy - 60) ** 2 + (xx - 142) ** 2 < 45**2      # another, touching it
>>> image = np.full((120, 200, 3), 0.95, np.float32)
>>> image[blue], image[red] = (0.1, 0.2, 0.6), (0.7, 0.1, 0.1)
>>> labels = (blue | red).astype(np.int32)               # one region
>>> int(split_touching(labels, image).max())
2
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi
from scipy import sparse
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from scipy.spatial import ConvexHull, QhullError
from skimage.color import rgb2lab
from skimage.segmentation import watershed

__all__ = ["SplitParams", "split_touching", "best_cut", "DetectionSplitParams", "split_by_detections"]

_EIGHT = np.ones((3, 3), bool)

#: Least median colour gradient (summed Sobel magnitudes of L*, a* and b*) a
#: region is taken to have when a border's edge is weighed against it: a flat
#: synthetic region has none, the smoothest product of the rendered studio
#: photos measured had 1.8 (white satin on white paper).
_LEAST_GRADIENT = 1.0


@dataclass(frozen=True)
class SplitParams:
    """How eagerly :func:`split_touching` splits a region.

    Attributes
    ----------
    spacing : int
        Smallest patch size in pixels (of the working copy); large regions get
        larger patches, about 400 in all. Default 8.
    colour_scale : float
        CIELAB distance at which a link between two patches weighs 1/e of a
        link between two patches of the same colour. Default 25.
    max_ncut : float
        Largest normalised cut that is kept. Default 0.02.
    min_colour : float
        Smallest CIELAB distance between the two parts' mean colours. Default 15.
    min_notch : float
        Both ends of the dividing line must lie in a notch of the region's
        outline at least this deep (distance inside the region's convex hull),
        as a share of the square root of the smaller part's area. Default 0.2.
    max_hull_overlap : float
        Largest overlap of the two parts' convex hulls, as a share of the
        smaller part's area: side by side products overlap little, the parts
        of one garment (a collar in a jacket) nest. Default 0.2.
    min_breadth : float
        Each part's widest inscribed disc, as a share of the square root of
        its area: a sleeve or a strap of another colour is narrow, a product
        is broad (a pair of trousers, five times as long as wide, is 0.45).
        Default 0.4.

    ``min_notch`` and ``min_breadth`` were 0.3 and 0.5 at first; on the studio
    benchmark's training photos those rejected the best cut in 9 of the 11
    touching photos where it was right (long products side by side, shallow
    steps at the ends of their contact). At 0.2 and 0.4 touching products
    went from 36.7 % to 73.3 % found (16 -> 24 objects for 30) and no other
    training photo changed; notches of 0.15-0.2 would also have cut a
    person, a thin product and a bag with a handle.
    min_share : float
        Smallest part, as a share of the region. Default 0.12.
    min_pixels : int
        Smallest part, in pixels. Default 400.
    max_parts : int
        Most parts one region is split into. Default 4.
    """

    spacing: int = 8
    colour_scale: float = 25.0
    max_ncut: float = 0.02
    min_colour: float = 15.0
    min_notch: float = 0.2
    max_hull_overlap: float = 0.2
    min_breadth: float = 0.4
    min_share: float = 0.12
    min_pixels: int = 400
    max_parts: int = 4


@dataclass(frozen=True)
class Cut:
    """The best split in two of one region (see :func:`best_cut`)."""

    part: np.ndarray  # (h, w) bool, one side, inside the region's box
    ncut: float
    share: float  # the smaller side's share of the region
    pieces: int  # connected pieces of the two sides together (2 when each is one piece)
    colour: float  # CIELAB distance between the two sides' mean colours


def _hull(mask: np.ndarray) -> np.ndarray:
    """Convex hull of a mask's pixels, as a mask (the pixels' centres)."""
    edge = mask & ~ndi.binary_erosion(mask)
    points = np.argwhere(edge)
    try:
        corners = points[ConvexHull(points).vertices]
    except (QhullError, ValueError):  # a line or a point: the mask is its own hull
        return mask.copy()
    canvas = Image.new("1", (mask.shape[1], mask.shape[0]))
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for y, x in corners], fill=1, outline=1)
    return np.asarray(canvas, bool) | mask


def _shape(region: np.ndarray, part: np.ndarray) -> tuple[float, float]:
    """Notch depth at the ends of the line between ``part`` and the rest, and hull overlap.

    Both are shares of the square root (notch) or the area (overlap) of the
    smaller side; the notch is that of the shallower end, 0 when the line
    does not meet the outline at two places.
    """
    rest = region & ~part
    smaller = float(min(part.sum(), rest.sum()))
    line = part & ndi.binary_dilation(rest, _EIGHT)
    ends = line & ndi.binary_dilation(~region, _EIGHT)
    hull = _hull(region)
    depth = ndi.distance_transform_edt(np.pad(hull, 1))[1:-1, 1:-1]
    groups, n = ndi.label(ndi.binary_dilation(ends, _EIGHT, iterations=2) & region)
    notch = 0.0
    if n >= 2:
        deepest = np.sort(ndi.maximum(depth, groups, np.arange(1, n + 1)))[::-1]
        notch = float(deepest[1]) / np.sqrt(smaller)
    overlap = float((_hull(part) & _hull(rest)).sum()) / smaller
    return notch, overlap


def _lab(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2 or image.shape[2] == 1:
        grey = image if image.ndim == 2 else image[..., 0]
        return (np.clip(grey, 0, 1) * 100).astype(np.float32)[..., None]
    return rgb2lab(np.clip(image[..., :3], 0, 1)).astype(np.float32)


def _gradient(lab: np.ndarray) -> np.ndarray:
    out = np.zeros(lab.shape[:2], np.float32)
    for k in range(lab.shape[2]):
        out += np.hypot(ndi.sobel(lab[..., k], 0), ndi.sobel(lab[..., k], 1))
    return out


def _patches(gradient: np.ndarray, region: np.ndarray, spacing: int) -> np.ndarray:
    """Patches of ``region`` (labels 1..n, 0 outside) by a seeded watershed of ``gradient``."""
    seeds = np.zeros(region.shape, np.int32)
    s = spacing
    ys, xs = np.mgrid[s // 2 : region.shape[0] : s, s // 2 : region.shape[1] : s]
    inside = region[ys, xs]
    seeds[ys[inside], xs[inside]] = np.arange(1, int(inside.sum()) + 1)
    patches = watershed(gradient, seeds, mask=region)
    # Bits of the region that no seed reached (thin strands) get their own patch.
    stray = region & (patches == 0)
    if stray.any():
        extra, m = ndi.label(stray)
        patches[stray] = extra[stray] + patches.max()
    return patches


def _links(patches: np.ndarray, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j) of neighbouring patches (0-based) and the length of their border.

    With ``values`` (an array of the patches' shape), the sum along the
    border of the mean of ``values`` on its two sides instead of its length.
    """
    a = np.concatenate([patches[:, :-1].ravel(), patches[:-1].ravel()])
    b = np.concatenate([patches[:, 1:].ravel(), patches[1:].ravel()])
    keep = (a != b) & (a > 0) & (b > 0)
    lo = np.minimum(a[keep], b[keep]) - 1
    hi = np.maximum(a[keep], b[keep]) - 1
    n = int(patches.max())
    key = lo.astype(np.int64) * n + hi
    uniq, at = np.unique(key, return_inverse=True)
    if values is None:
        total = np.bincount(at).astype(np.float64)
    else:
        va = np.concatenate([values[:, :-1].ravel(), values[:-1].ravel()])[keep]
        vb = np.concatenate([values[:, 1:].ravel(), values[1:].ravel()])[keep]
        total = np.bincount(at, weights=(va + vb) / 2.0)
    return uniq // n, uniq % n, total


def best_cut(lab: np.ndarray, gradient: np.ndarray, region: np.ndarray, params: SplitParams) -> Cut | None:
    """The split in two of ``region`` with the lowest normalised cut.

    Parameters
    ----------
    lab : (h, w, C) ndarray of float32
        The photo in CIELAB (or lightness only, C = 1).
    gradient : (h, w) ndarray of float32
        Its colour gradient (sum of the channels' Sobel magnitudes).
    region : (h, w) ndarray of bool
        One region of connected product pixels.
    params : SplitParams

    Returns
    -------
    Cut or None
        None when the region is too small to hold two parts.
    """
    area = int(region.sum())
    if area < 2 * params.min_pixels:
        return None
    # About 400 patches at most: the graph stays small for any region.
    spacing = max(params.spacing, int(np.ceil(np.sqrt(area / 400))))
    patches = _patches(gradient, region, spacing)
    n = int(patches.max())
    if n < 4:
        return None
    index = patches[region] - 1
    size = np.bincount(index, minlength=n).astype(np.float64)
    mean = np.stack([np.bincount(index, weights=lab[..., k][region], minlength=n) for k in range(lab.shape[2])], 1)
    mean /= np.maximum(size, 1)[:, None]
    i, j, length = _links(patches)
    distance = np.sqrt(((mean[i] - mean[j]) ** 2).sum(axis=1))
    weight = length * np.exp(-((distance / params.colour_scale) ** 2))
    degree = np.bincount(i, weights=weight, minlength=n) + np.bincount(j, weights=weight, minlength=n) + 1e-9
    # Generalised eigenproblem (D - W) y = lambda D y, through the normalised
    # affinity D^-1/2 W D^-1/2: its second largest eigenvector, over sqrt(D).
    root = 1 / np.sqrt(degree)
    scaled = weight * root[i] * root[j]
    normalised = sparse.coo_matrix((np.r_[scaled, scaled], (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    start = np.sqrt(degree) + np.random.default_rng(0).uniform(0, 1e-3, n)
    try:
        _, vectors = eigsh(normalised, k=2, which="LA", v0=start, tol=1e-6, maxiter=50 * n)
        vectors = vectors[:, ::-1]
    except ArpackNoConvergence:  # nearly repeated eigenvalues: solve it densely
        _, vectors = np.linalg.eigh(normalised.toarray())
        vectors = vectors[:, ::-1]
    order = np.argsort(vectors[:, 1] * root, kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    # The cut between the first t + 1 patches in that order and the rest, for every t.
    first, last = np.minimum(rank[i], rank[j]), np.maximum(rank[i], rank[j])
    cut = np.zeros(n + 1)
    np.add.at(cut, first, weight)
    np.add.at(cut, last, -weight)
    cut = np.cumsum(cut)[: n - 1]
    volume = np.cumsum(degree[order])[: n - 1]
    total = degree.sum()
    ncut = cut / volume + cut / (total - volume)
    grown = np.cumsum(size[order])[: n - 1]
    share = np.minimum(grown, area - grown) / area
    ok = (share >= params.min_share) & (np.minimum(grown, area - grown) >= params.min_pixels)
    if not ok.any():
        return None
    t = int(np.argmin(np.where(ok, ncut, np.inf)))
    side = np.zeros(n + 1, bool)
    side[order[: t + 1] + 1] = True
    part = side[patches] & region
    pieces = ndi.label(part)[1] + ndi.label(region & ~part)[1]
    colour = float(np.linalg.norm(lab[part].mean(axis=0) - lab[region & ~part].mean(axis=0)))
    return Cut(part, float(ncut[t]), float(share[t]), int(pieces), colour)


def _breadth(part: np.ndarray) -> float:
    """Widest inscribed disc's diameter over the square root of the area: low for a sleeve or a strap."""
    return 2 * float(ndi.distance_transform_edt(np.pad(part, 1)).max()) / np.sqrt(max(part.sum(), 1))


def _keep(cut: Cut | None, region: np.ndarray, params: SplitParams) -> bool:
    """Whether a cut divides two products rather than one product's parts."""
    if cut is None or cut.pieces != 2 or cut.ncut > params.max_ncut or cut.colour < params.min_colour:
        return False
    if min(_breadth(cut.part), _breadth(region & ~cut.part)) < params.min_breadth:
        return False
    notch, overlap = _shape(region, cut.part)
    return notch >= params.min_notch and overlap <= params.max_hull_overlap


def _colour_parts(lab: np.ndarray, gradient: np.ndarray, region: np.ndarray, params: SplitParams) -> list[np.ndarray]:
    """``region`` cut by :func:`best_cut` again and again while :func:`_keep` keeps the cut."""
    parts: list[np.ndarray] = []
    todo = [region]
    while todo:
        piece = todo.pop()
        found = best_cut(lab, gradient, piece, params) if len(parts) + len(todo) + 1 < params.max_parts else None
        if _keep(found, piece, params):
            todo += [found.part, piece & ~found.part]
        else:
            parts.append(piece)
    return parts


def split_touching(labels: np.ndarray, image: np.ndarray, params: SplitParams | None = None) -> np.ndarray:
    """Labels with each region of several touching products split into one per product.

    Parameters
    ----------
    labels : (h, w) ndarray of int
        0 backdrop, 1..N regions of product pixels.
    image : (h, w) or (h, w, C) ndarray of float
        The photo at the same size, in [0, 1].
    params : SplitParams, optional
        Default ``SplitParams()``.

    Returns
    -------
    (h, w) ndarray of int32
        0 backdrop, 1..M products (M >= N), numbered by size, largest first.
    """
    params = params or SplitParams()
    labels = np.asarray(labels)
    image = np.asarray(image, np.float32)
    if image.shape[:2] != labels.shape:
        raise ValueError(f"image {image.shape[:2]} and labels {labels.shape} differ in size")
    out = np.zeros(labels.shape, np.int32)
    if labels.max() <= 0:
        return out
    pieces: list[tuple[tuple[slice, slice], np.ndarray]] = []
    for k, box in enumerate(ndi.find_objects(labels.astype(np.int32)), start=1):
        if box is None:
            continue
        box = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        lab = _lab(image[box])
        pieces += [(box, p) for p in _colour_parts(lab, _gradient(lab), labels[box] == k, params)]
    sizes = [int(p.sum()) for _, p in pieces]
    for new, at in enumerate(np.argsort(sizes, kind="stable")[::-1], start=1):
        box, part = pieces[at]
        out[box][part] = new
    return out


@dataclass(frozen=True)
class DetectionSplitParams:
    """When :func:`split_by_detections` lets a model's detections split a region.

    Chosen on the studio benchmark's training photos (see README).

    Attributes
    ----------
    min_score : float
        Least score of a product detection that may split a region: 0.3, the
        least the product model is asked for, so every detection counts (0.4
        until detections of 0.30-0.39 were seen to hold a product of their
        own, as the only detection of it). Default 0.3.
    sure_score : float
        A detection this sure decides: a split needs at least one sure part,
        and a sure detection of (nearly) the whole region, or a sure "person"
        over much of it, keeps the region whole. Default 0.5.
    min_inside : float
        Least share of a detection's pixels inside the region. Default 0.7.
    min_share : float
        Least share of the region a detection must cover (a pocket or a print
        seen apart covers less; a pair of socks against a coat more).
        Default 0.05.
    min_cover : float
        Least share of the region the kept detections cover together. Default 0.6.
    whole_cover : float
        A sure product detection that covers this share of the region sees it
        as one product, unless another sure product detection lies beside it
        (overlapping it by less than ``max_overlap`` of its own pixels): a
        large product with a smaller one laid against it. Default 0.6.
    unsure_whole_cover : float
        The same for a detection under ``sure_score`` (but ``min_score`` or
        more) that covers this share of the region: the model sees the whole
        product, though unsure of its class, and sure detections of its parts
        must not cut it. Default 0.9.
    person_cover : float
        A sure "person" detection that covers this share of the region keeps it
        whole: a person's garments are one object. The exception of
        ``whole_cover`` holds here too: a garment on a ghost mannequin, seen
        as a person, with a product laid against it. Default 0.5.
    max_overlap : float
        Two detections that overlap by more than this share of the smaller one
        are one product seen twice: the lower-scoring one is dropped. Default 0.3.
    max_shared_colours : float
        ... and whose colours differ from the whole one's: the share of colours
        they have in common (histogram intersection, bins of 12.5 lightness
        and 16 a* and b* units) is below this. Default 0.3.
    tile_cover : float
        ... or, whatever colours they share, the two detections tile the
        region: together they cover this share of it, the part that the one
        beside sees alone and the rest of the region are both broad
        (``min_breadth``), and their mean colours differ by ``same_colour`` or
        more (a black pair of shorts with a navy sweater laid against it; the
        two fronts of one jacket seen apart are of one colour). Default 0.9.
    min_breadth : float
        Widest inscribed disc over the square root of the area, as in
        :class:`SplitParams`: a sleeve or a strap is narrow. Default 0.4.
    most_tried : int
        Where the detections taken best first (each unless it overlaps one
        taken before by ``max_overlap``) cover less than ``min_cover`` of the
        region, the set of these many best that covers most of it is taken
        instead: a sure detection of a part of two products had kept out the
        detection of one of them. Default 8.
    min_colour : float
        Least CIELAB distance between the mean colours of two touching parts:
        parts closer in colour are one product seen by two detections (the
        legs of a pair of trousers) and are joined. Default 13.
    short_contact : float
        Unless they meet along a line shorter than this, as a multiple of the
        square root of the smaller part's area (in pixels of the working
        copy): alike products laid against each other touch briefly, the
        halves of one product share a long border. Default 1.3.
    same_colour : float
        Parts closer in colour than this (CIELAB distance) are one product
        even where they meet along a short line (the two fronts of an open
        jacket, each seen by its own detection). Default 3.
    least_contact : float
        ... unless they meet along a line shorter than this multiple of the
        square root of the smaller part's area: two products of one colour
        that barely touch. Default 0.22.
    one_product_contact : float
        Parts of any colours that meet along a line longer than this multiple
        of the square root of the smaller part's area are one product (a jacket and its
        sleeves of another colour, each seen by a detection). Two products
        laid side by side along their whole length meet along the square root
        of their length over their width: 2 for a pair of trousers four times
        as long as wide. Default 2.2.
    min_notch, max_hull_overlap : float
        ... unless the two parts are shaped as two products laid side by side,
        as :class:`SplitParams` measures it: the line between them ends in
        notches of their outline at least ``min_notch`` deep and their convex
        hulls overlap by at most ``max_hull_overlap``. Defaults 0.2, 0.2 (as
        in :class:`SplitParams`).
    apart_edge : float
        Two parts of alike colour (``min_colour``) whose border lies on an
        edge of the photo this many times as strong as the region's median
        (the mean colour gradient along the border over the median inside
        the region) are two products, one laid against or over the other,
        and are not joined: the halves of one product seen by two detections
        meet along its soft folds and seams. Default 6.
    confirm_iou : float
        A product that the detections leave whole (none sees its parts apart,
        or the parts were joined as alike) is cut by colour as
        :func:`split_touching` cuts (:class:`SplitParams`), and the cut is
        kept where each of its parts is seen by a detection of ``min_score``
        or more, any class, with at least this IoU and ``min_inside`` of its
        pixels in that part, one of them sure
        (``sure_score``): the colour cut and the
        model agree that two products lie there. Not where a detection
        covers ``unsure_whole_cover`` of the product (the model sees it
        whole), nor where a sure "person" covers ``person_cover`` of it (a
        person's garments differ in colour). Default 0.5.
    working_size : int
        Long side, in pixels, of the reduced copy the parts are flooded on.
        Default 600.

    Chosen on the 220 training photos of the studio benchmark (2400x1600).
    Before: a split needed every two parts to differ in colour, each part
    15 % of the region, and a "person" of 0.3 kept a region whole; 79.4 % and
    86.7 % of the products of two sets of touching photos (24 and 12) were
    found. Joining only the alike parts that share a long border, the sure
    score and the whole-region rule took them to 95.2 % and 86.7 % and split
    no single product or set that the earlier rules left whole. Alike parts'
    borders, as a multiple of the square root of the smaller part's area,
    were 2.1 or more within one product and 0.8 or less between two products.
    A ``whole_cover`` of 0.7 found a few more touching products (98.4 %,
    90.0 %) but let the bundled sample sweater, which the model sees as a
    top over 65 % of it and pieces, be cut in three, and split a thin
    product of 112 training photos rendered afterwards to check the rules.

    ``same_colour`` and ``least_contact`` were set on 652 training photos
    more (1000 and 1400 px): 7 regions that were one product had been cut
    where the model saw it twice, its two parts 0.5-2.8 apart in colour and
    meeting along 0.27-1.12 times the square root; the alike parts of two
    products were 3.1 or more apart (two black trousers side by side: 4.0),
    or met along 0.17 (a brief touch). Parts of one product up to 4.6
    apart were seen too: a larger ``same_colour`` would have joined them
    and two touching products with them. On the same photos, parts of one
    product that share a long border were up to 17.3 apart in colour (a
    shaded half), those of two products 13.3 or more, or 6.0 and 7.9 (two
    products that the long-border rule joins): ``min_colour`` went from 10 to
    13, which joined two products cut by the frame that had been cut in two
    (10.2 and 12.6 apart) and no touching products.

    The exception to ``whole_cover`` (a sure detection beside the whole one)
    was measured on 400 training photos (200 at 1000 px, 200 at 1400 px,
    with the backdrop source): touching products found went from 49 to 53
    and from 51 to 56 of 60 (a white shirt with a printed top against it, a
    black leather jacket with a light coat, the third of three jackets); no
    single product, set, person, cut or hard case changed. Counting unsure
    detections beside the whole one too found one product more at 1000 px.

    ``one_product_contact`` was set on the same 400 photos: parts of one
    product seen by two detections met along 0.8-3.2 times the square root
    of the smaller part's area (a navy jacket and its tan sleeves, a garment
    of tartan and of a white print: 2.3-2.6, 45-49 CIELAB units apart), those
    of two products along 1.99 at most. At 2.2 (2.0 gave the same) these two
    single products, cut in three and in two before, are whole (coarse IoU
    +0.53 and +0.27) and a pair of touching products cut in three is in two;
    no other photo changed.

    Measured afterwards on 60 touching training photos at 2400 px rendered
    from seeds that the product model was not trained on (1 900 000 on), and
    170 more of the other layouts and hard cases (seeds 1 910 000 on), the
    rules found 124 of 145 touching products (85.5 %, against 93.3 % on the
    seeds that the model had seen). Three changes took them to 129 and
    changed no other photo of these or of the 400 photos above:
    ``one_product_contact`` had joined two products side by side in four
    photos (2.26-3.65 times the square root; the side-by-side shape test
    keeps two of them apart and none of the one-product pairs of the 400
    photos, which were nested or met without notches); ``min_share`` 0.1 left
    out a small product (8-9 % of the region) in three (0.05 finds two of
    them); a sure "person" over a garment hid the product beside it in two
    (the exception finds one). On the same photos a single product was cut
    in two by two sure detections of its parts (a pink and a peach part, 5.5
    CIELAB units apart, meeting along 0.97 times the square root) while an
    unsure one (0.44) saw 95 % of it: ``unsure_whole_cover`` 0.9 (0.8 gave
    the same) keeps it whole (coarse IoU 0.56 -> 0.97) and changed no other
    photo.

    Joined parts compared by the colour of their closest members, not of their
    mean (see :func:`_merge_alike`): an open jacket over a white shirt, on a
    studio photo made apart from the generator, had been cut into its left
    front with the shirt and its right front. On 100 training photos at
    2400 px and 100 at 1400 px (single, set, touching, person and cut-by-frame
    layouts, seeds 1 899 880 on) no label changed.
    """

    min_score: float = 0.3
    sure_score: float = 0.5
    min_inside: float = 0.7
    min_share: float = 0.05
    min_cover: float = 0.6
    whole_cover: float = 0.6
    unsure_whole_cover: float = 0.9
    person_cover: float = 0.5
    max_overlap: float = 0.3
    max_shared_colours: float = 0.3
    tile_cover: float = 0.9
    most_tried: int = 8
    min_breadth: float = 0.4
    min_colour: float = 13.0
    short_contact: float = 1.3
    same_colour: float = 3.0
    least_contact: float = 0.22
    one_product_contact: float = 2.2
    min_notch: float = 0.2
    max_hull_overlap: float = 0.2
    apart_edge: float = 6.0
    confirm_iou: float = 0.5
    working_size: int = 600


def _colour_histogram(lab: np.ndarray) -> np.ndarray:
    """Share of (n, C) CIELAB colours in each bin of 12.5 lightness and 16 a* and b* units."""
    step = np.array([100 / 8, 256 / 16, 256 / 16])[: lab.shape[1]]
    offset = np.array([0, 128, 128])[: lab.shape[1]]
    q = np.clip(((lab + offset) / step).astype(np.int64), 0, [7, 15, 15][: lab.shape[1]])
    index = q[:, 0] * 256 + (q[:, 1] * 16 + q[:, 2] if lab.shape[1] == 3 else 0)
    counts = np.bincount(index, minlength=2048).astype(np.float64)
    return counts / max(counts.sum(), 1.0)


def _products_in(
    region: np.ndarray, masks: np.ndarray, scores: np.ndarray, names, params, colours, mean_colour
) -> list[np.ndarray]:
    """The detections that each hold one product of ``region`` (cropped masks).

    ``colours(mask)`` gives the colour histogram of a mask's pixels (see
    :func:`_colour_histogram`), ``mean_colour(mask)`` their mean CIELAB colour.
    """
    area = int(region.sum())
    found: list[tuple[np.ndarray, int, bool]] = []  # (pixels inside the region, their count, sure), best first
    wholes: list[np.ndarray] = []  # detections that see (nearly) the whole region as one product
    for k in np.argsort(-scores, kind="stable"):
        size = int(masks[k].sum())
        if size == 0:
            continue
        inside = masks[k] & region
        held = int(inside.sum())
        if names[k] == "person":
            if scores[k] >= params.sure_score and held >= params.person_cover * area:
                wholes.append(inside)
            continue
        if scores[k] >= params.min_score and held >= params.min_inside * size and held >= params.min_share * area:
            sure = bool(scores[k] >= params.sure_score)
            found.append((inside, held, sure))
            if held >= (params.whole_cover if sure else params.unsure_whole_cover) * area:
                wholes.append(inside)

    # Breadths are measured on a copy of about 40 000 pixels of the region.
    step = max(1, int(np.sqrt(area / 40_000)))

    def tiles(whole: np.ndarray, other: np.ndarray) -> bool:
        # ``whole`` and ``other`` cover the region together, the part that
        # ``other`` sees alone and the rest are broad, and they differ in colour.
        if np.count_nonzero(whole | other) < params.tile_cover * area:
            return False
        own = other & ~whole
        small = own[::step, ::step]
        if min(_breadth(small), _breadth(region[::step, ::step] & ~small)) < params.min_breadth:
            return False
        return float(np.linalg.norm(mean_colour(own) - mean_colour(whole & ~other))) >= params.same_colour

    def alone(whole: np.ndarray) -> bool:
        # No other sure detection lies beside ``whole`` rather than within it
        # and holds other colours (not a sleeve of the same cloth, seen apart),
        # or tiles the region with it.
        return not any(
            sure
            and (whole & other).sum() < params.max_overlap * n
            and (
                np.minimum(colours(whole & ~other), colours(other & ~whole)).sum() < params.max_shared_colours
                or tiles(whole, other)
            )
            for other, n, sure in found
            if other is not whole
        )

    # A sure person over much of the region, or a detection of (nearly) the whole
    # of it, sees one product, unless a sure detection of another lies beside it.
    if any(alone(whole) for whole in wholes):
        return []
    # The detections taken best first, each unless it overlaps one taken
    # before; where they do not cover the region, the set that covers most.
    kept: list[tuple[np.ndarray, int, bool]] = []
    for detection in found:
        if all(_apart(detection, other, params) for other in kept):
            kept.append(detection)
    if len(kept) < 2 or np.logical_or.reduce([inside for inside, _, _ in kept]).sum() < params.min_cover * area:
        kept = _covering_most(found[: params.most_tried], step, params)
    parts = [inside for inside, _, _ in kept]
    if len(parts) < 2 or np.logical_or.reduce(parts).sum() < params.min_cover * area:
        return []
    return parts if any(sure for _, _, sure in kept) else []


def _apart(a: tuple[np.ndarray, int, bool], b: tuple[np.ndarray, int, bool], params) -> bool:
    """Whether two detections (pixels in the region, count, sure) overlap by under ``max_overlap`` of the smaller."""
    return (a[0] & b[0]).sum() < params.max_overlap * min(a[1], b[1])


def _covering_most(found: list[tuple[np.ndarray, int, bool]], step: int, params) -> list[tuple[np.ndarray, int, bool]]:
    """The two or more detections of ``found`` that cover most of the region together.

    No two of them overlap by ``max_overlap`` of the smaller one or more, and
    one is sure; among sets that cover as much, the one listed first (best
    scores first) wins. Areas are counted every ``step`` pixels; ``[]`` when
    no such set exists.
    """
    n = len(found)
    small = [inside[::step, ::step] for inside, _, _ in found]
    apart = np.ones((n, n), bool)
    for a, b in itertools.combinations(range(n), 2):
        apart[a, b] = apart[b, a] = _apart(found[a], found[b], params)
    best: tuple[int, ...] = ()
    best_cover = -1
    for size in range(2, n + 1):
        for group in itertools.combinations(range(n), size):
            if not any(found[a][2] for a in group) or not all(apart[a, b] for a, b in itertools.combinations(group, 2)):
                continue
            cover = int(np.count_nonzero(np.logical_or.reduce([small[a] for a in group])))
            if cover > best_cover:
                best, best_cover = group, cover
    return [found[a] for a in best]


def _merge_alike(parts: np.ndarray, lab: np.ndarray, gradient: np.ndarray, params: DetectionSplitParams) -> np.ndarray:
    """``parts`` with touching parts of alike colour joined, numbered 1..m again.

    Two detections on one product (the two legs of a pair of trousers, a
    jacket seen whole and by its upper half) give two parts of one colour
    that share a long border; they become one, while the region's other
    products stay apart. Two alike parts that meet along a short line (less
    than ``short_contact`` times the square root of the smaller one's area)
    are two products laid against each other and stay apart, unless they are
    of nearly one colour (``same_colour``) and meet along more than a brief
    touch (``least_contact``): the two fronts of an open jacket. Alike parts
    whose border lies on a strong edge of the photo (``apart_edge``) are two
    products, one laid against or over the other. Parts of any
    colours that share a very long border (``one_product_contact``) are one
    product too, a jacket and its sleeves of another colour, unless they are
    shaped as two products side by side (notches at both ends of the line
    between them, hulls that overlap little). Pairs are
    joined closest in colour first; a joined part is as alike in colour to
    another as the closest of the parts it was joined from (the right front
    of an open jacket joins the left front and the shirt between them, which
    the long border joined, though it touches only the shirt), its size is
    theirs and its borders the sum of theirs.
    """
    n = int(parts.max())
    index = parts.ravel()
    size = np.bincount(index, minlength=n + 1)[1:].astype(np.float64)
    means = np.stack(
        [np.bincount(index, weights=lab[..., k].ravel(), minlength=n + 1)[1:] for k in range(lab.shape[2])], 1
    ) / np.maximum(size, 1)[:, None]
    # Each border's length and the colour gradient summed along it; a border whose
    # mean gradient is above ``strong`` lies on an edge between two products.
    first, second, length = _links(parts)
    edge = _links(parts, gradient)[2]  # the same pairs, in the same order
    border = {(int(i), int(j)): (float(m), float(e)) for i, j, m, e in zip(first, second, length, edge)}
    strong = params.apart_edge * max(float(np.median(gradient[parts > 0])), _LEAST_GRADIENT)
    owner = np.arange(n)

    def side_by_side(i: int, j: int) -> bool:
        # Shaped as two products laid side by side: the line between them ends
        # in notches of their outline and their convex hulls overlap little.
        group = np.r_[0, owner + 1][parts]
        notch, overlap = _shape((group == i + 1) | (group == j + 1), group == i + 1)
        return notch >= params.min_notch and overlap <= params.max_hull_overlap

    # The parts each joined part is made of: two parts are as alike as their closest members.
    members = [[i] for i in range(n)]
    distance = np.linalg.norm(means[:, None] - means[None], axis=2)

    while True:
        alike = []
        for (i, j), (m, e) in border.items():
            colour = float(distance[np.ix_(members[i], members[j])].min())
            contact = m / np.sqrt(min(size[i], size[j]))
            long_border = contact >= params.short_contact
            barely_apart = colour < params.same_colour and contact >= params.least_contact
            alike_apart = e > strong * m
            # The shape is measured only where the colours alone do not join them.
            if (colour < params.min_colour and (long_border or barely_apart) and not alike_apart) or (
                contact >= params.one_product_contact and not side_by_side(i, j)
            ):
                alike.append((colour, i, j))
        if not alike:
            break
        _, i, j = min(alike)
        size[i] += size[j]
        size[j] = 0
        members[i] += members[j]
        owner[owner == j] = i
        joined: dict[tuple[int, int], tuple[float, float]] = {}
        for (x, y), (m, e) in border.items():
            x, y = sorted((i if x == j else x, i if y == j else y))
            if x != y:
                total_m, total_e = joined.get((x, y), (0.0, 0.0))
                joined[(x, y)] = (total_m + m, total_e + e)
        border = joined
    rank = np.zeros(n + 1, np.int32)
    rank[1:] = np.searchsorted(np.flatnonzero(size > 0), owner) + 1
    return rank[parts]


def _sees(mask: np.ndarray, part: np.ndarray, params: DetectionSplitParams) -> bool:
    """Whether a detection sees ``part``: IoU ``confirm_iou`` or more, ``min_inside`` of its pixels in it."""
    inside = np.count_nonzero(mask & part)
    union = np.count_nonzero(mask | part)
    return inside >= params.confirm_iou * union and inside >= params.min_inside * np.count_nonzero(mask)


def _could_be_confirmed(region: np.ndarray, detections: list[tuple[np.ndarray, float, bool]], params) -> bool:
    """Whether the detections could confirm a colour cut of ``region`` (see :func:`_confirmed_colour_cut`).

    Not where one detection covers nearly all of it (``unsure_whole_cover``:
    the model sees it whole) or a sure person much of it (``person_cover``: a
    person's garments differ in colour and meet at notches), nor without two
    detections that each could lie mostly in a part of their own
    (``min_inside``), one of them sure.
    """
    area = np.count_nonzero(region)
    over = [(mask & region, score, person) for mask, score, person in detections]
    over = [(mask, score, person, np.count_nonzero(mask)) for mask, score, person in over if mask.any()]
    if any(
        size >= params.unsure_whole_cover * area
        or (person and score >= params.sure_score and size >= params.person_cover * area)
        for _, score, person, size in over
    ):
        return False
    return any(
        a[1] >= params.sure_score and np.count_nonzero(a[0] & b[0]) <= (1 - params.min_inside) * (a[3] + b[3])
        for a in over
        for b in over
        if a is not b
    )


def _confirmed_colour_cut(
    region: np.ndarray,
    lab: np.ndarray,
    gradient: np.ndarray,
    detections: list[tuple[np.ndarray, float, bool]],
    params: DetectionSplitParams,
) -> list[np.ndarray]:
    """``region`` cut by colour (as :func:`split_touching` cuts) where the detections confirm the cut.

    ``detections`` are (mask, score, is a person) on the grid of ``region``.
    Each part must be seen by a detection (IoU ``confirm_iou`` or more, and
    ``min_inside`` of its pixels in the part), one part by a sure one;
    otherwise, or when the colour cut finds no split, ``[region]``.
    """
    parts = _colour_parts(lab, gradient, region, SplitParams())
    seen_by = [[score for mask, score, _ in detections if _sees(mask, part, params)] for part in parts]
    if len(parts) < 2 or not all(seen_by) or max(max(scores) for scores in seen_by) < params.sure_score:
        return [region]
    return sorted(parts, key=lambda part: -int(part.sum()))


def split_by_detections(
    labels: np.ndarray,
    image: np.ndarray,
    masks: np.ndarray,
    scores: np.ndarray,
    class_names,
    params: DetectionSplitParams | None = None,
) -> np.ndarray:
    """Labels with each region that a detector sees as several products split into one per product.

    A backdrop region that holds touching products is split where a model
    (trained on studio photos) found each of them: the detections that lie
    inside the region and cover it together seed a watershed of the photo's
    gradient inside the region, so the parts meet at the photo's edge
    between the products, not at the detections' coarse outlines. The split
    is kept only when the parts differ in colour, and a region that a
    "person" detection covers stays whole. A product that the detections
    leave whole (one detection over two products, or two products joined as
    alike) is then cut by colour as :func:`split_touching` cuts, where
    detections confirm each part (``confirm_iou``).

    Parameters
    ----------
    labels : (H, W) ndarray of int
        0 backdrop, 1..N regions of product pixels (from
        :func:`napari_boostseg.backdrop.backdrop_labels`).
    image : (H, W) or (H, W, C) array
        The photo (uint8, uint16 or float in [0, 1]).
    masks : (K, H, W) ndarray of bool
        The detections' masks at the photo's size.
    scores : (K,) array of float
        Their scores.
    class_names : sequence of str
        Their classes ("person" keeps a region whole).
    params : DetectionSplitParams, optional

    Returns
    -------
    (H, W) ndarray of int32
        0 backdrop; a region that is not split keeps its id, the parts of a
        split one take its id and new ids after N.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((100, 200, 3), 0.95, np.float32)
    >>> image[20:80, 20:100], image[20:80, 100:180] = (0.1, 0.2, 0.6), (0.7, 0.1, 0.1)
    >>> labels = np.zeros((100, 200), np.int32); labels[20:80, 20:180] = 1
    >>> masks = np.zeros((2, 100, 200), bool)
    >>> masks[0, 22:78, 25:95], masks[1, 22:78, 105:175] = True, True
    >>> out = split_by_detections(labels, image, masks, np.array([0.9, 0.8]), ["top", "bag"])
    >>> int(out.max()), bool((out[50, 30] == 1) and (out[50, 170] == 2))
    (2, True)
    """
    from .inputs import check_detections, image_to_float
    from .resample import block_mean

    params = params or DetectionSplitParams()
    labels = np.asarray(labels)
    masks, scores = check_detections(labels.shape, masks, scores, class_names)
    if np.asarray(image).shape[:2] != labels.shape:
        raise ValueError(f"image {np.asarray(image).shape[:2]} and labels {labels.shape} differ in size")
    out = labels.astype(np.int32, copy=True)
    if not len(masks) or out.max() <= 0:
        return out
    f = max(1, int(round(max(labels.shape) / params.working_size)))
    next_id = int(out.max()) + 1
    for k, box in enumerate(ndi.find_objects(out), start=1):
        if box is None:
            continue
        region = out[box] == k
        # The region's box at the working size: each working pixel stands for
        # the block around it and takes a mask's value at the block's centre
        # (the last row or column for a partial block at the far edge).
        rows = np.minimum(np.arange(0, region.shape[0], f) + f // 2, region.shape[0] - 1)
        cols = np.minimum(np.arange(0, region.shape[1], f) + f // 2, region.shape[1] - 1)

        @functools.cache
        def in_lab() -> np.ndarray:  # the box in CIELAB, made when first needed
            return _lab(block_mean(np.ascontiguousarray(image_to_float(np.asarray(image)[box])), f))

        @functools.cache
        def in_gradient() -> np.ndarray:
            return _gradient(in_lab())

        def colours(mask: np.ndarray) -> np.ndarray:
            return _colour_histogram(in_lab()[mask[np.ix_(rows, cols)]])

        def mean_colour(mask: np.ndarray) -> np.ndarray:
            return in_lab()[mask[np.ix_(rows, cols)]].mean(axis=0)

        kept = _products_in(region, masks[(slice(None), *box)], scores, class_names, params, colours, mean_colour)
        small_region = block_mean(region.astype(np.float32), f) >= 0.5
        # The detections that may confirm a colour cut, on the working grid.
        candidates = [
            (masks[k][box][np.ix_(rows, cols)] & small_region, float(scores[k]), class_names[k] == "person")
            for k in np.flatnonzero(scores >= params.min_score)
        ]
        parts = small_region.astype(np.int32)
        if kept:
            # Seeds: the pixels of one detection only; the rest is flooded.
            owners = np.sum(kept, axis=0)
            seeds = np.zeros(region.shape, np.int32)
            for i, part in enumerate(kept, start=1):
                seeds[part & (owners == 1)] = i
            parts = watershed(in_gradient(), seeds[np.ix_(rows, cols)] * small_region, mask=small_region)
            parts = _merge_alike(parts, in_lab(), in_gradient(), params)
        # Each product the detections left whole, cut by colour where they confirm the cut.
        pieces = []
        for i in range(1, int(parts.max()) + 1):
            part = parts == i
            if _could_be_confirmed(part, candidates, params):
                pieces += _confirmed_colour_cut(part, in_lab(), in_gradient(), candidates, params)
            else:
                pieces.append(part)
        parts = np.zeros(parts.shape, np.int32)
        for i, piece in enumerate(pieces, start=1):
            parts[piece] = i
        if parts.max() < 2:
            continue
        # Back to the photo's pixels: each pixel of the region takes the part
        # of the nearest working pixel that has one.
        full = np.repeat(np.repeat(parts, f, axis=0), f, axis=1)[: region.shape[0], : region.shape[1]]
        if (region & (full == 0)).any():
            _, (iy, ix) = ndi.distance_transform_edt(full == 0, return_indices=True)
            full = full[iy, ix]
        view = out[box]
        for i in range(2, int(parts.max()) + 1):
            piece = region & (full == i)
            if piece.any():
                view[piece] = next_id
                next_id += 1
    return out
