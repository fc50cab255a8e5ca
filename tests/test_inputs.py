import warnings

import numpy as np
import pytest

from napari_boostseg.inputs import as_label_image, check_image, compact_ids, image_to_float


@pytest.mark.parametrize(
    "image, channels",
    [
        (np.full((4, 5), 255, np.uint8), 1),
        (np.full((4, 5, 1), 255, np.uint8), 1),
        (np.full((4, 5, 3), 65535, np.uint16), 3),
        (np.full((4, 5, 4), 255, np.uint8), 3),
        (np.ones((4, 5, 3), np.float64), 3),
    ],
)
def test_image_to_float_scales_to_unit_range(image, channels):
    out = image_to_float(image)
    assert out.dtype == np.float32
    assert out.shape == (4, 5, channels)
    np.testing.assert_allclose(out, 1.0, rtol=1e-6)


def test_sixteen_bit_keeps_its_precision():
    image = np.array([[0, 1], [32768, 65535]], np.uint16)
    out = image_to_float(image)[..., 0]
    assert out[0, 1] > 0  # one step of 16 bit is not rounded away
    np.testing.assert_allclose(out[1], [32768 / 65535, 1.0], rtol=1e-6)


def test_rgba_alpha_is_ignored():
    rgba = np.zeros((3, 3, 4), np.uint8)
    rgba[..., 3] = 255
    assert image_to_float(rgba).max() == 0


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((4, 5, 2), np.uint8), "RGB"),
        (np.zeros((4,), np.uint8), "RGB"),
        (np.zeros((1, 5), np.uint8), "2x2"),
        (np.full((4, 5), 2.0), r"\[0, 1\]"),
        (np.full((4, 5), np.nan), "NaN"),
        (np.zeros((4, 5), bool), "boolean"),
        (np.full((4, 5), -1, np.int16), "negative"),
        (np.full((4, 5), 70000, np.int32), "65535"),
        (np.zeros((4, 5), np.complex64), "dtype"),
    ],
)
def test_bad_images_are_rejected_with_a_reason(image, message):
    with pytest.raises(ValueError, match=message):
        image_to_float(image)


def test_check_image_does_not_copy():
    image = np.zeros((4, 5, 3), np.uint8)
    assert check_image(image) is image


def test_label_image_from_bool_and_ints():
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    labels = as_label_image(mask)
    assert labels.dtype == np.int32 and labels[1, 1] == 1 and labels.sum() == 1
    ids = np.array([[0, 7], [300, 0]], np.uint16)
    np.testing.assert_array_equal(as_label_image(ids), ids)


@pytest.mark.parametrize(
    "coarse, shape, message",
    [
        (np.zeros((3, 3, 1), bool), None, "2-D"),
        (np.zeros((3, 4), bool), (3, 3, 3), "does not match"),
        (np.zeros((3, 3), np.float32), None, "threshold"),
        (np.full((3, 3), -1, np.int32), None, "negative"),
    ],
)
def test_bad_coarse_masks_are_rejected(coarse, shape, message):
    with pytest.raises(ValueError, match=message):
        as_label_image(coarse, shape)


def test_float16_photos_become_float32_and_wide_integers_are_checked():
    half = np.full((4, 5, 3), 0.5, np.float16)
    out = check_image(half)
    assert out.dtype == np.float32 and np.all(out == 0.5)
    # Wider integers are taken as 16-bit data: values above 65535 cannot be.
    with pytest.raises(ValueError, match="above 65535"):
        check_image(np.full((4, 5, 3), 70000, np.uint32))
    assert check_image(np.full((4, 5, 3), 65535, np.uint32)).dtype == np.uint32


def test_compact_ids_renumber_large_sparse_ids_and_map_back():
    labels = np.zeros((4, 6), np.int32)
    labels[0, :2] = 2**31 - 3
    labels[2:, 3:] = 10**7
    labels[3, 0] = 5
    compact, original = compact_ids(labels)
    assert original.tolist() == [0, 5, 10**7, 2**31 - 3]
    assert compact.max() == 3 and compact.dtype == np.int32
    np.testing.assert_array_equal(original[compact], labels)
    # Small or already compact ids are left alone (no copy).
    small = np.array([[0, 7], [300, 0]], np.int32)
    assert compact_ids(small) == (small, None)
    dense = np.arange(5000, dtype=np.int32).reshape(50, 100)
    assert compact_ids(dense)[1] is None


def test_eight_bit_values_in_a_wide_integer_type_are_warned_about():
    photo = np.full((4, 5, 3), 200, np.int64)  # e.g. np.array of a list of 0-255 values
    with pytest.warns(UserWarning, match="int64 image with values 0-200 is taken as 16-bit data"):
        assert check_image(photo) is photo
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_image(np.full((4, 5, 3), 200, np.uint8))
        check_image(np.full((4, 5, 3), 40000, np.int32))
