import numpy as np
import pytest

from napari_boostseg.coarse import area_matrix, bilinear_matrix, bounding_box, jittered28, oracle28
from napari_boostseg.metrics import iou

from _scenes import disk_labels


def test_area_matrix_averages_and_preserves_mass():
    m = area_matrix(28, 100)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=1e-5)
    signal = np.arange(100, dtype=np.float32)
    assert (m @ signal).mean() == pytest.approx(signal.mean(), rel=1e-5)
    np.testing.assert_allclose(area_matrix(2, 4) @ np.array([1, 3, 5, 7.0]), [2, 6])


def test_bilinear_matrix_rows_are_convex_weights():
    m = bilinear_matrix(100, 28)
    np.testing.assert_allclose(m.sum(axis=1), 1.0, rtol=1e-5)
    assert (m >= 0).all()
    np.testing.assert_allclose(bilinear_matrix(4, 2) @ np.array([0.0, 1.0]), [0, 0.25, 0.75, 1])


def test_oracle_is_close_but_not_exact_for_a_fine_shape():
    truth = disk_labels((400, 300), [(200, 150)], 120) > 0
    truth[190:210, 20:40] = True  # a thin appendage, finer than a grid cell... almost
    coarse = oracle28(truth)
    assert coarse.dtype == bool and coarse.shape == truth.shape
    assert 0.9 < iou(coarse, truth) < 1.0
    assert bounding_box(coarse) is not None


def test_jitter_is_reproducible_and_worse_than_the_oracle():
    truth = disk_labels((400, 300), [(200, 150)], 120) > 0
    a, b = jittered28(truth, seed=5), jittered28(truth, seed=5)
    np.testing.assert_array_equal(a, b)
    assert iou(a, truth) < iou(oracle28(truth), truth)
    assert iou(a, truth) > 0.6


def test_empty_masks():
    empty = np.zeros((10, 10), bool)
    assert not oracle28(empty).any() and not jittered28(empty).any()
    assert bounding_box(empty) is None
    with pytest.raises(ValueError, match="2-D"):
        oracle28(np.zeros((2, 2, 2)))


def test_harsh_jitter_moves_diagonal_outlines_further_than_the_cross():
    # The same box jitter (same seed), the grid grown or shrunk by the
    # square instead of the cross: further from the truth on average.
    truth = disk_labels((400, 300), [(200, 150)], 120) > 0
    cross = [iou(jittered28(truth, seed=s), truth) for s in range(8)]
    square = [iou(jittered28(truth, seed=s, footprint="square"), truth) for s in range(8)]
    assert np.mean(square) < np.mean(cross)
    with pytest.raises(ValueError, match="footprint"):
        jittered28(truth, footprint="disk")
