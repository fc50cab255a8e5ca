import numpy as np
import pytest

from napari_boostseg.resample import block_mean, upsample


@pytest.mark.parametrize("dtype", [bool, np.uint8, np.uint16, np.float32])
def test_block_mean_averages_blocks_and_partial_edges(dtype):
    rng = np.random.default_rng(0)
    image = (rng.random((23, 30)) * (2 if dtype is bool else 200)).astype(dtype)
    got = block_mean(image, 4)
    assert got.shape == (6, 8) and got.dtype == np.float32
    values = image.astype(np.float64)
    for i in range(6):
        for j in range(8):
            assert got[i, j] == pytest.approx(values[4 * i : 4 * i + 4, 4 * j : 4 * j + 4].mean(), rel=1e-6)
    # Strided views work without a copy of their own.
    assert block_mean(image[::2, 1:], 3)[0, 0] == pytest.approx(values[:6:2, 1:4].mean(), rel=1e-6)


def test_upsample_is_bilinear_between_block_centres():
    f = 4
    small = np.arange(12, dtype=np.float32).reshape(3, 4)  # value = 4 * row + col
    full = upsample(small, f, (12, 16))
    assert full.shape == (12, 16) and full.dtype == np.float32
    # Block centres sit at (f - 1) / 2 = 1.5 pixels: pixel (y, x) reads row (y - 1.5) / 4.
    y, x = 5, 9
    expected = 4 * ((y - 1.5) / f) + (x - 1.5) / f
    assert full[y, x] == pytest.approx(expected)
    # Beyond the outer centres the values are held, not extrapolated.
    assert full[0, 0] == small[0, 0] and full[-1, -1] == small[-1, -1]
    window = (slice(3, 10), slice(2, 15))
    np.testing.assert_array_equal(upsample(small, f, (12, 16), window), full[window])
    np.testing.assert_array_equal(upsample(np.full((2, 2), 7, np.float32), 5, (9, 10)), 7)


def test_block_mean_of_colour_images_averages_each_channel():
    rng = np.random.default_rng(2)
    photo = rng.integers(0, 256, (17, 22, 3), dtype=np.uint8)
    got = block_mean(photo, 5)
    assert got.shape == (4, 5, 3)
    for c in range(3):
        np.testing.assert_allclose(got[..., c], block_mean(photo[..., c], 5), rtol=1e-6)
    np.testing.assert_allclose(block_mean(photo[..., :2], 5), got[..., :2], rtol=1e-6)


def test_oblong_blocks_average_and_upsample_per_axis():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, size=(13, 22, 3)).astype(np.uint8)
    small = block_mean(image, (3, 5))
    assert small.shape == (5, 5, 3)
    np.testing.assert_allclose(small[1, 2], image[3:6, 10:15].reshape(-1, 3).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(small[4, 4], image[12:13, 20:22].reshape(-1, 3).mean(axis=0), rtol=1e-6)
    # A plane a*y + b*x is sampled back exactly between block centres.
    yy, xx = np.mgrid[:30, :40].astype(np.float32)
    plane = 0.5 * yy + 0.25 * xx
    back = upsample(block_mean(plane, (3, 5)), (3, 5), plane.shape)
    np.testing.assert_allclose(back[1:-2, 2:-3], plane[1:-2, 2:-3], atol=1e-4)
    with pytest.raises(ValueError, match="block sides"):
        block_mean(image, (0, 2))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, bool, np.int16])
def test_block_mean_of_integers_is_exact(dtype):
    rng = np.random.default_rng(3)
    top = 2 if dtype is bool else (100 if dtype is np.int16 else np.iinfo(dtype).max + 1)
    image = rng.integers(0, top, (37, 29, 3)).astype(dtype)
    view = image[:, 1:, :]  # not contiguous: read as it is
    for f in (1, 4, (3, 5)):
        fy, fx = (f, f) if np.ndim(f) == 0 else f
        got = block_mean(view, f)
        for by in range(got.shape[0]):
            for bx in range(got.shape[1]):
                block = view[by * fy:(by + 1) * fy, bx * fx:(bx + 1) * fx].astype(np.float64)
                np.testing.assert_allclose(got[by, bx], block.mean(axis=(0, 1)), rtol=1e-6)


def test_block_mean_of_signed_integers_below_zero():
    image = np.array([[-300, -100, 5, 7], [-200, 0, 9, 11]], np.int16)
    np.testing.assert_allclose(block_mean(image, 2), [[-150.0, 8.0]])
