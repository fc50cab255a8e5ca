import numpy as np
import pytest

from napari_boostseg.coarse import oracle28
from napari_boostseg.metrics import iou
from napari_boostseg.synthetic.thin_objects import KINDS, thin_object_photo


@pytest.mark.parametrize("seed", range(len(KINDS)))
def test_each_kind_is_a_thin_object_on_a_busy_backdrop(seed):
    image, truth = thin_object_photo(seed)
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    assert truth.dtype == bool and 0.01 < truth.mean() < 0.3
    # Thin: most of the object lies within a few pixels of its outline.
    from scipy import ndimage as ndi

    depth = ndi.distance_transform_edt(truth)
    assert np.median(depth[truth]) < 12
    # Busy: the backdrop has many strong edges of its own.
    grey = image.astype(np.float32).mean(axis=2)
    edges = np.hypot(*np.gradient(grey)) > 15
    assert edges[~ndi.binary_dilation(truth, iterations=5)].mean() > 0.003
    # A 28x28 grid can still describe it.
    assert iou(oracle28(truth), truth) > 0.85


def test_photos_are_reproducible_and_differ_by_seed():
    a, b = thin_object_photo(7), thin_object_photo(7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(thin_object_photo(8)[1], a[1])
    with pytest.raises(ValueError, match="unknown kind"):
        thin_object_photo(0, kind="spoon")
