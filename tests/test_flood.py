import numpy as np
import pytest

from napari_boostseg.flood import flood, flood_markers
from napari_boostseg.markers import BACKGROUND, UNDECIDED


def _ridge_scene():
    edges = np.zeros((20, 30), np.float32)
    edges[:, 17] = 1.0  # the true outline
    markers = np.full((20, 30), UNDECIDED, np.int32)
    markers[:, :5] = 2  # object 1
    markers[:, 25:] = BACKGROUND
    return edges, markers


def test_flood_stops_on_the_ridge():
    edges, markers = _ridge_scene()
    labels = flood(edges, markers)
    assert labels.dtype == np.int32
    assert np.all(labels[:, :17] == 1)
    assert np.all(labels[:, 18:] == 0)


def test_markers_outside_the_band_are_kept():
    edges, markers = _ridge_scene()
    filled = flood_markers(edges, markers)
    np.testing.assert_array_equal(filled[:, :5], 2)
    np.testing.assert_array_equal(filled[:, 25:], BACKGROUND)
    assert not np.any(filled == UNDECIDED)
    assert np.all(markers[:, 10] == UNDECIDED)  # the input is not modified


def test_painted_background_cuts_the_object():
    edges, markers = _ridge_scene()
    markers[8:12, 5:17] = BACKGROUND  # a stroke across the object
    labels = flood(edges, markers)
    assert np.all(labels[8:12, 5:17] == 0)
    # Away from the stroke the object still reaches its outline.
    assert np.all(labels[:3, 5:8] == 1) and np.all(labels[17:, 5:8] == 1)


def test_undecided_pixels_no_marker_reaches_become_background():
    edges = np.zeros((10, 10), np.float32)
    markers = np.full((10, 10), UNDECIDED, np.int32)
    assert not flood(edges, markers).any()


def test_flood_checks_its_inputs():
    with pytest.raises(ValueError, match="same shape"):
        flood(np.zeros((4, 4)), np.zeros((4, 5), np.int32))
    with pytest.raises(ValueError, match="integer"):
        flood(np.zeros((4, 4)), np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match=">= 0"):
        flood(np.zeros((4, 4)), np.full((4, 4), -1, np.int32))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_flood_matches_scikit_image_watershed(seed):
    """Same flood order as skimage's watershed: lowest first, oldest first among equals."""
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    rng = np.random.default_rng(seed)
    h, w = 48, 64
    # Distinct elevations: no ties, so the order is fully defined.
    edges = rng.permutation(h * w).reshape(h, w).astype(np.float32) / (h * w)
    edges = ndi.gaussian_filter(edges, 1.5)  # ridges and basins, still (almost surely) distinct
    markers = np.full((h, w), UNDECIDED, np.int32)
    markers[:, :3] = BACKGROUND
    markers[20:26, 20:26] = 2
    markers[30:34, 45:50] = 3
    markers[5:8, 50:60] = BACKGROUND
    undecided = markers == UNDECIDED
    expected = watershed(edges, markers, mask=np.ones_like(undecided))
    got = flood_markers(edges, markers)
    np.testing.assert_array_equal(got, expected)
    # In place on an int32 view gives the same, and leaves the rest alone.
    big = np.full((h + 10, w + 10), 7, np.int32)
    big[5:-5, 5:-5] = markers
    flood_markers(edges, big[5:-5, 5:-5], in_place=True)
    np.testing.assert_array_equal(big[5:-5, 5:-5], expected)
    assert (big[:5] == 7).all() and (big[:, -5:] == 7).all()
    with pytest.raises(ValueError, match="int32"):
        flood_markers(edges, markers.astype(np.int64), in_place=True)


def test_flood_survives_non_finite_elevations():
    """NaN or infinite edges (an edited edge layer, say) must not break the flood."""
    edges = np.zeros((30, 30), np.float32)
    edges[:, 15] = np.inf
    edges[5:8, 5:8] = np.nan
    markers = np.full((30, 30), UNDECIDED, np.int32)
    markers[:, 0] = BACKGROUND
    markers[10:20, 25:29] = 2
    out = flood_markers(edges, markers)
    assert (out > 0).all()
    assert (out[:, :14] == BACKGROUND).all() and (out[10:20, 16:] == 2).all()


@pytest.mark.parametrize("offset", [0, 40_000])
def test_flood_breaks_ties_oldest_first_and_keeps_large_ids(offset):
    """Many equal elevations: the queue order decides, as documented. Ids past
    16 bits take the wide scratch path and must not change the result."""
    from _reference import priority_flood

    rng = np.random.default_rng(7)
    h, w = 40, 50
    edges = rng.integers(0, 5, size=(h, w)).astype(np.float32)
    markers = np.full((h, w), UNDECIDED, np.int32)
    markers[0, :] = BACKGROUND
    markers[10:14, 10:14] = 2 + offset
    markers[25:30, 30:36] = 3 + offset
    markers[35:, 45:] = BACKGROUND
    got = flood_markers(edges, markers)
    np.testing.assert_array_equal(got, priority_flood(edges, markers))
    assert set(np.unique(got)) == {BACKGROUND, 2 + offset, 3 + offset}
