"""The whole loop in a real viewer: open a shoot, step through it, correct a photo with a
stroke, accept, teach the model from the accepted photos, and find the products of the
rest of the shoot with the new weights.

Slow: the bundled model is fine-tuned for one step and detects in child processes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_boostseg import BACKGROUND

from _viewer_fixtures import needs_display, no_product_model, no_tensorflow_beside_opengl, shown  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.slow, needs_display]

WAIT_MS = 600_000


@pytest.fixture
def small_shoot(tmp_path):
    """Two generated studio photos at a quarter of their size, and two street photos (no backdrop)."""
    from skimage import data

    from napari_boostseg.sample_photos import load_sample_photo

    photos = tmp_path / "shoot"
    photos.mkdir()
    for i, name in enumerate(("sweater", "white_top")):
        image = np.ascontiguousarray(load_sample_photo(name).image[::4, ::4])
        Image.fromarray(image).save(photos / f"{i + 1}-{name}.png")
    street = data.astronaut()[::2, ::2]
    Image.fromarray(np.ascontiguousarray(street)).save(photos / "3-street.png")
    Image.fromarray(np.ascontiguousarray(street[:, ::-1])).save(photos / "4-street.png")
    return photos


def test_review_correct_accept_train_and_detect_again(make_napari_viewer, qtbot, small_shoot, shown):
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:  # not imported: it stays out of this process
        pytest.skip("Mask R-CNN needs TensorFlow")
    from napari_boostseg._napari._shoot import NEXT_KEY, PREVIOUS_KEY, ShootWidget
    from napari_boostseg._napari._train import TrainWidget
    from napari_boostseg._napari._widgets import DetectWidget
    from napari_boostseg.models import default_weights

    if default_weights() is None:
        pytest.skip("this installation has no bundled model")
    viewer = make_napari_viewer()
    # Opened from the Plugins menu, as a person would: each gets its own proxy of the viewer.
    _dock, review = viewer.window.add_plugin_dock_widget("napari-boostseg", "Shoot review")
    _dock, detect = viewer.window.add_plugin_dock_widget("napari-boostseg", "Detect")
    _dock, train = viewer.window.add_plugin_dock_widget("napari-boostseg", "Train")
    assert isinstance(review, ShootWidget) and isinstance(detect, DetectWidget)
    assert isinstance(train, TrainWidget)

    # Open: the first photo's products are found on its backdrop, then refined.
    review.photos.value = small_shoot
    review.open_button.clicked.emit()
    qtbot.waitUntil(lambda: "1-sweater segmentation" in viewer.layers, timeout=WAIT_MS)
    assert "1-sweater: 1 object found on a white backdrop" in review.status.value, review.status.value
    qtbot.waitUntil(
        lambda: review.count.value == "4 photos: 3 new, 1 automatic, 0 corrected, 0 skipped", timeout=WAIT_MS
    )

    # Step through with the keys: to the second photo and back.
    viewer.window._qt_viewer.canvas.native.setFocus()
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest

    canvas = viewer.window._qt_viewer.canvas.native
    QTest.keyClick(canvas, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: "2-white_top segmentation" in viewer.layers, timeout=WAIT_MS)
    QTest.keyClick(canvas, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: "1-sweater segmentation" in viewer.layers, timeout=WAIT_MS)
    assert (NEXT_KEY, PREVIOUS_KEY) == ("PageDown", "PageUp")

    # Correct with a stroke: sure background across the middle of the sweater.
    markers = viewer.layers["1-sweater markers"]
    segmentation = viewer.layers["1-sweater segmentation"]
    before = segmentation.data.copy()
    rows, cols = np.nonzero(before == 1)
    row = int(np.median(rows))
    with markers.block_history():
        for col in range(int(np.percentile(cols, 40)), int(np.percentile(cols, 60)), 2):
            markers.paint((row, col), BACKGROUND, refresh=False)
    markers.refresh()
    qtbot.waitUntil(lambda: not np.array_equal(segmentation.data, before), timeout=WAIT_MS)
    assert segmentation.data[row, int(np.median(cols))] == 0
    corrected = segmentation.data.copy()

    # Accept the sweater and the white top, both tops: written in a worker.
    review.class_name.value = "top"
    review.accept()
    qtbot.waitUntil(lambda: "2-white_top segmentation" in viewer.layers, timeout=WAIT_MS)
    review.accept()
    qtbot.waitUntil(lambda: not review._accepting, timeout=WAIT_MS)
    assert "2 corrected" in review.count.value, review.count.value
    folder = review.shoot.review
    saved = np.asarray(Image.open(folder / "labels" / "1-sweater.png"))
    np.testing.assert_array_equal(saved, corrected)
    assert not shown["error"], shown

    # Train for one step from the bundled model on the accepted photos.
    train.data.value = folder
    train.epochs.value, train.steps.value = 1, 1
    train.train_button.clicked.emit()
    qtbot.waitUntil(lambda: train.worker is None, timeout=WAIT_MS)
    assert not shown["error"], shown
    checkpoint = train.checkpoint
    assert checkpoint is not None and checkpoint.is_file() and len(train.losses) == 1
    assert Path(str(detect.weights.value)) == checkpoint

    # The street photos have no backdrop: their products are found by the model. The first
    # was shown before training; the second, prepared with the bundled model meanwhile, is
    # searched again with the new weights.
    qtbot.waitUntil(lambda: "3-street segmentation" in viewer.layers and not review._workers, timeout=WAIT_MS)
    assert review.found_with == default_weights()
    review.next_button.clicked.emit()
    qtbot.waitUntil(lambda: "4-street" in viewer.layers and not review._workers, timeout=WAIT_MS)
    assert review.found_with == checkpoint, review.status.value
    assert "model" in review.status.value, review.status.value
    assert not shown["error"], shown

    # Detect with the new weights on the same photo.
    detect.image.value = viewer.layers["4-street"]
    detect.source.value, detect.min_score.value = "model", 0.0
    detect.run_button.clicked.emit()
    qtbot.waitUntil(lambda: detect.worker is None, timeout=WAIT_MS)
    assert not shown["error"], shown
    assert "found by the model." in detect.status.value, detect.status.value
    assert "tensorflow" not in sys.modules
