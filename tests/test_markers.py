import numpy as np
import pytest
from skimage.draw import ellipse

from napari_boostseg.markers import (
    BACKGROUND,
    UNDECIDED,
    band_geometry,
    labels_from_markers,
    make_markers,
)

from _scenes import disk_labels


def object_marker(label_id):
    """Marker value of object ``label_id``."""
    return label_id + 1


def test_convention():
    assert UNDECIDED == 0 and BACKGROUND == 1
    assert object_marker(3) == 4
    np.testing.assert_array_equal(labels_from_markers(np.array([1, 2, 5])), [0, 1, 4])
    flooded = np.array([[1, 3], [2, 1]], np.int32)
    labels = labels_from_markers(flooded, in_place=True)
    assert labels is flooded
    np.testing.assert_array_equal(labels, [[0, 2], [1, 0]])
    with pytest.raises(ValueError, match="int32"):
        labels_from_markers(np.array([1, 2], np.int64), in_place=True)


def test_band_follows_the_outline_and_scales_with_the_object():
    shape = (400, 400)
    small = disk_labels(shape, [(200, 200)], 28)
    large = disk_labels(shape, [(200, 200)], 140)
    for labels, radius in ((small, 28), (large, 140)):
        markers = make_markers(labels, band=1.5)
        cell = 2 * radius / 28
        undecided = markers == UNDECIDED
        # Along a horizontal line through the centre the band spans about
        # 1.5 cells on each side of the outline.
        row = undecided[200]
        left = np.flatnonzero(row[:200])
        assert abs(left.size - 3 * cell) <= 3
        assert markers[200, 200] == object_marker(1)
        assert markers[0, 0] == BACKGROUND


def test_anisotropic_boxes_get_anisotropic_bands():
    labels = np.zeros((600, 200), np.int32)
    labels[20:580, 60:140] = 1  # 560 tall, 80 wide: cells of 20 x 2.9 px
    markers = make_markers(labels, band=1.0)
    undecided = markers == UNDECIDED
    vertical = np.flatnonzero(undecided[:, 100])
    horizontal = np.flatnonzero(undecided[300, :])
    # Above the top edge and left of the left edge: about one cell each.
    assert 15 <= np.count_nonzero(vertical < 300) <= 45
    assert 3 <= np.count_nonzero(horizontal < 100) <= 9


def test_several_objects_keep_their_ids_and_share_a_band_where_they_touch():
    labels = np.zeros((200, 300), np.int32)
    labels[50:150, 40:150] = 4
    labels[50:150, 150:260] = 9
    markers = make_markers(labels, band=1.0)
    assert set(np.unique(markers)) == {UNDECIDED, BACKGROUND, 5, 10}
    assert np.all(markers[100, 148:152] == UNDECIDED)


def test_closeness_peaks_on_the_outline():
    labels = disk_labels((200, 200), [(100, 100)], 60)
    geo = band_geometry(labels, band=2.0)
    row = geo.closeness[100]
    # The disk's left outline lies near column 40.
    assert abs(int(np.argmax(row[:100])) - 40) <= 1
    assert row.max() > 0.9
    assert row[100] == 0 and row[0] == 0
    assert geo.closeness.dtype == np.float32
    assert geo.box[0] < 40 and geo.box[2] > 160


def test_empty_coarse_mask_gives_all_background():
    geo = band_geometry(np.zeros((10, 12), bool))
    assert np.all(geo.markers == BACKGROUND)
    assert geo.box == (0, 0, 0, 0)


def test_band_must_be_positive():
    with pytest.raises(ValueError, match="band"):
        make_markers(np.ones((4, 4), bool), band=0)


def test_a_wide_band_keeps_out_of_a_small_neighbour():
    """A big object's band (one of its large cells) reaches past a small
    object touching it; the small object's pixels are its own band's to open."""
    labels = np.zeros((400, 400), np.int32)
    labels[50:350, 100:300] = 1  # cells of 10.7 x 7.1 px
    labels[150:170, 300:306] = 2  # 6 px wide: inside the big object's band
    geo = band_geometry(labels, 1.0)
    assert (geo.markers == object_marker(2)).sum() > 0.5 * (labels == 2).sum()
    # The big object's side of the shared edge and the backdrop stay open.
    assert (geo.markers[150:170, 295:300] == UNDECIDED).all()
    assert (geo.markers[130:150, 300:307] == UNDECIDED).all()


def test_a_part_thinner_than_the_band_keeps_a_seed():
    # A strap under one cell wide hanging from a bag: no pixel of it lies
    # half a cell from the outline, yet its middle must stay sure.
    for width in (6, 9, 11):
        mask = np.zeros((480, 640), bool)
        rr, cc = ellipse(300, 320, 120, 150, shape=mask.shape)
        mask[rr, cc] = True
        mask[60:300, 320 - width // 2 : 320 + width - width // 2] = True
        markers = band_geometry(mask, band=1.0, ridge=0.5).markers
        seeded = (markers[80:160] == object_marker(1)).any(axis=1)
        assert seeded.all(), width
        # The seeds lie on the strap itself.
        assert not ((markers[80:160] == object_marker(1)) & ~mask[80:160]).any()


def test_a_gap_between_two_objects_keeps_its_middle_line_as_background():
    """Two garments a belt's width apart (1.6 cells): every pixel of the gap lies in
    a band, yet its middle line stays sure background; a gap under a cell does not."""
    for gap, seeded in ((8, True), (4, False)):
        labels = np.zeros((400, 400), np.int32)
        labels[40:180, 60:340] = 1  # cells of 5 x 10 px
        labels[180 + gap : 320 + gap, 60:340] = 2
        markers = band_geometry(labels, band=1.0, ridge=0.5).markers
        middle = markers[180 : 180 + gap, 100:300]
        assert (middle != UNDECIDED).any(axis=0).all() == seeded, gap
        assert not np.isin(middle, (object_marker(1), object_marker(2))).any()
        # A band of its own (an object moved by alignment) opens the gap as before.
        moved = band_geometry(labels, band=1.0, ridge=0.5, bands={1: 1.0}).markers
        assert (moved[180 : 180 + gap, 100:300] == UNDECIDED).all()
