"""The Train widget: fine-tune a (small, random-weight) Mask R-CNN on accepted photos in a
child process, cancel keeping a checkpoint, and detect with the new weights."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_detect_widget import weights  # noqa: F401 - the tiny model, built once per module

from napari_boostseg._napari._train import TrainWidget
from napari_boostseg._napari._widgets import DetectWidget
from napari_boostseg.shoot import Shoot

from _viewer_fixtures import needs_display, no_product_model, no_tensorflow_beside_opengl, shown  # noqa: F401

pytestmark = [pytest.mark.gui, needs_display]

WAIT_MS = 600_000


@pytest.fixture
def accepted(tmp_path):
    """A review folder with two accepted photos (samples at a quarter size), class 'garment'."""
    from samples import load_sample

    photos = tmp_path / "shoot"
    photos.mkdir()
    for name in ("dress", "tshirt"):
        sample = load_sample(name)
        Image.fromarray(np.ascontiguousarray(sample.image[::4, ::4])).save(photos / f"{name}.png")
    shoot = Shoot(photos, tmp_path / "review")
    for name in ("dress", "tshirt"):
        truth = load_sample(name).truth[::4, ::4]
        shoot.accept(name, (truth == 1).astype(np.int32), {1: "garment"})
    return tmp_path / "review", photos


def dock(viewer, widget):
    viewer.window.add_dock_widget(widget)
    return widget


@pytest.mark.slow
def test_train_cancel_and_detect_with_the_new_weights(make_napari_viewer, qtbot, weights, accepted, shown):
    review, photos = accepted
    viewer = make_napari_viewer()
    detect = dock(viewer, DetectWidget(viewer))
    train = dock(viewer, TrainWidget(viewer))
    train.data.value, train.weights.value = review, weights

    # Cancel once the first epoch has written its checkpoint: the checkpoint stays.
    train.epochs.value, train.steps.value = 20, 1
    train.train_button.clicked.emit()
    assert train.cancel_button.enabled and not train.train_button.enabled
    qtbot.waitUntil(lambda: train.checkpoint is not None, timeout=WAIT_MS)
    train.cancel_button.clicked.emit()
    assert train.train_button.enabled and "last checkpoint is kept" in train.status.value
    kept = train.checkpoint
    assert kept.is_file() and kept.with_suffix(".json").is_file()
    assert Path(str(detect.weights.value)) == kept  # offered to Detect at once

    # A whole run: two steps of the heads, the loss after each, a new checkpoint.
    train.epochs.value, train.steps.value = 1, 2
    train.train_button.clicked.emit()
    qtbot.waitUntil(lambda: train.worker is None, timeout=WAIT_MS)
    assert not shown["error"], shown
    assert len(train.losses) == 2 and np.all(np.isfinite(train.losses))
    assert train.progress.max == 2
    new = train.checkpoint
    assert new != kept and new.is_file() and train.status.value.startswith("Trained")
    assert Path(str(detect.weights.value)) == new
    assert "tensorflow" not in sys.modules  # it trained in the child process

    # Detect runs with the new weights.
    detect.image.value = viewer.add_image(np.asarray(Image.open(photos / "dress.png")), name="dress")
    detect.min_score.value = 0.0
    detect.source.value = "model"  # the new weights, not the backdrop
    detect.run_button.clicked.emit()
    qtbot.waitUntil(lambda: detect.worker is None, timeout=WAIT_MS)
    assert not shown["error"], shown
    assert "dress coarse" in viewer.layers
    assert "found by the model." in detect.status.value


def test_train_says_what_is_missing(make_napari_viewer, tmp_path, accepted, shown):
    review, _photos = accepted
    viewer = make_napari_viewer()
    train = dock(viewer, TrainWidget(viewer))
    train.train_button.clicked.emit()
    assert "Choose the training data" in shown["error"][-1]
    train.data.value = tmp_path
    train.train_button.clicked.emit()
    assert "needs sub-folders 'images' and 'labels'" in shown["error"][-1]
    assert "Shoot review" in train.status.value
    # The bundled model has no class 'garment'.
    train.data.value = review
    train.train_button.clicked.emit()
    assert "classes ['garment'] that the model does not know" in shown["error"][-1]
    assert train.worker is None and train.train_button.enabled
