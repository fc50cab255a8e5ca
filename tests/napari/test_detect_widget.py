"""The Detect widget with a real (small, random-weight) Mask R-CNN in a thread worker."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from napari_boostseg._napari._widgets import DetectWidget, RefineWidget
from napari_boostseg._text import counted

from _viewer_fixtures import needs_display, no_product_model, no_tensorflow_beside_opengl, shown  # noqa: F401

pytestmark = [pytest.mark.gui, pytest.mark.slow, needs_display]

WAIT_MS = 180_000


TINY_MODEL = """
import sys
from pathlib import Path

import numpy as np
import tf_keras

from napari_boostseg.mrcnn import MaskRCNNConfig, build_model
from samples import load_sample

tf_keras.utils.set_random_seed(0)
config = MaskRCNNConfig(
    name="tiny", class_names=("BG", "garment", "person"), backbone="resnet50",
    image_min_dim=256, image_max_dim=256,
)
model = build_model(config.replace(detection_min_confidence=0.0))
# Random weights call every ROI background, or every ROI the same class. Rule
# background out, and make "person" minus "garment" a feature sum whose sign
# varies from ROI to ROI; then shift it until the dress sample's detections
# hold both classes.
logits = model.net.layer("mrcnn_class_logits")
kernel = logits.kernel.numpy()
kernel[:, 1] = 0.0
kernel[:, 2] = np.where(np.arange(kernel.shape[0]) % 2 == 0, 1.0, -1.0)
logits.kernel.assign(kernel)
photo = load_sample("dress").image
for shift in np.arange(0.0, 4.0, 0.25):
    logits.bias.assign(np.array([-20.0, 8.0, 8.0 + shift], np.float32))
    names = model.detect([photo])[0].class_names
    if min(names.count("garment"), names.count("person")) >= 10:
        break
else:
    sys.exit("no bias shift splits the detections between the two classes")
path = Path(sys.argv[1])
model.save_weights(path, write_config=False)
config.to_json(path.with_suffix(".json"))
"""


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A ResNet-50 Mask R-CNN with random weights, saved with its JSON config.

    Built in a separate process: TensorFlow stays out of the test process,
    as it stays out of napari.
    """
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("Mask R-CNN needs TensorFlow")
    path = tmp_path_factory.mktemp("weights") / "tiny.h5"
    # The child finds the drawn samples where pytest does (pythonpath in pyproject.toml).
    benchmarks = str(Path(__file__).resolve().parents[2] / "benchmarks")
    pythonpath = os.pathsep.join(p for p in (benchmarks, os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=pythonpath)
    subprocess.run([sys.executable, "-c", TINY_MODEL, str(path)], check=True, env=env)
    return path


def detect_widget(viewer, weights, photo) -> DetectWidget:
    widget = DetectWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image.value = viewer.add_image(photo, name="photo")
    widget.source.value = "model"  # the drawn samples have a plain backdrop
    widget.weights.value = weights
    return widget


def test_cancel_a_running_detection_then_keep_working(make_napari_viewer, qtbot, weights, shown):
    from samples import load_sample

    sample = load_sample("tshirt")
    viewer = make_napari_viewer()
    widget = detect_widget(viewer, weights, sample.image)
    widget.min_score.value = 0.35  # a model not built before by these tests
    widget.run_button.clicked.emit()
    worker = widget.worker
    assert worker is not None and widget.cancel_button.enabled and not widget.run_button.enabled
    results = []
    worker.returned.connect(results.append)
    qtbot.waitUntil(lambda: widget.progress.value >= 1, timeout=WAIT_MS)  # loading the model

    widget.cancel_button.clicked.emit()
    # The widget is free at once ...
    assert widget.run_button.enabled and not widget.cancel_button.enabled
    assert widget.status.value == "Cancelled."
    # ... and the worker stops at its next step without delivering anything.
    qtbot.waitUntil(lambda: not worker.is_running, timeout=WAIT_MS)
    qtbot.wait(50)
    assert worker.abort_requested and results == []
    assert [layer.name for layer in viewer.layers] == ["photo"]
    assert not shown["error"]

    # The viewer is usable afterwards: paint a coarse mask by hand and refine it.
    coarse = viewer.add_labels(sample.coarse.copy(), name="painted")
    refine = RefineWidget(viewer)
    viewer.window.add_dock_widget(refine)
    refine.synchronous = True
    refine.image.value, refine.coarse.value = viewer.layers["photo"], coarse
    refine.run_button.clicked.emit()
    assert "photo segmentation" in [layer.name for layer in viewer.layers]
    assert "tensorflow" not in sys.modules


def test_detection_adds_coarse_labels_with_class_and_score(make_napari_viewer, qtbot, weights, shown):
    from samples import load_sample

    photo = load_sample("dress").image
    viewer = make_napari_viewer()
    widget = detect_widget(viewer, weights, photo)
    widget.min_score.value = 0.0  # random weights score low; keep everything
    # Without a shipped model's defaults, every class of the model is asked for.
    assert list(widget.classes.choices) == ["garment", "person"]
    assert list(widget.classes.value) == ["garment", "person"]
    widget.run_button.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=WAIT_MS)
    assert not shown["error"], shown
    layer = viewer.layers["photo coarse"]
    assert layer.data.shape == photo.shape[:2] and layer.data.dtype == np.int32
    ids = np.unique(layer.data)
    n = len(layer.features) - 1
    assert n > 0 and ids.max() <= n
    features = layer.features.set_index("index")
    assert set(features.loc[1:, "class_name"]) == {"garment", "person"}
    scores = features.loc[1:, "score"].to_numpy()
    assert np.all(np.diff(scores) <= 0)  # id 1 is the best detection
    next_step = " Next: Refine snaps them to the photo's edges."
    assert widget.status.value == f"{counted(n, 'object')} found by the model.{next_step}"
    # Hovering over an object shows its class and score.
    y, x = np.argwhere(layer.data == ids[-1])[0]
    status = layer.get_status((y, x), world=True)
    text = status["coordinates"] if isinstance(status, dict) else str(status)
    assert ("garment" in text or "person" in text) and "score" in text
    assert "tensorflow" not in sys.modules  # it ran in the detection process

    # Asking for one class keeps only its detections.
    n_person = int((features.loc[1:, "class_name"] == "person").sum())
    widget.classes.value = ["person"]
    widget.run_button.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=WAIT_MS)
    # The photo's coarse layer is replaced, not piled up.
    assert [layer.name for layer in viewer.layers] == ["photo", "photo coarse"]
    layer = viewer.layers["photo coarse"]
    features = layer.features.set_index("index")
    assert set(features.loc[1:, "class_name"]) == {"person"}
    # The person detections, the others dropped; persons that garments had left in pieces
    # (see Detections.without_fragments) may come back whole.
    assert len(features) - 1 >= n_person > 0
    widget.classes.value = []
    widget.run_button.clicked.emit()
    assert shown["error"] and "at least one class" in shown["error"][-1]


def test_detect_without_weights_says_what_to_do(make_napari_viewer, tmp_path, shown):
    viewer = make_napari_viewer()
    widget = DetectWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image.value = viewer.add_image(np.zeros((40, 50, 3), np.uint8), name="photo")
    widget.weights.value = tmp_path / "missing.h5"
    widget.run_button.clicked.emit()
    assert "Weights not found" in shown["error"][0] and "missing.h5" in shown["error"][0]
    widget.weights.value = tmp_path
    widget.run_button.clicked.emit()
    assert "Choose a Mask R-CNN weights file" in shown["error"][-1]
    (tmp_path / "alone.h5").write_bytes(b"")
    widget.weights.value = tmp_path / "alone.h5"
    widget.run_button.clicked.emit()
    assert "alone.json" in shown["error"][-1]
    assert widget.worker is None and widget.run_button.enabled


def test_auto_finds_studio_products_on_their_backdrop_without_the_model(make_napari_viewer, qtbot, monkeypatch):
    from napari_boostseg._napari import _detector
    from napari_boostseg.metrics import match_instances
    from napari_boostseg.sample_photos import load_sample_photo

    def no_model():
        raise AssertionError("the model was started for a photo with a plain backdrop")

    monkeypatch.setattr(_detector, "shared_detector", no_model)
    sample = load_sample_photo("outfit")
    viewer = make_napari_viewer()
    viewer.open_sample("napari-boostseg", "outfit")
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-boostseg", "Detect")
    assert widget.source.value == "auto" and widget.image.value.name == "outfit"
    widget.run_button.clicked.emit()
    qtbot.waitUntil(lambda: "outfit coarse" in viewer.layers and widget.worker is None, timeout=WAIT_MS)
    coarse = viewer.layers["outfit coarse"].data
    n = int(sample.truth.max())
    assert int(coarse.max()) == n
    assert min(score for score, _ in match_instances(coarse, sample.truth)) > 0.9
    assert widget.status.value.startswith(f"{counted(n, 'object')} found on the light grey backdrop (level ")
    assert widget.status.value.endswith(" Next: Refine snaps them to the photo's edges.")
    assert list(viewer.layers["outfit coarse"].features["class_name"]) == ["", *["product"] * n]  # shown on hover
    # The model's settings do nothing for the backdrop: greyed out while it alone is chosen.
    model_settings = (widget.weights, widget.min_score, widget.nms, widget.classes)
    assert all(w.enabled for w in model_settings)
    widget.source.value = "backdrop"
    assert not any(w.enabled for w in model_settings)
    widget.source.value = "model"
    assert all(w.enabled for w in model_settings)
    # A photo without a plain backdrop and the backdrop source: a clear message, no layer.
    street = np.random.default_rng(0).integers(0, 255, (300, 200, 3), np.uint8)
    widget.image.value = viewer.add_image(street, name="street")
    widget.source.value = "backdrop"
    widget.run_button.clicked.emit()
    qtbot.waitUntil(lambda: widget.worker is None, timeout=WAIT_MS)
    assert "no plain backdrop" in widget.status.value and "street coarse" not in viewer.layers


@pytest.mark.product_model
def test_split_touching_products_on_the_backdrop(make_napari_viewer, qtbot, monkeypatch):
    from napari_boostseg import models
    from napari_boostseg.synthetic.studio import render

    from _studio import drawn_cutouts

    photo = render(drawn_cutouts(), 3, layout="touching", size=900)  # trousers overlapping a dress
    viewer = make_napari_viewer()
    viewer.add_image(photo.image, name="pair")
    widget = DetectWidget(viewer)
    assert widget.split_touching.value  # on by default
    steps = []
    widget.progress.changed.connect(steps.append)
    found, status = {}, {}
    for split, product_model in ((False, True), (True, True), (True, False)):
        if not product_model:  # an installation without it: split by colour
            monkeypatch.setattr(models, "product_weights", lambda: None)
        widget.split_touching.value = split
        widget.run_button.clicked.emit()
        qtbot.waitUntil(lambda: "pair coarse" in viewer.layers and widget.worker is None, timeout=WAIT_MS)
        found[split, product_model] = int(viewer.layers["pair coarse"].data.max())
        status[split, product_model] = widget.status.value
    n = int(photo.truth.max())
    assert found == {(False, True): 1, (True, True): n, (True, False): n}
    assert "the product model split 1 region of touching products" in status[True, True]
    assert 2 in steps  # the split's steps were shown ("detecting"): the widget never looks stuck
    assert "touching products split by colour" in status[True, False]
    # The product model ran in the detection process: TensorFlow stays out of napari's.
    assert "tensorflow" not in sys.modules
    # A choice of the backdrop: the model alone does not offer it.
    widget.source.value = "model"
    assert not widget.split_touching.enabled
    widget.source.value = "auto"
    assert widget.split_touching.enabled


def test_the_street_sample_is_detected_as_a_person_and_the_next_photo_gets_the_garments_back(make_napari_viewer):
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-boostseg", "Detect")
    garments = list(widget.classes.value)
    assert "person" not in garments  # the bundled model's default: the garments
    viewer.open_sample("napari-boostseg", "street")  # a person in a street, as the demo cuts her out
    assert widget.image.value.name == "street" and list(widget.classes.value) == ["person"]
    viewer.open_sample("napari-boostseg", "outfit")
    assert widget.image.value.name == "outfit" and list(widget.classes.value) == garments
    # Classes chosen by hand stay when another photo is opened.
    widget.image.value = viewer.layers["street"]
    widget.classes.value = ["person", "bag"]
    widget.image.value = viewer.layers["outfit"]
    assert list(widget.classes.value) == ["person", "bag"]
