import numpy as np
import pytest

from napari_boostseg.metrics import (
    boundary_accuracy,
    boundary_f,
    ellipse_kernel,
    intersection_union,
    iou,
    mba_radii,
)

from _reference import cascadepsp_mba


def test_iou_by_hand():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2, :2] = True  # 4 pixels
    b[1:3, 1:3] = True  # 4 pixels, 1 shared
    assert intersection_union(a, b) == (1, 7)
    assert iou(a, b) == pytest.approx(1 / 7)
    assert iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0


def test_mba_radii_match_the_documented_values():
    assert mba_radii((825, 550)) == [1, 1, 2, 3, 3]
    assert mba_radii((1600, 2400)) == [1, 3, 5, 8, 10]


def test_ellipse_kernel_matches_opencv():
    cv2 = pytest.importorskip("cv2")
    for r in range(0, 16):
        expected = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)).astype(bool)
        np.testing.assert_array_equal(ellipse_kernel(r), expected)


def test_mba_equals_the_opencv_definition():
    pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    from scipy import ndimage as ndi

    for shape in [(120, 90), (825, 550), (300, 1000)]:
        gt = ndi.gaussian_filter(rng.random(shape), 8) > 0.5
        gt[:, :3] = True  # touch the image border: borders must behave as in OpenCV
        seg = ndi.gaussian_filter(rng.random(shape), 8) > 0.5
        assert boundary_accuracy(seg, gt) == pytest.approx(cascadepsp_mba(pred=seg, gt=gt), abs=1e-12)


def test_mba_by_hand_on_a_tiny_mask():
    gt = np.zeros((30, 30), bool)  # radii are all 1 at this size
    gt[10:20, 10:20] = True
    # Band of radius 1 with the 3x3 cross-like ellipse: ring 9..20 minus 11..18.
    assert boundary_accuracy(gt, gt) == 1.0
    assert boundary_accuracy(~gt, gt) == 0.0
    shifted = np.roll(gt, 1, axis=1)
    assert 0 < boundary_accuracy(shifted, gt) < 1


def test_boundary_f_by_hand():
    gt = np.zeros((50, 50), bool)
    gt[10:40, 10:40] = True
    assert boundary_f(gt, gt) == 1.0
    far = np.roll(gt, 10, axis=0)
    near = np.roll(gt, 1, axis=0)
    assert boundary_f(near, gt) > boundary_f(far, gt)
    # Tolerance 0: a one-pixel shift keeps only the vertical sides in place.
    assert boundary_f(near, gt, tolerance=0) < 0.8
    assert boundary_f(np.zeros_like(gt), gt) == 0.0
    assert boundary_f(np.zeros_like(gt), np.zeros_like(gt)) == 1.0


def test_shape_errors():
    with pytest.raises(ValueError, match="differ in shape"):
        iou(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        boundary_accuracy(np.zeros(4), np.zeros(4))


def test_a_crop_with_the_photo_shape_scores_as_the_whole_photo():
    rng = np.random.default_rng(4)
    shape = (1600, 2400)
    margin = max(mba_radii(shape)) + round(0.0075 * np.hypot(*shape)) + 2
    for box in ((slice(700, 900), slice(1000, 1400)), (slice(0, 300), slice(2200, 2400))):  # inside; at the edge
        gt = np.zeros(shape, bool)
        gt[box] = True
        pred = np.roll(gt, (3, -5), axis=(0, 1)) ^ (rng.random(shape) < 0.01) & gt
        rows, cols = np.nonzero(gt | pred)
        crop = (
            slice(max(rows.min() - margin, 0), rows.max() + 1 + margin),
            slice(max(cols.min() - margin, 0), cols.max() + 1 + margin),
        )
        assert boundary_accuracy(pred[crop], gt[crop], shape=shape) == boundary_accuracy(pred, gt)
        assert boundary_f(pred[crop], gt[crop], shape=shape) == boundary_f(pred, gt)
        # Without the photo's shape the radii and tolerance follow the crop: other figures.
        assert boundary_accuracy(pred[crop], gt[crop]) != boundary_accuracy(pred, gt)
