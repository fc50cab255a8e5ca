"""The garment model shipped in the package."""

from __future__ import annotations

import numpy as np
import pytest

from napari_boostseg.models import DEFAULT_WEIGHTS, GARMENT_CLASSES, default_classes, default_weights

GARMENT_MODEL_CLASSES = ("BG", "person", *GARMENT_CLASSES)

needs_model = pytest.mark.skipif(default_weights() is None, reason="this checkout has no bundled model")


@needs_model
def test_shipped_file_is_compact_float16_with_its_config():
    from napari_boostseg.mrcnn import MaskRCNNConfig
    from napari_boostseg.mrcnn.weights import read_weight_file

    assert DEFAULT_WEIGHTS.stat().st_size <= 50 * 2**20
    config = MaskRCNNConfig.from_json(DEFAULT_WEIGHTS.with_suffix(".json"))
    assert config.class_names == GARMENT_MODEL_CLASSES
    stored = read_weight_file(DEFAULT_WEIGHTS)
    dtypes = {value.dtype for group in stored.values() for _, value in group}
    assert dtypes == {np.dtype(np.float16)}


def test_default_classes_are_the_garments_only_for_the_shipped_model(tmp_path):
    if default_weights() is not None:
        assert default_classes(DEFAULT_WEIGHTS, GARMENT_MODEL_CLASSES) == GARMENT_CLASSES
    assert default_classes(tmp_path / "other.h5", GARMENT_MODEL_CLASSES) == GARMENT_MODEL_CLASSES[1:]
    assert default_classes(tmp_path / "other.h5", ("BG", "shoe")) == ("shoe",)
