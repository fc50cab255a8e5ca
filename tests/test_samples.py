import numpy as np
import pytest

from napari_boostseg.metrics import iou

from samples import SAMPLE_NAMES, load_sample, load_samples


def test_samples_are_complete_and_coarse_masks_are_coarse():
    samples = load_samples()
    assert [s.name for s in samples] == list(SAMPLE_NAMES)
    for s in samples:
        assert s.image.dtype == np.uint8 and s.image.ndim == 3 and s.image.shape[2] == 3
        assert s.coarse.shape == s.truth.shape == s.image.shape[:2]
        ids = set(np.unique(s.truth)) - {0}
        assert ids == set(np.unique(s.coarse)) - {0}
        for k in ids:
            assert 0.6 < iou(s.coarse == k, s.truth == k) < 0.99
        assert not s.image.flags.writeable  # shared, cached arrays


def test_unknown_sample():
    with pytest.raises(ValueError, match="tshirt"):
        load_sample("sofa")
