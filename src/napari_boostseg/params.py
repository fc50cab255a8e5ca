"""Refinement parameters: one home for their defaults, ranges and documentation.

:class:`RefineParams` is the one source of refinement parameters. Each field
carries its default and its allowed :class:`Range` (field metadata): the
dataclass checks values against it, the command line prints it in ``--help``
and the napari Refine widget sets its spin boxes from it. The public step
functions (:func:`~napari_boostseg.markers.band_geometry`,
:func:`~napari_boostseg.edges.edge_map`, ...) take their defaults from
:data:`DEFAULT_PARAMS`, so calling a step alone gives what :func:`refine` does.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

__all__ = ["Range", "RefineParams", "DEFAULT_PARAMS", "GRID_CELLS", "cell_size"]

#: Cells per side of the Mask R-CNN mask grid (28x28) in which the band and
#: other lengths are measured: a cell is an object's box height / 28
#: vertically and box width / 28 horizontally.
GRID_CELLS = 28


def cell_size(box: tuple[slice, slice]) -> tuple[float, float]:
    """``(height, width)`` in pixels of one grid cell of an object with bounding box ``box``.

    At least one pixel each way, so lengths in cells never fall below pixels.

    Examples
    --------
    >>> cell_size((slice(0, 280), slice(10, 66)))
    (10.0, 2.0)
    """
    rows, cols = box
    return max((rows.stop - rows.start) / GRID_CELLS, 1.0), max((cols.stop - cols.start) / GRID_CELLS, 1.0)


@dataclass(frozen=True)
class Range:
    """The values a parameter may take, and how a spin box offers them.

    Attributes
    ----------
    low, high : float
        Bounds; ``high`` None for none.
    low_open, high_open : bool
        The bound itself is excluded.
    ui_high : float
        Upper end of a spin box when there is no ``high``.
    step : float
        Spin box step; an open lower bound starts the spin box one step above it.
    """

    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    ui_high: float = 10.0
    step: float = 0.1

    def __contains__(self, value: float) -> bool:
        if not isinstance(value, (int, float)) or math.isnan(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        if self.high is None:
            return above
        return above and (value < self.high if self.high_open else value <= self.high)

    def describe(self) -> str:
        """The range in words, e.g. ``"> 0"`` or ``"0 to 1"``."""
        low = f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is None:
            return low
        if not (self.low_open or self.high_open):
            return f"{self.low:g} to {self.high:g}"
        return f"{low} and {'<' if self.high_open else '<='} {self.high:g}"

    def spin_box(self) -> dict[str, float]:
        """``min``, ``max`` and ``step`` for a spin box."""
        low = self.low + self.step if self.low_open else self.low
        high = self.ui_high if self.high is None else self.high
        return {"min": low, "max": high, "step": self.step}


def _field(default: float, allowed: Range, unit: str = ""):
    return dataclasses.field(default=default, metadata={"range": allowed, "unit": unit})


@dataclass(frozen=True)
class RefineParams:
    """Parameters of :func:`refine`; the defaults hold across image and object sizes.

    Attributes
    ----------
    band : float
        Half-width of the undecided band along each coarse outline, in cells
        of the object's 28x28 mask grid (a cell is the object's box height / 28
        vertically and width / 28 horizontally). A Mask R-CNN outline that
        is well placed errs by under half a cell; misplaced ones are moved
        first (see ``align``). Default 1.0.
    prior : float
        Pull of the coarse outline: a photo edge of normalised strength ``s``
        lying ``d`` band half-widths from the coarse outline wins when
        ``s > prior * d``. 0 trusts the photo alone. Default 0.6.
    edge_sigma : float
        Gaussian smoothing before differentiation, in pixels. Default 1.0.
    edge_percentile : float
        Band gradients at or above this percentile count as a clear edge.
        The outline covers only a few per cent of the band, so this must be
        high for the outline to stand out from texture. Default 98.
    soft_sigma : float
        Blur of the coarse mask for soft masking, in cells (mean over
        objects of the cell's side). Default 1.0.
    soft_strength : float
        How much soft masking dims object interiors, 0 (off) to 1 (to black).
        Default 0.5.
    ridge : float
        The middle line of parts thinner than the band (straps, shoes, a bag,
        the gap between an arm and the body, a belt between two garments)
        stays sure, so the watershed cannot give such a part away for want of
        a seed: pixels on the medial ridge at least this many cells from the
        coarse outline (see :func:`napari_boostseg.markers.band_geometry`). Must
        exceed the typical error of the coarse outline. 0 turns it off.
        Default 0.5.
    align : float
        Largest shift, in cells, tried when moving a misplaced coarse mask to
        fit the photo's colours before refining (see
        :mod:`napari_boostseg.alignment`); growth and shrinkage of up to 1.5
        cells and box height and width changes of up to 4 % are tried with
        it. 0 turns alignment off. Default 2.0.
    moved_band : float
        Least half-width of the band, in cells, for objects that alignment
        moved (they get ``max(band, moved_band)``): a moved outline is a good
        guess but less certain than one that was right from the start. On
        CCP training photos with jittered masks, IoU and mBA rose steadily
        from 2 to 3.5 cells (3 keeps the flood's cost in check). Default 3.0.
    wide_band : float
        Half-width of the band, in cells, of a second try for an unmoved
        object that touches no other and whose coarse and refined outlines
        both lie on no clear edge (mean normalised edge strength under
        ``keep_edge``). A detector's mask that misses a part by more than
        ``band`` (a coat's edge, a boot) is not a shifted one, so alignment
        leaves it; the wider result is kept when its outline lies on edges
        ``confirm_move`` times as strong as the first one's and it passes the
        checks (see ``min_core``). Objects that touch are left out: their
        shared border is faint and a wide band found a neighbour's inner
        edges (10 of 165 CCP training garments from oracle-28 masks lost up to
        0.03 IoU each).
        On CCP training people (every 8th or 16th of 0001-0800), 4 raised IoU
        from the bundled model's masks from 0.830 to 0.843 and from
        harsh-jittered masks from 0.836 to 0.857, and left oracle-28 masks as
        they were (0.975). 0 turns it off. Default 4.0.
    align_gain : float
        A mask is moved only when the move raises the colour evidence by at
        least this much per band pixel, in nats (log-likelihood ratio clipped
        to +-3). Higher values move fewer masks; an accurate mask's best move
        gains well under 0.08. Default 0.08.
    moved_prior : float
        ``prior`` for objects that alignment moved: their outline is a guess
        good to about a cell, and pulls less than one that was right from
        the start. On CCP training photos (every 16th of 0001-0800), 0.4
        raised person IoU from harsh-jittered masks by 0.008 and from
        jittered ones by 0.005 (a lower ``prior`` for every object cost
        oracle-28 masks 0.0015). Default 0.4.
    core_depth : float
        Depth of an object's core, in cells: the pixels of the coarse mask
        at least this far from its outline, or, in parts thinner than
        twice this, the middle half of the part (see
        :func:`napari_boostseg.safety.core_mask`). Default 1.0.
    min_core : float
        Share of the core, 0 to 1, that a refined object must keep; one
        that keeps less has been lost or replaced by a fragment, and falls
        back to a safer choice: the unmoved coarse mask in its normal band
        (if alignment moved it), the same in a band half as wide, and
        finally the coarse mask itself. 0 turns the check off. Default 0.6.
    min_support : float
        A refined outline must lie on photo edges at least this strong,
        relative to the mean normalised edge strength along the coarse
        outline (0 turns the check off); a weaker one falls back as for
        ``min_core``. Default 0.5.
    confirm_move : float
        A move by alignment is kept only when the result confirms it: the
        refined outline of the moved object must lie on photo edges at least
        this many times as strong (mean normalised edge strength) as the
        coarse outline it replaces; otherwise the object is refined unmoved
        (and checked as for ``min_core``). On CCP training photos
        (garment instances, ids 0001-0800, every 32nd) 1.4 turned back 19 of
        24 moves of accurate oracle-28 masks, which lost 0.075 IoU on
        average, and 18 of 149 moves of jittered masks, which gained 0.01.
        0 keeps every move. Default 1.4.
    keep_edge : float
        An unmoved coarse outline whose mean normalised edge strength (1: a
        clear edge) is at least this, and at least that of the refined
        outline, is already right: the coarse mask is kept. Above 1 turns
        it off. Default 0.6.
    small_cell : float
        An object whose grid cells are at most this many pixels on their
        longer side (a box under ``28 * small_cell`` pixels) keeps its coarse
        mask unless the result confirmed a move by alignment: a 28x28 grid
        about as fine as the pixels leaves the watershed little to correct
        but faint edges to follow astray. On CCP training garments (every
        32nd photo of 0001-0800) 3 lifted oracle-28 instances of 56-150 px
        from 0.953 to 0.961 mean IoU and left jittered ones as they were
        (2: 0.953). On every 16th photo, 4 lifted oracle-28 instances from
        0.9677 to 0.9705 (56-150 px: 0.9648 -> 0.9723), jittered 0.8774 ->
        0.8777, harsh 0.8533 -> 0.8530; 5, 6 and 8 lifted oracle-28 further
        (0.9709, 0.9723, 0.9731) but lowered jittered (0.8771, 0.8753,
        0.8750); generated thin objects (seeds 0-119, every 2nd) did not
        change, nor did 391 products of studio training photos at 1000 px
        (sets, touching products, holes, prints), even at 5. 0 turns it
        off. Default 4.0.
    shadow_depth : float
        How deep inside a refined outline, in cells of the box's longer side
        (0 turns it off), a soft shadow it took in may go back to the
        backdrop (:mod:`napari_boostseg.shadows`): where a light product's
        edge is faint, the watershed can follow the outer rim of its shadow,
        and the cut-out carries a grey halo. A shadow is read from the
        outline's profile: brightness falling steadily inwards, of the
        paper's colour. On training photos of the studio generator 0.5
        lifted light products on light paper and left the others as they
        were (see docs/studio.md). Default 0.5.
    """
    band: float = _field(1.0, Range(0.0, low_open=True, ui_high=10.0, step=0.1), "cells")
    prior: float = _field(0.6, Range(0.0, ui_high=5.0, step=0.05))
    edge_sigma: float = _field(1.0, Range(0.0, ui_high=10.0, step=0.1), "px")
    edge_percentile: float = _field(98.0, Range(0.0, 100.0, low_open=True, step=1.0), "percentile")
    soft_sigma: float = _field(1.0, Range(0.0, low_open=True, ui_high=10.0, step=0.1), "cells")
    soft_strength: float = _field(0.5, Range(0.0, 1.0, step=0.05))
    ridge: float = _field(0.5, Range(0.0, ui_high=10.0, step=0.1), "cells")
    align: float = _field(2.0, Range(0.0, ui_high=10.0, step=0.5), "cells")
    align_gain: float = _field(0.08, Range(0.0, ui_high=3.0, step=0.01), "nats")
    moved_band: float = _field(3.0, Range(0.0, low_open=True, ui_high=10.0, step=0.1), "cells")
    moved_prior: float = _field(0.4, Range(0.0, ui_high=5.0, step=0.05))
    wide_band: float = _field(4.0, Range(0.0, ui_high=10.0, step=0.1), "cells")
    core_depth: float = _field(1.0, Range(0.0, low_open=True, ui_high=10.0, step=0.1), "cells")
    min_core: float = _field(0.6, Range(0.0, 1.0, step=0.05), "share")
    min_support: float = _field(0.5, Range(0.0, ui_high=5.0, step=0.05))
    confirm_move: float = _field(1.4, Range(0.0, ui_high=10.0, step=0.1))
    keep_edge: float = _field(0.6, Range(0.0, ui_high=2.0, step=0.05))
    small_cell: float = _field(4.0, Range(0.0, ui_high=10.0, step=0.5), "px")
    shadow_depth: float = _field(0.5, Range(0.0, ui_high=3.0, step=0.1), "cells")

    def __post_init__(self) -> None:
        bad = [
            f"{name}={value!r} (must be {allowed})"
            for name, value, allowed in self.out_of_range(dataclasses.asdict(self))
        ]
        if bad:
            raise ValueError(f"invalid refinement parameters: {', '.join(bad)}; see RefineParams")

    @classmethod
    def out_of_range(cls, values) -> list[tuple[str, float, str]]:
        """``(name, value, what is allowed)`` for each of ``values`` (field name: value) outside
        its field's range: the one check, for the class and for callers that name fields otherwise."""
        ranges = cls.ranges()
        return [(name, value, ranges[name].describe()) for name, value in values.items() if value not in ranges[name]]

    @classmethod
    def ranges(cls) -> dict[str, Range]:
        """Each field's allowed :class:`Range`."""
        return {f.name: f.metadata["range"] for f in dataclasses.fields(cls)}

    @classmethod
    def units(cls) -> dict[str, str]:
        """Each field's unit ("cells", "px", "percentile", "share", "nats"); "" for a plain number."""
        return {f.name: f.metadata["unit"] for f in dataclasses.fields(cls)}

    @classmethod
    def field_help(cls) -> dict[str, str]:
        """Each field's documentation (from the class docstring) as plain text, for a UI or a CLI.

        Sphinx markup is dropped: ``:func:`x``` and double back-quoted code read ``x``.
        """
        pattern = re.compile(r"^    (\w+) : .*\n((?:        .*\n?)+)", re.MULTILINE)
        roles, code = re.compile(r":\w+:`~?([^`]+)`"), re.compile(r"``([^`]+)``")
        return {
            name: code.sub(r"\1", roles.sub(r"\1", " ".join(body.split())))
            for name, body in pattern.findall(cls.__doc__ or "")
        }


#: The defaults every public step function takes its own defaults from.
DEFAULT_PARAMS = RefineParams()
