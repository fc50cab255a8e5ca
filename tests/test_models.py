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
    stored = [value for group in read_weight_file(DEFAULT_WEIGHTS).values() for _, value in group]
    half = sum(v.nbytes for v in stored if v.dtype == np.float16)
    assert half > 0.99 * sum(v.nbytes for v in stored)
    # What stays float32 would not fit float16 (BatchNorm variances of 0-255 inputs).
    for value in stored:
        if value.dtype != np.float16:
            assert value.dtype == np.float32 and np.abs(value).max() > np.finfo(np.float16).max


def test_default_classes_are_the_garments_only_for_the_shipped_model(tmp_path):
    if default_weights() is not None:
        assert default_classes(DEFAULT_WEIGHTS, GARMENT_MODEL_CLASSES) == GARMENT_CLASSES
    assert default_classes(tmp_path / "other.h5", GARMENT_MODEL_CLASSES) == GARMENT_MODEL_CLASSES[1:]
    assert default_classes(tmp_path / "other.h5", ("BG", "shoe")) == ("shoe",)


@needs_model
@pytest.mark.slow
def test_bundled_model_cuts_the_person_out_of_a_real_photo(tmp_path):
    """boostseg segment with no weights given uses the bundled model (astronaut photo, scikit-image)."""
    pytest.importorskip("tensorflow")
    from skimage import data

    from napari_boostseg import files
    from napari_boostseg.cli import main

    photo = data.astronaut()
    path = tmp_path / "astronaut.png"
    files.write_image(path, photo)
    out = tmp_path / "out"
    assert main(["segment", str(path), "--out", str(out), "--classes", "person", "--no-progress"]) == 0
    labels = files.read_labels(out / "labels" / "astronaut.png")
    person = labels > 0
    # She fills the middle of the frame: the cut-out covers it and leaves the
    # right-hand corners (wall and shuttle) out. The flag behind her on the
    # left is another matter for a model trained on street photos.
    assert 0.15 < person.mean() < 0.8
    assert person[200:400, 150:350].mean() > 0.7
    assert not person[:60, -60:].any() and not person[-60:, -60:].any()


@needs_model
@pytest.mark.slow
def test_bundled_model_on_development_photos(shared_data):
    """On CCP photos it never trained on, it finds the person and some garments."""
    pytest.importorskip("tensorflow")
    import sys
    from pathlib import Path

    from napari_boostseg.mrcnn import load_model
    from napari_boostseg.mrcnn.evaluation import APAccumulator

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import ccp_instances

    data = ccp_instances.CCPInstances(shared_data / "ccp", range(801, 813))
    model = load_model(DEFAULT_WEIGHTS)
    acc = APAccumulator(ccp_instances.CLASS_NAMES)
    for i in range(len(data)):
        image, masks, classes = data.load(i)
        found = model.detect([image])[0]
        acc.add(np.moveaxis(found.masks, 0, 2), found.class_ids, found.scores, masks, classes)
    ap = acc.per_class()
    assert ap["person"] > 0.8
    assert np.mean(acc.matched_ious[1]) > 0.7  # person masks, before refinement
    assert max(ap[name] for name in GARMENT_CLASSES) > 0.3
