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
