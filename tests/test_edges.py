import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_boostseg.edges import edge_map, gradient_magnitude


def test_gradient_sees_a_colour_edge_of_equal_brightness():
    image = np.zeros((20, 20, 3), np.float32)
    image[:, :10] = (0.5, 0.2, 0.3)
    image[:, 10:] = (0.2, 0.5, 0.3)  # same sum of channels, other hue
    g = gradient_magnitude(image, sigma=0)
    assert g.dtype == np.float32
    assert g[10, 9] > 0.5 and g[10, 3] == 0


def test_gradient_of_grayscale():
    image = np.zeros((10, 10), np.float32)
    image[5:] = 1
    g = gradient_magnitude(image, sigma=1.0)
    assert np.argmax(g[:, 5]) in (4, 5)


def test_edge_map_normalises_contrast_and_adds_the_prior():
    grad = np.zeros((10, 10), np.float32)
    grad[:, 5] = 0.02  # a faint edge in a low-contrast photo
    undecided = np.zeros((10, 10), bool)
    undecided[:, 2:8] = True
    closeness = np.zeros((10, 10), np.float32)
    closeness[:, 3] = 1
    e = edge_map(grad, closeness, undecided, prior=0.4, percentile=90)
    assert e[0, 5] == pytest.approx(1.0)  # the band's clear edge counts 1
    assert e[0, 3] == pytest.approx(0.4)
    assert e[0, 0] == 0


def test_edge_map_without_band_or_edges():
    zeros = np.zeros((4, 4), np.float32)
    e = edge_map(zeros, zeros, np.zeros((4, 4), bool))
    assert not e.any()
    with pytest.raises(ValueError, match="same shape"):
        edge_map(zeros, np.zeros((4, 5), np.float32), np.zeros((4, 4), bool))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_gradient_in_band_equals_the_full_gradient_on_its_tiles(dtype):
    from napari_boostseg.edges import gradient_in_band
    from napari_boostseg.inputs import image_to_float

    rng = np.random.default_rng(0)
    h, w = 150, 170
    base = ndi.gaussian_filter(rng.random((h, w, 3)), (3, 3, 0))
    base = (base - base.min()) / (base.max() - base.min())
    photo = (base * 255).astype(np.uint8) if dtype == np.uint8 else (
        (base * 65535).astype(np.uint16) if dtype == np.uint16 else base.astype(np.float32))
    gain = (0.5 + 0.5 * rng.random((h, w))).astype(np.float32)
    band = np.zeros((h, w), bool)
    band[100:110, 5:165] = True  # tiles reach the right border
    expected = gradient_magnitude(image_to_float(photo) * gain[..., None], sigma=1.5)
    got = gradient_in_band(photo, band, sigma=1.5, gain=gain, tile=32)
    assert got.dtype == np.float32
    on = got > 0
    # Every band pixel is on a computed tile, tiles without band stay 0.
    # The band lies in tile row 96-127, which spans every column.
    assert on[band].all() and not on[:96].any() and not on[128:].any()
    np.testing.assert_allclose(got[96:128], expected[96:128], rtol=1e-4, atol=1e-6)
    # Without gain: the plain photo's gradient; RGBA's alpha plays no part.
    rgba = np.dstack([photo, np.zeros((h, w), photo.dtype)])
    np.testing.assert_allclose(gradient_in_band(rgba, band, 1.5, tile=32)[96:128],
                               gradient_magnitude(image_to_float(photo), 1.5)[96:128], rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="same size"):
        gradient_in_band(photo, band[:-1], 1.5)


def test_edge_map_can_write_over_the_gradient():
    rng = np.random.default_rng(1)
    grad = rng.random((40, 50)).astype(np.float32)
    closeness = rng.random((40, 50)).astype(np.float32)
    undecided = rng.random((40, 50)) < 0.3
    expected = edge_map(grad, closeness, undecided, prior=0.6, percentile=98)
    scale = np.percentile(grad[undecided], 98)
    np.testing.assert_allclose(expected, np.minimum(grad / scale, 1) + 0.6 * closeness, rtol=1e-6)
    same = edge_map(grad, closeness, undecided, prior=0.6, percentile=98, out=grad)
    assert same is grad
    np.testing.assert_array_equal(same, expected)
    with pytest.raises(ValueError, match="float32"):
        edge_map(grad, closeness, undecided, out=np.zeros((40, 50)))
