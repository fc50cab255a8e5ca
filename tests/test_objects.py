import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_boostseg.objects import object_boxes


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.uint16, np.int64])
def test_object_boxes_match_scipy_find_objects(dtype):
    rng = np.random.default_rng(1)
    labels = np.zeros((60, 80), dtype)
    labels[5:20, 10:30] = 1
    labels[40:58, 3:9] = 3  # id 2 is missing
    labels[rng.integers(0, 60, 30), rng.integers(0, 80, 30)] = 4  # scattered pixels
    assert object_boxes(labels) == ndi.find_objects(labels)
    assert object_boxes(labels)[1] is None
    # Views of a larger image work too.
    assert object_boxes(labels[3:50, 2:70]) == ndi.find_objects(labels[3:50, 2:70])


def test_object_boxes_of_empty_images_and_bad_input():
    assert object_boxes(np.zeros((5, 5), np.int32)) == []
    assert object_boxes(np.zeros((0, 5), np.int32)) == []
    with pytest.raises(ValueError, match="2-D integer"):
        object_boxes(np.zeros((5, 5), np.float32))


@pytest.mark.parametrize("dtype", [np.int32, np.uint16, np.int64])
def test_object_boxes_of_many_ids_match_scipy(dtype):
    # More ids than the first pass's table holds, the largest seen last.
    rng = np.random.default_rng(2)
    labels = np.zeros((90, 120), dtype)
    for k in rng.permutation(np.arange(1, 700))[:400]:
        y, x = rng.integers(0, 88), rng.integers(0, 118)
        labels[y : y + 3, x : x + 3] = k
    labels[-1, -1] = 999
    assert object_boxes(labels) == ndi.find_objects(labels)


def test_object_boxes_within_a_box_read_it_alone():
    labels = np.zeros((50, 70), np.int32)
    labels[10:20, 30:45] = 2
    labels[25:26, 12:13] = 1
    within = (slice(8, 30), slice(10, 50))
    assert object_boxes(labels, within) == ndi.find_objects(labels)
    # What lies outside the box is not read: an object there is not seen.
    labels[45, 65] = 3
    assert object_boxes(labels, within) == ndi.find_objects(labels)[:2]
    assert object_boxes(labels, (slice(0, 0), slice(0, 0))) == []
