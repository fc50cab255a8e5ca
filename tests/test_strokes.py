"""Marker strokes that claim a region up to the photo's edge (napari_boostseg.strokes)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_boostseg import BACKGROUND, UNDECIDED, RefineParams, refine, reflood
from napari_boostseg.strokes import changed_window, stroke_markers, stroke_reach

from _scenes import shirt_with_sleeve as shirt


def paint(markers: np.ndarray, rows: slice, cols: slice, value: int) -> np.ndarray:
    painted = markers.copy()
    painted[rows, cols] = value
    return painted


def test_reach_in_grid_cells():
    coarse = np.zeros((300, 300), np.int32)
    coarse[10:150, 20:90] = 1  # larger side 140 px: a cell of 5 px
    coarse[200:220, 200:210] = 2
    assert stroke_reach(coarse, 3.0) == pytest.approx(15.0)
    assert stroke_reach(np.zeros((56, 10), np.int32), 1.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="cells"):
        stroke_reach(coarse, -1)


def test_object_stroke_claims_the_missed_sleeve_up_to_its_edge():
    image, coarse, truth, sleeve, _ = shirt()
    result = refine(image, coarse, return_intermediates=True)
    assert (result.labels[sleeve] == 1).mean() < 0.1, "the coarse mask misses the sleeve"
    # One stroke of object 1 (marker 2) along the sleeve's middle, 5 px wide.
    painted = paint(result.markers, slice(95, 100), slice(310, 410), 2)
    reach = stroke_reach(coarse, 3.0)
    assert reach > 20  # the sleeve's edges lie within reach of the stroke

    # The stroke alone claims little more than its own pixels ...
    alone = reflood(result, painted)
    assert (alone[sleeve] == 1).mean() < 0.5
    # ... re-marked, it claims the sleeve up to the photo's edge and no further.
    markers = stroke_markers(result.markers, painted, result.labels, reach)
    labels = reflood(result, markers)
    assert (labels[sleeve] == 1).mean() > 0.97
    outside = (truth == 0) & ~ndi.binary_dilation(sleeve, iterations=2)
    np.testing.assert_array_equal(labels[outside], result.labels[outside])
    # The stroke is kept; sure background beyond reach is untouched.
    assert np.all(markers[95:100, 310:410] == 2)
    far = ndi.distance_transform_edt(painted == result.markers) > reach + 1
    np.testing.assert_array_equal(markers[far], result.markers[far])


def test_object_stroke_in_the_band_where_background_won_claims_beyond_it():
    # Object 1 left, a band of 10 columns, sure background right; the flood gave the band's
    # right half to the background.
    automatic = np.full((30, 60), BACKGROUND, np.int32)
    automatic[:, :20] = 2
    automatic[:, 20:30] = UNDECIDED
    labels = np.zeros((30, 60), np.int32)
    labels[:, :25] = 1
    painted = automatic.copy()
    painted[10:20, 26:29] = 2  # in the band, where the background won
    markers = stroke_markers(automatic, painted, labels, reach=8.0)
    near = ndi.distance_transform_edt(painted == automatic) <= 8.0
    assert np.all(markers[near & (automatic == BACKGROUND)] == UNDECIDED)
    assert np.all(markers[~near] == automatic[~near])
    # Painted where the object already won, it claims nothing more.
    painted = automatic.copy()
    painted[10:20, 21:24] = 2
    np.testing.assert_array_equal(stroke_markers(automatic, painted, labels, 8.0), painted)


def test_background_stroke_gives_back_a_claimed_patch_up_to_the_edge():
    image, coarse, truth, sleeve, flap = shirt(flap=True)
    result = refine(image, coarse, params=None, return_intermediates=True)
    kept = flap & (result.labels == 1)
    assert kept.sum() > 0.5 * flap.sum(), "the refinement keeps the patch the coarse mask claims"
    painted = paint(result.markers, slice(197, 202), slice(70, 145), BACKGROUND)
    reach = stroke_reach(coarse, 3.0)
    alone = reflood(result, painted)
    assert (alone[flap] == 1).mean() > 0.4  # painted alone, most of the patch stays
    labels = reflood(result, stroke_markers(result.markers, painted, result.labels, reach))
    assert (labels[flap] == 1).mean() < 0.03
    body = (truth == 1) & ~sleeve
    assert (labels[body] == 1).mean() >= (result.labels[body] == 1).mean() > 0.99  # body kept


def test_background_stroke_never_removes_an_object():
    image, coarse, truth, _, _ = shirt()
    coarse[20:32, 40:52] = 2  # a small second object, near nothing else
    image[20:32, 40:52] = (150, 30, 20)
    result = refine(image, coarse, return_intermediates=True)
    assert (result.labels == 2).sum() > 80
    # Background painted over half of it: its other seeds, all within reach, stay.
    painted = paint(result.markers, slice(18, 34), slice(38, 45), BACKGROUND)
    markers = stroke_markers(result.markers, painted, result.labels, reach=40.0)
    assert (markers == 3).sum() == (painted == 3).sum() > 0
    labels = reflood(result, markers)
    assert (labels == 2).sum() > 20


def test_no_stroke_no_change_and_windows_agree():
    image, coarse, _, _, _ = shirt()
    # The body's coarse outline lies on clear edges; keep_edge above 1 refines it
    # anyway, so that it has an undecided band to paint in.
    result = refine(image, coarse, RefineParams(keep_edge=2.0), return_intermediates=True)
    same = stroke_markers(result.markers, result.markers.copy(), result.labels, 10.0)
    np.testing.assert_array_equal(same, result.markers)
    painted = paint(result.markers, slice(95, 100), slice(310, 410), 2)
    painted[200:204, 10:20] = BACKGROUND  # an edit that changes nothing (already background)
    painted[150:152, 200:260] = UNDECIDED  # an eraser stroke inside the body
    painted[58:61, 200:260] = BACKGROUND  # a background stroke in the band along the top
    whole = stroke_markers(result.markers, painted, result.labels, 12.0)
    window = changed_window(result.markers, painted, 12.0)
    part = stroke_markers(result.markers, painted, result.labels, 12.0, window=window)
    np.testing.assert_array_equal(part, whole[window])
    # Eraser strokes and strokes in the band re-mark nothing.
    for box in [(slice(140, 162), slice(190, 270)), (slice(40, 80), slice(190, 270))]:
        np.testing.assert_array_equal(whole[box], painted[box])


def test_bad_input():
    a = np.zeros((4, 5), np.int32)
    with pytest.raises(ValueError, match="one shape"):
        stroke_markers(a, a[:3], a, 2.0)
    with pytest.raises(ValueError, match="reach"):
        stroke_markers(a, a, a, -1.0)
