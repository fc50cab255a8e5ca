"""The Shoot review widget in a real viewer: open a folder, step with the keys, correct,
accept, skip, and find everything again after reopening."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from napari_boostseg import BACKGROUND, files
from napari_boostseg._napari._shoot import ShootWidget
from napari_boostseg._text import counted
from napari_boostseg.shoot import Shoot

from _viewer_fixtures import needs_display, no_product_model, no_tensorflow_beside_opengl, shown  # noqa: F401

pytestmark = [pytest.mark.gui, needs_display]

WAIT_MS = 60_000


@pytest.fixture
def shoot_folders(tmp_path):
    """Three sample photos; 'boostseg segment' outputs for two (their coarse masks)."""
    from samples import load_sample

    photos, out = tmp_path / "shoot", tmp_path / "out"
    photos.mkdir()
    for name in ("bag_and_scarf", "dress", "tshirt"):
        sample = load_sample(name)
        Image.fromarray(sample.image).save(photos / f"{name}.png", compress_level=1)
        if name != "dress":
            files.write_labels(out / "labels" / f"{name}.png", sample.coarse)
    return photos, out, tmp_path / "shoot-review"


def press(viewer, key) -> None:
    """Press a key over the canvas, as a person would."""
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest

    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    QTest.keyClick(canvas, {"PageDown": Qt.Key.Key_PageDown, "PageUp": Qt.Key.Key_PageUp}[key])


def _opened(make_napari_viewer, qtbot, photos, out):
    """A viewer with the Shoot review widget docked, the sample shoot open at its first photo."""
    viewer = make_napari_viewer()
    widget = ShootWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.photos.value, widget.segmented.value = photos, out
    widget.open_button.clicked.emit()
    qtbot.waitUntil(lambda: "bag_and_scarf segmentation" in viewer.layers, timeout=WAIT_MS)
    return viewer, widget


def test_review_a_shoot(make_napari_viewer, qtbot, shoot_folders, shown):
    from napari_boostseg.mrcnn.dataset import InstanceDataset

    photos, out, review = shoot_folders
    viewer = make_napari_viewer()
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-boostseg", "Shoot review")
    assert isinstance(widget, ShootWidget)
    widget.photos.value, widget.segmented.value = photos, out
    widget.open_button.clicked.emit()
    qtbot.waitUntil(lambda: "bag_and_scarf segmentation" in viewer.layers, timeout=WAIT_MS)
    assert widget.count.value == "3 photos: 1 new, 2 automatic, 0 corrected, 0 skipped"
    assert [widget.list.item(i).text() for i in range(3)] == [
        "bag_and_scarf  (automatic)", "dress  (new)", "tshirt  (automatic)",
    ]
    # Only this photo is loaded; the next one is prepared in a worker meanwhile.
    assert {layer.name.split(" ")[0] for layer in viewer.layers} == {"bag_and_scarf"}
    qtbot.waitUntil(lambda: 1 in widget._prepared, timeout=WAIT_MS)

    # A background stroke across the top of the bag's handle (sure object there).
    markers = viewer.layers["bag_and_scarf markers"]
    segmentation = viewer.layers["bag_and_scarf segmentation"]
    before = segmentation.data.copy()
    with markers.block_history():
        for col in range(520, 580, 4):
            markers.paint((310, col), BACKGROUND, refresh=False)
    markers.refresh()
    qtbot.waitUntil(lambda: not np.array_equal(segmentation.data, before), timeout=WAIT_MS)
    corrected = segmentation.data.copy()

    # PageDown: the next photo at once; this one's strokes are written to disk in a worker,
    # not on napari's thread. The dress had no coarse masks: its products were found on its
    # backdrop (in the worker) and refined.
    import threading

    writers = []
    save_edits = widget.shoot.save_edits

    def recorded(*args, **kwargs):
        writers.append(threading.current_thread() is threading.main_thread())
        return save_edits(*args, **kwargs)

    widget.shoot.save_edits = recorded
    press(viewer, "PageDown")
    assert widget.current == 1, (widget.status.value, shown)
    qtbot.waitUntil(lambda: "dress segmentation" in viewer.layers, timeout=WAIT_MS)
    assert "bag_and_scarf" not in viewer.layers and "bag_and_scarf markers" not in viewer.layers
    qtbot.waitUntil(lambda: (review / "edits" / "bag_and_scarf-strokes.png").is_file(), timeout=WAIT_MS)
    assert writers and not any(writers)
    assert "dress: 1 object found on a light grey backdrop" in widget.status.value, widget.status.value
    qtbot.waitUntil(lambda: (review / "edits" / "dress-coarse.png").is_file(), timeout=WAIT_MS)
    qtbot.waitUntil(
        lambda: widget.count.value == "3 photos: 0 new, 3 automatic, 0 corrected, 0 skipped", timeout=WAIT_MS
    )
    assert not widget.progress.visible

    # PageUp: back, with the stroke and the corrected segmentation.
    press(viewer, "PageUp")
    qtbot.waitUntil(lambda: "bag_and_scarf segmentation" in viewer.layers, timeout=WAIT_MS)
    assert np.all(viewer.layers["bag_and_scarf markers"].data[310, 520:577] == BACKGROUND)
    np.testing.assert_array_equal(viewer.layers["bag_and_scarf segmentation"].data, corrected)

    # Accept: on to the next photo at once; training data and cut-outs are written in a
    # worker, and the photo counts as corrected once they are.
    # Its objects were found on the backdrop: no class is assumed for them.
    assert widget.class_name.value is None
    assert widget.class_name.native.currentText() == "(choose a class)"  # not magicgui's "-----"
    assert widget.accept() is None and widget.current == 0
    assert "without a class (1, 2" in widget.status.value and not (review / "labels").exists()
    shown["error"].clear()
    widget.class_name.value = "bag"
    worker = widget.accept()
    assert worker is not None and widget.current == 1
    assert widget.list.item(0).text() == "bag_and_scarf  (saving…)"
    qtbot.waitUntil(lambda: not widget._accepting, timeout=WAIT_MS)
    assert widget.list.item(0).text() == "bag_and_scarf  (corrected)"
    assert "2 objects without a class saved as 'bag'." in widget.status.value  # said, not silent
    written = widget.last_written
    assert len(written) == 5 and all(p.is_file() for p in written)
    dataset = InstanceDataset(review, ("BG", "bag"))
    _image, masks, _classes = dataset.load(0)
    np.testing.assert_array_equal(masks[..., 0], corrected == 1)
    assert sorted(p.name for p in (review / "cutouts").iterdir()) == [
        "bag_and_scarf-1.png", "bag_and_scarf-2.png",
    ]
    qtbot.waitUntil(lambda: "dress segmentation" in viewer.layers, timeout=WAIT_MS)
    widget.skip_button.clicked.emit()  # the dress
    qtbot.waitUntil(lambda: "tshirt segmentation" in viewer.layers, timeout=WAIT_MS)
    assert widget.count.value == "3 photos: 0 new, 1 automatic, 1 corrected, 1 skipped"
    assert widget.list.item(0).text() == "bag_and_scarf  (corrected)"
    assert json.loads((review / "review.json").read_text())["status"]["dress"] == "skipped"
    assert not shown["error"], shown

    # Closed and opened again: the statuses are there, and it starts where work is left.
    again = ShootWidget(viewer)
    viewer.window.add_dock_widget(again)
    again.photos.value, again.segmented.value = photos, out
    again.open_button.clicked.emit()
    assert again.count.value == "3 photos: 0 new, 1 automatic, 1 corrected, 1 skipped"
    assert again.current == 2
    qtbot.waitUntil(lambda: not again._workers and not widget._workers, timeout=WAIT_MS)


def test_a_failed_accept_says_so_and_keeps_the_status(make_napari_viewer, qtbot, shoot_folders, shown):
    photos, out, review = shoot_folders
    viewer, widget = _opened(make_napari_viewer, qtbot, photos, out)
    review.mkdir(exist_ok=True)
    (review / "cutouts").write_text("a file where the cut-out folder should be")
    widget.class_name.value = "bag"
    widget.accept()
    qtbot.waitUntil(lambda: not widget._accepting, timeout=WAIT_MS)
    assert shown["error"] and shown["error"][-1].startswith("bag_and_scarf not accepted:"), shown
    assert widget.shoot.status("bag_and_scarf") == "automatic"
    assert widget.list.item(0).text() == "bag_and_scarf  (automatic)"
    assert Shoot(photos, review, segmented=out).status("bag_and_scarf") == "automatic"
    qtbot.waitUntil(lambda: not widget._workers, timeout=WAIT_MS)


def test_what_became_of_an_accepted_photo_is_still_said_when_the_next_one_is_shown_later(
    make_napari_viewer, qtbot, shoot_folders, shown
):
    # The photo accepted is saved before the next one is ready: the next one's status must not
    # wipe out what was saved (here, objects without a class saved under the chosen one).
    photos, out, _review = shoot_folders
    viewer, widget = _opened(make_napari_viewer, qtbot, photos, out)
    qtbot.waitUntil(lambda: 1 in widget._prepared, timeout=WAIT_MS)
    ready = widget._prepared.pop(1)  # the dress, held back until the save is done
    widget._prepare = lambda index: None
    widget.class_name.value = "bag"
    assert widget.accept() is not None and widget.current == 1
    qtbot.waitUntil(lambda: not widget._accepting, timeout=WAIT_MS)
    saved = "2 objects without a class saved as 'bag'."
    assert saved in widget.status.value
    widget._prepared_one(ready)
    assert "dress segmentation" in viewer.layers
    assert saved in widget.status.value and "dress: " in widget.status.value, widget.status.value
    assert not widget._verdict_note  # said once


def test_a_closed_viewers_detect_widget_is_passed_over(make_napari_viewer, qtbot, shoot_folders, shown):
    from napari_boostseg._napari._widgets import DetectWidget
    from napari_boostseg.models import default_weights

    photos, out, _review = shoot_folders
    closed = make_napari_viewer()
    elsewhere = DetectWidget(closed)  # another viewer's, closed with it
    closed.window.add_dock_widget(elsewhere)
    closed.close()
    qtbot.wait(50)
    with pytest.raises(RuntimeError):
        elsewhere.weights.value  # the Qt widget is gone, the Python object not yet
    viewer = make_napari_viewer()
    widget = ShootWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.photos.value, widget.segmented.value = photos, out
    widget.open_button.clicked.emit()
    assert widget._weights() == default_weights()
    qtbot.waitUntil(lambda: "bag_and_scarf segmentation" in viewer.layers, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not widget._workers, timeout=WAIT_MS)
    assert not shown["error"], shown


def test_opening_a_missing_folder_says_so(make_napari_viewer, tmp_path, shown):
    viewer = make_napari_viewer()
    widget = ShootWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.open_button.clicked.emit()
    assert "Choose the folder of photos" in shown["error"][-1]
    widget.photos.value = tmp_path / "nowhere"
    widget.open_button.clicked.emit()
    assert "Photo folder not found" in shown["error"][-1]
    assert widget.status.value == shown["error"][-1] and widget.shoot is None


def test_a_new_photo_of_touching_products_is_split(make_napari_viewer, qtbot, tmp_path, shown):
    from napari_boostseg.synthetic.studio import render

    # (Split by colour here: see no_product_model; Detect's test runs the product model.)
    from _studio import drawn_cutouts

    photo = render(drawn_cutouts(), 3, layout="touching", size=900)  # trousers overlapping a dress
    photos = tmp_path / "pair"
    photos.mkdir()
    Image.fromarray(photo.image).save(photos / "pair.png")
    found = {}
    for split in (False, True):
        viewer = make_napari_viewer()
        widget = ShootWidget(viewer)
        viewer.window.add_dock_widget(widget)
        assert widget.split_touching.value  # on by default
        widget.photos.value, widget.review.value = photos, tmp_path / f"review-{split}"
        widget.split_touching.value = split
        widget.open_button.clicked.emit()
        qtbot.waitUntil(lambda w=widget: "pair segmentation" in w.viewer.layers, timeout=WAIT_MS)
        found[split] = int(viewer.layers["pair coarse"].data.max())
        assert f"pair: {counted(found[split], 'object')} found on a " in widget.status.value, widget.status.value
    assert found == {False: 1, True: int(photo.truth.max())}
    # The split is a choice of the backdrop source: off limits where the model alone finds.
    enabled = {}
    for find in ("model", "none", "backdrop", "auto"):
        widget.find.value = find
        enabled[find] = widget.split_touching.enabled
    assert enabled == {"model": False, "none": False, "backdrop": True, "auto": True}


def test_a_photo_that_cannot_be_read_says_so_and_can_be_skipped(make_napari_viewer, qtbot, shoot_folders, shown):
    photos, out, review = shoot_folders
    (photos / "aaa_broken.jpg").write_bytes(b"")  # first in the list, and new
    viewer = make_napari_viewer()
    widget = ShootWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.photos.value, widget.segmented.value = photos, out
    widget.open_button.clicked.emit()
    qtbot.waitUntil(lambda: bool(shown["error"]), timeout=WAIT_MS)
    assert widget.current == 0 and widget.shoot.names[0] == "aaa_broken"
    message = shown["error"][-1]
    assert message.startswith("Cannot open aaa_broken:") and "the file is empty" in message, message
    assert "Skip it" in message and widget.status.value == message
    assert not widget.accept_button.enabled and widget.skip_button.enabled
    assert not [layer for layer in viewer.layers if layer.name.startswith("aaa_broken")]
    widget.skip()
    assert widget.shoot.status("aaa_broken") == "skipped"
    qtbot.waitUntil(lambda: "bag_and_scarf segmentation" in viewer.layers, timeout=WAIT_MS)
    assert widget.current == 1 and widget.accept_button.enabled
    qtbot.waitUntil(lambda: not widget._workers, timeout=WAIT_MS)
