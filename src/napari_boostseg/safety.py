"""Checks that a refined object is still the object: its sure core and its edges.

The watershed decides every pixel of the undecided band, and a wrong band
(an outline that alignment moved off the object, a part thinner than the
band, a backdrop full of stronger edges) can give most of an object away.
Two cheap measures, per object and on its box only, say whether a refined
mask can be trusted:

* :func:`core_kept`: the share of the coarse mask's core that the refined
  mask keeps. The core is what the coarse mask is surest of: its pixels
  at least ``depth`` cells from its outline, or, in parts thinner than
  that, the middle half of the part (it follows the local thickness, so a
  blade or a strap has a core too). A refined mask that keeps too little of
  it has lost the object or replaced it by a fragment.
* :func:`outline_support`: the mean normalised edge strength (1: a clear
  photo edge) along a mask's outline, on the pixels where it is known.

:class:`ObjectReport` says, per object, what :func:`napari_boostseg.refine`
made of it: moved or not, and which safer choice it fell back to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np
from scipy import ndimage as ndi

from .markers import signed_distance

__all__ = [
    "FALLBACKS", "DOUBTFUL", "FALLBACK_WORDS", "ObjectReport", "doubtful_objects", "core_kept", "core_mask",
    "outline_support", "outline_supports",
]

#: The safer choices, from the least to the most cautious: refine the
#: unmoved coarse mask in its normal band, refine it in a band half as wide,
#: keep the coarse mask ("small": its 28x28 grid is about as fine as the
#: pixels; "edge": its outline already lies on photo edges at least as clear
#: as the refined one's; "coarse": every refinement lost its core).
FALLBACKS = ("unmoved", "narrow", "small", "edge", "coarse")
#: Fallbacks taken because the refinement could not be trusted (the others keep
#: a coarse mask that was already right): objects a person should look at.
DOUBTFUL = ("unmoved", "narrow", "coarse")
#: What each doubtful fallback did, in words for a person.
FALLBACK_WORDS = {
    "unmoved": (
        "the refined outline failed a check, or the move lay on weak edges; "
        "refined again without moving the coarse mask"
    ),
    "narrow": "the refined outlines failed a check; refined again in a narrower band",
    "coarse": "every refined outline failed a check; the coarse mask was kept",
}


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def doubtful_objects(reports, name: Callable[[int], str] = str) -> str:
    """The objects of ``reports`` to look at, with what their refinement did; "" when none.

    ``name`` gives an object's name from its label id (default: the id),
    e.g. its cut-out's file name. Objects that took the same fallback are
    named together, before what was done to them.

    Examples
    --------
    >>> doubtful_objects([ObjectReport(1, False, "", 1.0, 1.0), ObjectReport(2, True, "coarse", 0.2, 0.1)])
    '2 (every refined outline failed a check; the coarse mask was kept)'
    >>> doubtful_objects([ObjectReport(k, False, "narrow", 0.9, 0.4) for k in (3, 4, 5)])
    '3, 4 and 5 (the refined outlines failed a check; refined again in a narrower band)'
    """
    groups: dict[str, list[str]] = {}
    for r in reports:
        if r.fallback in DOUBTFUL:
            groups.setdefault(r.fallback, []).append(name(r.label_id))
    return "; ".join(f"{_listed(names)} ({FALLBACK_WORDS[fallback]})" for fallback, names in groups.items())


@dataclass(frozen=True)
class ObjectReport:
    """What the refinement made of one object.

    Attributes
    ----------
    label_id : int
    moved : bool
        Alignment moved the object's coarse mask and the result confirmed
        the move (the refined labels follow the moved mask).
    fallback : str
        ``""`` when the refined mask passed the checks, otherwise the safer
        choice taken, one of :data:`FALLBACKS`. An object that fell back is
        worth a look.
    core_kept : float
        Share of the coarse mask's core the returned mask keeps, 0 to 1.
    support : float
        Mean normalised edge strength along the returned outline (1: a clear
        edge; NaN where unknown).
    widened : bool
        Its outline lay on no clear edge, and a wider band (``wide_band``)
        found one on clearly stronger edges: the wider result is returned.
    """

    label_id: int
    moved: bool
    fallback: str
    core_kept: float
    support: float
    widened: bool = False

    @property
    def flagged(self) -> bool:
        """Whether the object fell back to a safer choice (worth a look)."""
        return bool(self.fallback)


@numba.njit(cache=True, nogil=True)
def _block_shares(coarse, refined, label_id, fy, fx):  # pragma: no cover - compiled
    """Share of each ``fy`` x ``fx`` block that is object ``label_id`` in ``coarse`` and in ``refined``."""
    h, w = coarse.shape
    by, bx = (h + fy - 1) // fy, (w + fx - 1) // fx
    a = np.zeros((by, bx), np.float32)
    b = np.zeros((by, bx), np.float32)
    n = np.zeros((by, bx), np.float32)
    same = refined.shape == coarse.shape
    for y in range(h):
        i = y // fy
        for k in range(bx):
            x1 = min(k * fx + fx, w)
            n[i, k] += x1 - k * fx
            ca = 0
            cb = 0
            for x in range(k * fx, x1):
                if coarse[y, x] == label_id:
                    ca += 1
                if same and refined[y, x] == label_id:
                    cb += 1
            a[i, k] += ca
            b[i, k] += cb
    return a / n, b / n


def _block_side(cells: tuple[float, float]) -> int:
    """Side of the square blocks the core is found on: about a third of the shorter cell side."""
    return max(1, int(min(cells) / 3))


def _core_on_blocks(inside: np.ndarray, f: int, cells: tuple[float, float], depth: float) -> np.ndarray:
    # Depth inside the outline, in cells; the outside is never read (the deepest point near an
    # inside pixel is at least as deep as the pixel itself).
    deep = signed_distance(inside, (f / cells[0], f / cells[1]), outside=False)
    # Local half-thickness: the deepest point within ``depth`` cells.
    reach = max(3, 2 * int(np.ceil(depth * min(cells) / f)) + 1)
    half = ndi.maximum_filter(deep, size=reach, mode="nearest")
    return inside & (deep >= np.minimum(np.float32(depth), 0.5 * half))


def core_mask(inside: np.ndarray, cells: tuple[float, float], depth: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The core of a mask on blocks of about a third of a cell.

    Parameters
    ----------
    inside : (h, w) ndarray of bool
        The mask on its box, with at least a pixel of background around it.
    cells : (float, float)
        Cell height and width in pixels.
    depth : float
        Core depth in cells: pixels at least this far from the outline, or,
        where the part is thinner than ``2 * depth``, at least half its
        half-thickness.

    Returns
    -------
    core : ndarray of bool
        On the block grid.
    (fy, fx) : tuple of int
        Block size in pixels.
    """
    f = _block_side(cells)
    shares, _ = _block_shares(np.ascontiguousarray(inside).view(np.uint8), np.zeros((1, 1), np.uint8), 1, f, f)
    return _core_on_blocks(shares >= 0.5, f, cells, depth), (f, f)


def core_kept(
    coarse: np.ndarray, refined: np.ndarray, cells: tuple[float, float], depth: float, label_id: int = 1
) -> float:
    """Share of the core of object ``label_id`` of ``coarse`` (see :func:`core_mask`) in ``refined``.

    ``coarse`` and ``refined`` are label images (or boolean masks, with
    ``label_id`` 1) of one window with background around the coarse object.
    1 when there is no core.
    """
    if coarse.dtype == bool:
        coarse, refined = coarse.view(np.uint8), refined.view(np.uint8)
    f = _block_side(cells)
    before, after = _block_shares(coarse, refined, label_id, f, f)
    core = _core_on_blocks(before >= 0.5, f, cells, depth)
    n = np.count_nonzero(core)
    return float(np.count_nonzero(core & (after >= 0.5)) / n) if n else 1.0


@numba.njit(inline="always")
def _on_outline(labels, y, x, label_id):  # pragma: no cover - compiled
    """Whether pixel (y, x) is of ``label_id`` with a 4-neighbour that is not (beyond the array counts as inside)."""
    h, w = labels.shape
    if labels[y, x] != label_id:
        return False
    return (
        (y > 0 and labels[y - 1, x] != label_id)
        or (y < h - 1 and labels[y + 1, x] != label_id)
        or (x > 0 and labels[y, x - 1] != label_id)
        or (x < w - 1 and labels[y, x + 1] != label_id)
    )


@numba.njit(cache=True, nogil=True)
def _outline_sums(first, second, third, m, label_id, edges, closeness, prior):  # pragma: no cover - compiled
    """Sums and counts of the edge strength on the band pixels of each of the first ``m`` label images'
    outlines of ``label_id``, in one pass over the band."""
    h, w = first.shape
    totals = np.zeros(3, np.float64)
    counts = np.zeros(3, np.int64)
    for y in range(h):
        for x in range(w):
            if not closeness[y, x] > 0:
                continue
            strength = edges[y, x] - prior * closeness[y, x]
            if _on_outline(first, y, x, label_id):
                totals[0] += strength
                counts[0] += 1
            if m > 1 and _on_outline(second, y, x, label_id):
                totals[1] += strength
                counts[1] += 1
            if m > 2 and _on_outline(third, y, x, label_id):
                totals[2] += strength
                counts[2] += 1
    return totals, counts


def outline_support(
    edges: np.ndarray, labels: np.ndarray, label_id: int, closeness: np.ndarray, prior: float
) -> float:
    """Mean normalised edge strength along the outline of object ``label_id`` in the band; NaN if none.

    Parameters
    ----------
    edges : ndarray of float32
        Edge map of :func:`napari_boostseg.edges.edge_map`: normalised
        edge strength (1: a clear edge) plus ``prior`` times ``closeness``.
    labels : ndarray of int or bool
        Label image (a boolean mask with ``label_id`` 1), same window.
    label_id : int
    closeness : ndarray of float32
        Closeness to the coarse outline, positive in the band (where the
        edge strength was computed), same window.
    prior : float
        The edge map's prior weight.

    The outline is the object's pixels with a 4-neighbour outside it; the
    window's border does not count as outside.
    """
    return outline_supports(edges, [labels], label_id, closeness, prior)[0]


def outline_supports(
    edges: np.ndarray, images: Sequence[np.ndarray], label_id: int, closeness: np.ndarray, prior: float
) -> tuple[float, ...]:
    """:func:`outline_support` of object ``label_id`` in each label image of ``images`` (same window).

    The band is read once for up to three images: the refinement measures
    the refined, the coarse and the moved outline on the same edges.
    """
    arrays = [np.asarray(a) for a in images]
    arrays = [a.view(np.uint8) if a.dtype == bool else a for a in arrays]
    supports: list[float] = []
    for start in range(0, len(arrays), 3):
        group = arrays[start : start + 3]
        m = len(group)
        totals, counts = _outline_sums(*(group + group[:1] * (3 - m)), m, label_id, edges, closeness, np.float32(prior))
        supports += [float(totals[j] / counts[j]) if counts[j] else float("nan") for j in range(m)]
    return tuple(supports)
