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

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from .markers import GRID_CELLS, _signed_distance_small

__all__ = ["FALLBACKS", "ObjectReport", "core_kept", "core_mask", "outline_support"]

#: The safer choices, from the least to the most cautious: refine the
#: unmoved coarse mask in its normal band, refine it in a band half as wide,
#: keep the coarse mask ("small": its 28x28 grid is about as fine as the
#: pixels; "edge": its outline already lies on photo edges at least as clear
#: as the refined one's; "coarse": every refinement lost its core).
FALLBACKS = ("unmoved", "narrow", "small", "edge", "coarse")


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
    """

    label_id: int
    moved: bool
    fallback: str
    core_kept: float
    support: float

    @property
    def flagged(self) -> bool:
        """Whether the object fell back to a safer choice (worth a look)."""
        return bool(self.fallback)


def _cells(box: tuple[slice, slice]) -> tuple[float, float]:
    sy, sx = box
    return max((sy.stop - sy.start) / GRID_CELLS, 1.0), max((sx.stop - sx.start) / GRID_CELLS, 1.0)


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
    signed, f = _signed_distance_small(inside, *cells)
    # Local half-thickness: the deepest point within ``depth`` cells.
    reach = max(3, 2 * int(np.ceil(depth * min(cells) / min(f))) + 1)
    half = ndi.maximum_filter(signed, size=reach, mode="nearest")
    core = (signed > 0) & (signed >= np.minimum(np.float32(depth), 0.5 * half))
    return core, f


def core_kept(coarse: np.ndarray, refined: np.ndarray, cells: tuple[float, float], depth: float) -> float:
    """Share of the core of ``coarse`` (see :func:`core_mask`) inside ``refined``; 1 for no core.

    Both masks are boolean arrays of one window with background around the coarse mask.
    """
    core, (fy, fx) = core_mask(coarse, cells, depth)
    if not core.any():
        return 1.0
    if fy * fx > 1:
        from .resample import block_mean

        kept = block_mean(refined, (fy, fx)) >= 0.5
    else:
        kept = refined
    return float(np.count_nonzero(kept & core) / np.count_nonzero(core))


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it."""
    return mask & ~ndi.binary_erosion(mask, border_value=1)


def outline_support(strength: np.ndarray, mask: np.ndarray, known: np.ndarray) -> float:
    """Mean of ``strength`` along the outline of ``mask``, where ``known``; NaN if nowhere.

    ``strength`` is a normalised edge strength (1: a clear edge), ``known``
    where it was computed; all three share one window.
    """
    line = _outline(mask) & known
    n = np.count_nonzero(line)
    return float(strength[line].mean()) if n else float("nan")
