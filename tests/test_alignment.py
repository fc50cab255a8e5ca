"""Alignment of misplaced coarse masks, and ridge markers for thin parts."""

import numpy as np

from napari_boostseg import RefineParams, refine
from napari_boostseg.alignment import align_objects
from napari_boostseg.markers import UNDECIDED, band_geometry
from napari_boostseg.metrics import iou


def _photo(truth: np.ndarray, seed: int = 0) -> np.ndarray:
    """A red object on a grey, slightly noisy backdrop."""
    rng = np.random.default_rng(seed)
    image = np.where(truth[..., None], [200, 40, 40], [120, 120, 120]).astype(np.float32)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _disc(shape: tuple[int, int], centre: tuple[float, float], radius: float) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_shifted_mask_is_moved_back() -> None:
    truth = _disc((300, 300), (150, 150), 80)
    coarse = _disc((300, 300), (150, 162), 80)  # about 2 cells to the right
    moved, moves = align_objects(_photo(truth), coarse.astype(np.int32))
    assert moves[0].applied
    assert iou(moved > 0, truth) > iou(coarse, truth) + 0.05


def test_accurate_mask_stays() -> None:
    truth = _disc((300, 300), (150, 150), 80)
    moved, moves = align_objects(_photo(truth), truth.astype(np.int32))
    assert not moves[0].applied
    np.testing.assert_array_equal(moved > 0, truth)


def test_alignment_off() -> None:
    truth = _disc((120, 120), (60, 60), 30)
    moved, moves = align_objects(_photo(truth), truth.astype(np.int32), search=0)
    assert moves == []
    np.testing.assert_array_equal(moved > 0, truth)


def test_refine_recovers_shifted_disc() -> None:
    truth = _disc((300, 300), (150, 150), 80)
    coarse = _disc((300, 300), (141, 160), 76)
    out = refine(_photo(truth), coarse)
    assert iou(out > 0, truth) > 0.97
    # Unmoved, in the one band, it stays short; the wider second band (an isolated
    # object, its outline off the photo's edge) would find the disc too.
    plain = refine(_photo(truth), coarse, RefineParams(align=0, wide_band=0))
    assert iou(out > 0, truth) > iou(plain > 0, truth)


def test_ridge_keeps_thin_part_seeded() -> None:
    labels = np.zeros((280, 280), bool)
    labels[40:240, 40:160] = True  # body
    labels[40:240, 200:210] = True  # a strap 1.6 cells thick (cell: 6.2 px wide)
    strap = (slice(40, 240), slice(200, 210))
    plain = band_geometry(labels, band=1.0, ridge=0)
    assert not (plain.markers[strap] == 2).any()
    geo = band_geometry(labels, band=1.0, ridge=0.5)
    assert (geo.markers[strap] == 2).any()
    # Seeds stay inside the strap, and the rest of the band stays undecided.
    assert not (geo.markers[40:240, 160:200] == 2).any()
    assert (geo.markers[40:240, 195:200] == UNDECIDED).all()


def test_box_too_short_is_stretched_back() -> None:
    """A detector box 8 % too short: the search finds the height change."""
    yy, xx = np.mgrid[:400, :300]
    truth = ((yy - 200) / 150.0) ** 2 + ((xx - 150) / 90.0) ** 2 <= 1
    coarse = ((yy - 200) / 138.0) ** 2 + ((xx - 150) / 90.0) ** 2 <= 1
    moved, moves = align_objects(_photo(truth), coarse.astype(np.int32))
    (move,) = moves
    assert move.applied and move.scale_y > 0 and move.scale_x <= 0.02
    assert iou(moved > 0, truth) > iou(coarse, truth) + 0.03


def test_boxes_after_large_moves_hold_the_moved_objects() -> None:
    """The labels-only path looks for a moved object only near its old box;
    after shifts, growths and box changes together it must still find all of it."""
    from napari_boostseg.objects import object_boxes
    from napari_boostseg.refine import _boxes_after_moves

    yy, xx = np.mgrid[:460, :360]
    truth = ((yy - 230) / 160.0) ** 2 + ((xx - 180) / 100.0) ** 2 <= 1
    for dy, dx, ay, ax in [(-20, 14, 140, 84), (18, -16, 146, 86), (-22, -18, 136, 82)]:
        labels = (((yy - 230 - dy) / ay) ** 2 + ((xx - 180 - dx) / ax) ** 2 <= 1).astype(np.int32)
        boxes = object_boxes(labels)
        guide, (move,) = align_objects(_photo(truth), labels, search=2.0)
        assert move.applied and move.growth >= 1.0  # a far move: shifted and grown
        assert _boxes_after_moves(guide, boxes, {1: 3.0}, 2.0) == object_boxes(guide)


def test_a_grid_finer_than_the_pixels_is_not_moved() -> None:
    """A box of 28 pixels or less has cells of a pixel or less: its outline is as
    exact as the photo allows, and alignment leaves it where it is. A box of 40 px
    with the same misplacement (a cell and a half) is moved."""
    for radius, moved in ((13, False), (20, True)):
        truth = _disc((120, 120), (60, 60), radius)
        coarse = _disc((120, 120), (60, 62), radius)
        _, moves = align_objects(_photo(truth), coarse.astype(np.int32))
        assert [m.applied for m in moves] == ([True] if moved else []), radius
