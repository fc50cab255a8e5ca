import numpy as np
import pytest

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
