import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_boostseg.softmask import apply_soft_mask, blur_mask


@pytest.mark.parametrize("sigma", [2.0, 9.0, 25.0])
def test_reduced_scale_blur_matches_a_full_gaussian(sigma):
    mask = np.zeros((300, 260), bool)
    mask[80:220, 60:200] = True
    exact = ndi.gaussian_filter(mask.astype(np.float32), sigma, mode="nearest")
    fast = blur_mask(mask, sigma)
    assert fast.dtype == np.float32 and fast.shape == mask.shape
    assert np.abs(fast - exact).max() < 0.02


def test_window_returns_the_same_values():
    mask = np.zeros((120, 100), bool)
    mask[30:90, 20:70] = True
    window = (slice(10, 60), slice(40, 95))
    np.testing.assert_allclose(blur_mask(mask, 13.0, window), blur_mask(mask, 13.0)[window])


def test_blurred_objects_stay_in_unit_range():
    labels = np.zeros((100, 100), np.int32)
    labels[20:50, 20:50] = 1
    labels[60:90, 60:90] = 2
    s = blur_mask(labels > 0, 5.0)
    assert 0 <= s.min() and s.max() <= 1
    assert s[35, 35] > 0.9 and s[75, 75] > 0.9 and s[5, 95] < 0.01


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_apply_soft_mask_dims_the_interior_in_the_photo_dtype(dtype):
    top = {np.uint8: 200, np.uint16: 50000, np.float32: 0.8}[dtype]
    image = np.full((20, 20, 3), top, dtype)
    soft = np.zeros((20, 20), np.float32)
    soft[5:15, 5:15] = 1
    out = apply_soft_mask(image, soft, strength=0.5)
    assert out.dtype == image.dtype and out.shape == image.shape
    assert out[10, 10, 0] == pytest.approx(top * 0.5, rel=1e-3)
    assert out[0, 0, 0] == top


def test_apply_soft_mask_grayscale_and_errors():
    out = apply_soft_mask(np.full((4, 4), 100, np.uint8), np.ones((4, 4), np.float32), 1.0)
    assert out.max() == 0
    with pytest.raises(ValueError, match="strength"):
        apply_soft_mask(np.zeros((4, 4)), np.zeros((4, 4), np.float32), 2.0)
    with pytest.raises(ValueError, match="does not match"):
        apply_soft_mask(np.zeros((4, 4)), np.zeros((5, 4), np.float32))
    with pytest.raises(ValueError, match="sigma"):
        blur_mask(np.zeros((4, 4), bool), 0)
