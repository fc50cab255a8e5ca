import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from napari_boostseg import Refinement, RefineParams, refine, refine_with_report, reflood
from napari_boostseg.coarse import jittered28, oracle28
from napari_boostseg.markers import BACKGROUND, UNDECIDED
from napari_boostseg.metrics import boundary_accuracy, iou

from _scenes import scene


def _coarse_labels(truth, maker=oracle28):
    coarse = np.zeros_like(truth)
    for k in range(1, truth.max() + 1):
        coarse[maker(truth == k) & (coarse == 0)] = k
    return coarse


@pytest.mark.parametrize(
    "maker, iou_gain, mba_gain",
    [(oracle28, 0.01, 0.15), (lambda m: jittered28(m, seed=3), 0.15, 0.40)],
    ids=["oracle", "jittered"],
)
def test_refinement_beats_the_coarse_mask_on_a_sharp_shape(maker, iou_gain, mba_gain):
    image, truth = scene(seed=1)
    coarse = _coarse_labels(truth, maker)
    out = refine(image, coarse)
    before = iou(coarse > 0, truth > 0), boundary_accuracy(coarse > 0, truth > 0)
    after = iou(out > 0, truth > 0), boundary_accuracy(out > 0, truth > 0)
    # Stated margins over the coarse mask, on a plain backdrop.
    assert after[0] >= before[0] + iou_gain, (before, after)
    assert after[1] >= before[1] + mba_gain, (before, after)


def test_several_objects_keep_their_ids():
    image, truth = scene(seed=2, objects=3)
    coarse = _coarse_labels(truth)
    ids = {1: 5, 2: 17, 3: 300}
    relabelled = np.zeros_like(coarse)
    for old, new in ids.items():
        relabelled[coarse == old] = new
    out = refine(image, relabelled)
    assert set(np.unique(out)) == {0, 5, 17, 300}
    for old, new in ids.items():
        assert iou(out == new, truth == old) > 0.95


def test_touching_objects_are_split_at_their_edge():
    image, truth = scene(seed=4, objects=2, touching=True)
    assert np.any((truth[:, 1:] != truth[:, :-1]) & (truth[:, 1:] > 0) & (truth[:, :-1] > 0))
    coarse = _coarse_labels(truth)
    out = refine(image, coarse)
    for k in (1, 2):
        assert iou(out == k, truth == k) > iou(coarse == k, truth == k)


def test_zero_objects_give_all_background():
    image, _ = scene()
    out = refine(image, np.zeros(image.shape[:2], bool))
    assert out.dtype == np.int32 and not out.any()
    full = refine(image, np.zeros(image.shape[:2], bool), return_intermediates=True)
    assert not full.labels.any() and np.all(full.markers == BACKGROUND)


@pytest.mark.parametrize(
    "convert",
    [
        lambda im: im,
        lambda im: im.astype(np.uint16) * 257,
        lambda im: im.astype(np.float32) / 255,
        lambda im: im.mean(axis=2).astype(np.uint8),
        lambda im: np.dstack([im, np.full(im.shape[:2], 255, np.uint8)]),
    ],
    ids=["uint8", "uint16", "float", "grey", "rgba"],
)
def test_dtypes_and_channels_give_the_same_kind_of_result(convert):
    image, truth = scene(seed=5)
    coarse = oracle28(truth > 0)
    out = refine(convert(image), coarse)
    assert out.shape == truth.shape
    assert iou(out > 0, truth > 0) > 0.97


def test_intermediates_agree_with_the_fast_path():
    image, truth = scene(seed=6)
    coarse = oracle28(truth > 0)
    full = refine(image, coarse, return_intermediates=True)
    assert isinstance(full, Refinement)
    np.testing.assert_array_equal(full.labels, refine(image, coarse))
    assert full.soft_masked.dtype == image.dtype and full.soft_masked.shape == image.shape
    assert full.edges.dtype == np.float32 and full.edges.shape == truth.shape
    assert full.markers.dtype == np.int32
    assert {UNDECIDED, BACKGROUND, 2} == set(np.unique(full.markers))
    # Interior darkened, background untouched.
    assert full.soft_masked[240, 320].sum() < image[240, 320].sum()
    assert np.array_equal(full.soft_masked[0, 0], image[0, 0])


def test_reflood_follows_edited_markers():
    image, truth = scene(seed=7)
    coarse = oracle28(truth > 0)
    full = refine(image, coarse, return_intermediates=True)
    np.testing.assert_array_equal(reflood(full, full.markers), full.labels)
    edited = full.markers.copy()
    edited[200:260, :] = BACKGROUND  # cut the object in two with a stroke
    labels = reflood(full, edited)
    assert not labels[200:260].any()
    assert labels[150:200].any() and labels[260:].any()


def test_parameters_are_validated():
    with pytest.raises(ValueError, match="band"):
        RefineParams(band=-1)
    with pytest.raises(ValueError, match="soft_strength"):
        RefineParams(soft_strength=3)
    with pytest.raises(ValueError, match=r"edge_percentile=0 \(must be > 0 and <= 100\)"):
        RefineParams(edge_percentile=0)
    assert dataclasses.replace(RefineParams(), band=2.0).band == 2.0


def test_one_range_per_parameter_read_by_validation_and_the_spin_boxes():
    ranges = RefineParams.ranges()
    assert set(ranges) == {f.name for f in dataclasses.fields(RefineParams)}
    for name, allowed in ranges.items():
        default = getattr(RefineParams(), name)
        box = allowed.spin_box()
        # The default lies in the range and in the spin box's span.
        assert default in allowed and box["min"] <= default <= box["max"], name
        # Both ends of the spin box are values validation accepts.
        RefineParams(**{name: box["min"]})
        RefineParams(**{name: box["max"]})
    assert ranges["min_core"].describe() == "0 to 1"
    assert 1.01 not in ranges["min_core"] and 0 not in ranges["band"]


def test_each_unit_is_the_one_its_documentation_states():
    docs, units = RefineParams.field_help(), RefineParams.units()
    assert set(units) == {f.name for f in dataclasses.fields(RefineParams)}
    words = {"cells": "cell", "px": "pixel", "percentile": "percentile", "share": "share", "nats": "nats"}
    for name, unit in units.items():
        if unit:
            assert words[unit] in docs[name].lower(), name
    assert units["band"] == "cells" and units["edge_sigma"] == "px" and units["prior"] == ""


def test_step_functions_default_to_the_refinement_defaults():
    import inspect

    from napari_boostseg import alignment, edges, markers, softmask
    from napari_boostseg.params import DEFAULT_PARAMS as d

    expected = {
        (markers.band_geometry, "band"): d.band,
        (markers.band_geometry, "ridge"): d.ridge,
        (markers.make_markers, "band"): d.band,
        (markers.make_markers, "ridge"): d.ridge,
        (edges.edge_map, "prior"): d.prior,
        (edges.edge_map, "percentile"): d.edge_percentile,
        (edges.gradient_magnitude, "sigma"): d.edge_sigma,
        (edges.gradient_in_band, "sigma"): d.edge_sigma,
        (softmask.apply_soft_mask, "strength"): d.soft_strength,
        (alignment.align_objects, "search"): d.align,
        (alignment.align_objects, "min_gain"): d.align_gain,
    }
    for (function, name), value in expected.items():
        assert inspect.signature(function).parameters[name].default == value, (function.__name__, name)


def test_shape_mismatch_is_reported():
    with pytest.raises(ValueError, match="does not match"):
        refine(np.zeros((10, 10, 3), np.uint8), np.zeros((10, 11), bool))


def test_importing_the_core_pulls_in_neither_napari_qt_nor_tensorflow():
    code = (
        "import sys, napari_boostseg, napari_boostseg.refine, napari_boostseg.batch;"
        "heavy = [m for m in ('tensorflow', 'napari', 'qtpy', 'PyQt6', 'PyQt5') if m in sys.modules];"
        "print(heavy); sys.exit(bool(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_local_reflood_matches_the_edit_and_keeps_the_rest():
    image, truth = scene(seed=8, shape=(600, 800))
    coarse = oracle28(truth > 0)
    full = refine(image, coarse, return_intermediates=True)
    edited = full.markers.copy()
    edited[280:300, 300:340] = BACKGROUND  # a small stroke inside the object
    local = reflood(full, edited, previous_markers=full.markers, previous_labels=full.labels)
    everywhere = reflood(full, edited)
    assert not local[280:300, 300:340].any()
    # Same answer as flooding the whole band, in this case and in general
    # close to it; far from the stroke nothing moves.
    assert np.count_nonzero(local != everywhere) <= 0.001 * local.size
    far = np.ones(local.shape, bool)
    far[150:430, 150:490] = False
    np.testing.assert_array_equal(local[far], full.labels[far])
    unchanged = reflood(full, full.markers, previous_markers=full.markers, previous_labels=full.labels)
    np.testing.assert_array_equal(unchanged, full.labels)


@pytest.mark.parametrize("soft_sigma", [0.3, 1.0, 2.5])
def test_fast_path_equals_the_whole_image_computation(soft_sigma):
    """Labels alone are computed on a crop around the objects; they must be the
    labels the whole-image computation (what napari shows) gives, also with
    objects cut by the frame and a coarse mask that alignment moves."""
    from napari_boostseg.alignment import align_objects

    image, truth = scene(seed=9, shape=(500, 700), objects=3)
    coarse = _coarse_labels(truth)
    coarse[:, :80][coarse[:, :80] > 0] = 0
    coarse[:60, :200] = 0
    coarse[:40, :150] = 4  # an object cut by the top and left edges
    shifted = np.zeros_like(coarse)
    shifted[:, 25:] = np.where(coarse[:, :-25] == 1, 1, 0)  # object 1 two cells off
    coarse[coarse == 1] = 0
    coarse[(shifted == 1) & (coarse == 0)] = 1
    params = RefineParams(soft_sigma=soft_sigma)
    _, moves = align_objects(image, coarse, params.align, params.align_gain)
    assert any(m.applied for m in moves)
    full = refine(image, coarse, params, return_intermediates=True)
    np.testing.assert_array_equal(refine(image, coarse, params), full.labels)
    assert set(np.unique(full.labels)) == {0, 1, 2, 3, 4}


def test_a_small_object_beside_a_big_one_survives():
    truth = np.zeros((400, 400), np.int32)
    truth[50:350, 100:300] = 1
    truth[150:170, 300:306] = 2  # thinner than the big object's band
    rng = np.random.default_rng(0)
    colours = np.array([[120, 120, 120], [200, 40, 40], [40, 40, 200]], np.float32)
    image = np.clip(colours[truth] + rng.normal(0, 6, truth.shape + (3,)), 0, 255).astype(np.uint8)
    out = refine(image, truth)
    assert iou(out == 2, truth == 2) > 0.9
    assert iou(out == 1, truth == 1) > 0.97


def test_float16_photo_refines_like_float32():
    image, truth = scene(seed=5)
    coarse = oracle28(truth > 0)
    half = (image / 255).astype(np.float16)
    np.testing.assert_array_equal(refine(half, coarse), refine(half.astype(np.float32), coarse))


def test_large_sparse_ids_are_kept_without_a_table_per_id():
    image, truth = scene(seed=3, objects=2)
    coarse = oracle28(truth > 0)
    coarse = np.where(coarse, truth, 0).astype(np.int32)
    expected = refine(image, coarse)
    big = np.array([0, 10**7, 2**31 - 3], np.int32)[coarse]
    # Tables sized by the largest id would take tens of GB here.
    np.testing.assert_array_equal(refine(image, big), big_of(expected))
    full = refine(image, big, return_intermediates=True)
    np.testing.assert_array_equal(full.labels, big_of(expected))
    np.testing.assert_array_equal(full.coarse, big)
    assert set(np.unique(full.markers)) == {UNDECIDED, BACKGROUND, 10**7 + 1, 2**31 - 2}
    np.testing.assert_array_equal(reflood(full, full.markers), full.labels)


def big_of(labels):
    return np.array([0, 10**7, 2**31 - 3], np.int32)[labels]


def _street_half():
    """The shipped street photo at half size and its woman's true mask."""
    from napari_boostseg.sample_photos import load_sample_photo

    sample = load_sample_photo("street")
    return np.ascontiguousarray(sample.image[::2, ::2]), sample.truth[::2, ::2] == 1


def test_a_mask_that_misses_parts_beyond_the_band_is_refined_in_a_wider_one():
    from napari_boostseg.refine import refine_with_report

    image, truth = _street_half()
    # Shrunk by a cell with the square and its box moved: it misses her coat's edge and
    # boots by more than a cell, and alignment leaves it where it is.
    coarse = jittered28(truth, 2, footprint="square").astype(np.int32)
    narrow = refine(image, coarse, RefineParams(wide_band=0))
    labels, (report,) = refine_with_report(image, coarse)
    assert report.widened and not report.moved and not report.fallback
    assert iou(labels == 1, truth) > iou(narrow == 1, truth) + 0.1
    assert iou(labels == 1, truth) > 0.8


def test_a_good_mask_and_touching_objects_are_not_widened():
    from napari_boostseg.refine import refine_with_report

    image, truth = _street_half()
    _, (report,) = refine_with_report(image, oracle28(truth).astype(np.int32))
    assert not report.widened
    # The same poor mask beside a neighbour: a wide band would find the neighbour's edges.
    coarse = jittered28(truth, 2, footprint="square").astype(np.int32)
    from scipy import ndimage as ndi

    rows = np.nonzero(coarse == 1)[0]
    beside = ndi.binary_dilation(coarse == 1, iterations=25) & (coarse == 0)
    beside[(rows.min() + rows.max()) // 2 :] = False  # along the upper half of her
    coarse[beside] = 2
    _, reports = refine_with_report(image, coarse)
    assert not any(r.widened for r in reports)


def test_a_belt_between_two_garments_stays_background():
    """A dark belt lies across the narrow gap between a dark top and a skirt, touching
    the top with no edge between them; every pixel of the gap lies in a band. The
    gap's middle line is a background seed, so the top does not flood along the belt."""
    rng = np.random.default_rng(0)
    image = np.full((400, 400, 3), 210, np.uint8)
    truth = np.zeros((400, 400), np.int32)
    truth[40:180, 60:340] = 1  # cells of 5 x 10 px
    truth[188:328, 60:340] = 2  # 8 px below: a gap of 1.6 cells
    image[truth == 1] = (40, 40, 50)
    image[truth == 2] = (150, 60, 60)
    image[180:185, 60:340] = (40, 40, 50)  # the belt, the top's colour
    image = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    labels, objects = refine_with_report(image, truth)
    assert [o.moved for o in objects] == [False, False]
    assert iou(labels == 1, truth == 1) > 0.97
    assert iou(labels == 2, truth == 2) > 0.97
    assert np.count_nonzero(labels[181:188, 100:300]) < 0.1 * 7 * 200


def test_a_small_object_does_not_flood_along_a_neighbours_wide_band():
    """A tag of 18 x 20 px beside a shifted red object: alignment moves the red one
    and gives it a 3-cell band, which holds a dark cord lying on the backdrop. The
    tag floods along the cord in that band, far beyond its own, and then keeps
    its coarse mask (a grid as fine as the pixels); what its flood reached
    beyond its window goes back to the backdrop."""
    rng = np.random.default_rng(0)
    truth = np.zeros((300, 300), np.int32)
    truth[50:250, 50:230] = 1
    truth[140:160, 246:264] = 2
    image = np.where(truth[..., None] > 0, [150, 40, 40], [200, 200, 200]).astype(np.float32)
    image[truth == 2] = (40, 40, 60)
    image[60:240, 236:246] = (40, 40, 60)  # the cord, the tag's colour, touching it
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    coarse = np.zeros_like(truth)
    coarse[60:260, 60:240] = 1  # 10 px off: 1.5 cells
    coarse[truth == 2] = 2
    labels, objects = refine_with_report(image, coarse)
    assert [(o.moved, o.fallback) for o in objects] == [(True, ""), (False, "small")]
    assert iou(labels == 1, truth == 1) > 0.99
    np.testing.assert_array_equal(labels == 2, truth == 2)
