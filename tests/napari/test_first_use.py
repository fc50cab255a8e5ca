"""What a new user meets on one photo: field names, preselected layers, marker colours,
status lines that stay true, whole error messages, and strokes that claim a region."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_boostseg import BACKGROUND, UNDECIDED
from napari_boostseg._napari._widgets import DetectWidget, ExportWidget, RefineWidget

from _scenes import shirt_with_sleeve
from _viewer_fixtures import add_drawn_sample, needs_display, no_product_model, no_tensorflow_beside_opengl, shown  # noqa: F401

pytestmark = [pytest.mark.gui, needs_display]

WAIT_MS = 60_000


def shown_names(widget) -> set[str]:
    """The texts of the field labels a person sees beside the widget's fields."""
    from qtpy.QtWidgets import QLabel

    return {w.text() for w in widget.native.findChildren(QLabel) if w.isVisibleTo(widget.native)}


def dock(viewer, widget):
    viewer.window.add_dock_widget(widget)
    widget.synchronous = True
    return widget


def refine_now(viewer, photo, coarse) -> RefineWidget:
    widget = dock(viewer, RefineWidget(viewer))
    widget.image.value, widget.coarse.value = photo, coarse
    widget.run_button.clicked.emit()
    assert widget.refinement is not None
    return widget


def detection(n: int, shape=(40, 50)) -> dict:
    """A detection result as the detection process sends it."""
    labels = np.zeros(shape, np.int32)
    for k in range(1, n + 1):
        labels[5 * k : 5 * k + 4, 5:20] = k
    return {
        "labels": labels,
        "class_names": ["garment"] * n,
        "scores": np.linspace(0.9, 0.8, n).astype(np.float32),
    }


def test_detect_follows_the_photo_just_opened(make_napari_viewer):
    viewer = make_napari_viewer()
    first = viewer.add_image(np.zeros((40, 50, 3), np.uint8), name="first")
    detect = dock(viewer, DetectWidget(viewer))
    assert detect.image.value is first
    second = viewer.add_image(np.zeros((40, 50, 3), np.uint8), name="second")
    assert detect.image.value is second
    # Refine's soft-masked photo and edges are no photos to detect on.
    viewer.add_labels(detection(2)["labels"], name="second coarse")
    refine_now(viewer, second, viewer.layers["second coarse"])
    assert {"second soft-masked", "second edges"} <= {layer.name for layer in viewer.layers}
    assert detect.image.value is second



def test_detect_lists_every_class_in_a_box_no_taller_than_they_need(make_napari_viewer):
    viewer = make_napari_viewer()
    detect = dock(viewer, DetectWidget(viewer))
    view, rows = detect.classes.native, len(detect.classes.choices)
    assert rows >= 7  # the bundled model's person and garment classes
    row = view.sizeHintForRow(0)
    assert rows * row <= view.height() <= rows * row + 12  # every class shows, no empty box below
    from qtpy.QtCore import QPoint

    def top(widget):
        return widget.native.mapTo(detect.native, QPoint(0, 0)).y()

    assert 0 < top(detect.run_button) - (top(detect.classes) + view.height()) < 40  # the button right below


def test_detect_progress_reads_as_a_sentence(make_napari_viewer):
    viewer = make_napari_viewer()
    detect = dock(viewer, DetectWidget(viewer))
    detect._progress(detect._run_id, 0)
    assert detect.status.value == "Starting TensorFlow…"

def test_detecting_again_refines_the_new_coarse_masks(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    photo = viewer.add_image(np.full((40, 50, 3), 200, np.uint8), name="photo")
    detect = dock(viewer, DetectWidget(viewer))
    detect._add(detect._run_id, detection(3), "photo")
    assert detect.status.value.endswith("Refine snaps them to the photo's edges.")
    refine = refine_now(viewer, photo, viewer.layers["photo coarse"])
    assert int(viewer.layers["photo segmentation"].data.max()) == 3
    assert refine.status.value.startswith("3 objects refined.") and "Export" in refine.status.value
    detect._add(detect._run_id, detection(1), "photo")  # Detect run again: other objects
    assert detect.status.value.endswith("Refine snaps it to the photo's edges.")
    qtbot.waitUntil(lambda: int(viewer.layers["photo segmentation"].data.max()) == 1, timeout=WAIT_MS)
    assert refine.status.value.startswith("1 object refined.")


def test_refine_keeps_its_parameters_folded_until_asked(make_napari_viewer):
    viewer = make_napari_viewer()
    refine = dock(viewer, RefineWidget(viewer))
    assert {"photo", "coarse", "stroke reach"} <= shown_names(refine)
    assert "band (cells)" not in shown_names(refine)
    refine.show_params.value = True
    # Each value is labelled with its unit where it has one.
    assert {"band (cells)", "edge sigma (px)", "prior", "edge percentile"} <= shown_names(refine)
    # Tooltips say what a parameter does and its default, not the measurements behind it.
    for name, widget in refine.params.items():
        assert "Default" in widget.tooltip, name
        assert len(widget.tooltip) < 360 and "CCP" not in widget.tooltip, name


def test_export_shows_its_field_names(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = ExportWidget(viewer)
    viewer.window.add_dock_widget(widget)
    assert {"photo", "segmentation", "folder", "name"} <= shown_names(widget)
    assert widget.soft_edge.text == "soft edges" and widget.soft_edge.tooltip


def test_export_writes_beside_the_photo_until_told_otherwise(make_napari_viewer, tmp_path):
    from napari_boostseg import files

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        files.write_image(tmp_path / name / "photo.png", np.zeros((40, 50, 3), np.uint8))
    viewer = make_napari_viewer()
    export = dock(viewer, ExportWidget(viewer))
    viewer.open(tmp_path / "a" / "photo.png")
    assert export.image.value is viewer.layers[-1]
    assert Path(str(export.folder.value)) == tmp_path / "a" / "cutouts"  # as segment's OUT/cutouts
    export.folder.value = tmp_path / "mine"  # chosen by hand: kept
    viewer.open(tmp_path / "b" / "photo.png")
    export.image.value = viewer.layers[-1]
    assert Path(str(export.folder.value)) == tmp_path / "mine"


def test_export_and_refine_preselect_the_layers_just_made(make_napari_viewer):
    viewer = make_napari_viewer()
    add_drawn_sample(viewer, "bag_and_scarf")
    export = ExportWidget(viewer)
    viewer.window.add_dock_widget(export)
    # A second photo and a hand-painted mask come in between.
    other = viewer.add_image(np.zeros((1200, 1600, 3), np.uint8), name="other")
    viewer.add_labels(np.zeros((1200, 1600), np.int32), name="painted")
    refine = refine_now(viewer, viewer.layers["bag_and_scarf"], viewer.layers["bag_and_scarf coarse"])
    # Export follows Refine: the segmentation and its photo, not the first Labels layer.
    assert export.segmentation.value is viewer.layers["bag_and_scarf segmentation"]
    assert export.image.value is viewer.layers["bag_and_scarf"]
    # Opened later, Export starts from the segmentation too.
    late = ExportWidget(viewer)
    assert late.segmentation.value is viewer.layers["bag_and_scarf segmentation"]

    # A new coarse layer (as Detect adds it) becomes Refine's coarse layer, with its photo.
    coarse = np.zeros((1200, 1600), np.int32)
    coarse[100:300, 100:400] = 1
    viewer.add_labels(coarse, name="other coarse")
    assert refine.coarse.value is viewer.layers["other coarse"]
    assert refine.image.value is other


def test_detect_again_replaces_the_coarse_layer(make_napari_viewer):
    viewer = make_napari_viewer()
    widget = DetectWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image.value = viewer.add_image(np.zeros((40, 50, 3), np.uint8), name="photo")
    widget._add(widget._run_id, detection(3), "photo")
    first = viewer.layers["photo coarse"]
    widget._add(widget._run_id, detection(2), "photo")
    assert [layer.name for layer in viewer.layers] == ["photo", "photo coarse"]
    layer = viewer.layers["photo coarse"]
    assert layer is first and layer.data.max() == 2
    assert list(layer.features["class_name"]) == ["", "garment", "garment"]
    assert widget.status.value == "2 objects found. Next: Refine snaps them to the photo's edges."


def test_markers_let_the_photo_show_and_differ_from_the_segmentation(make_napari_viewer):
    viewer = make_napari_viewer()
    add_drawn_sample(viewer, "bag_and_scarf")
    refine_now(viewer, viewer.layers["bag_and_scarf"], viewer.layers["bag_and_scarf coarse"])
    markers = viewer.layers["bag_and_scarf markers"]
    segmentation = viewer.layers["bag_and_scarf segmentation"]
    colours = markers.colormap.map(np.array([UNDECIDED, BACKGROUND, 2, 3]))
    shown_alpha = colours[:, 3] * markers.opacity
    assert shown_alpha[0] == 0  # the band: clear
    assert shown_alpha[1] <= 0.25  # sure background: a faint tint over most of the photo
    assert np.all(shown_alpha[2:] <= 0.5)
    seg = segmentation.colormap.map(np.array([1, 2]))
    for marker, obj in zip(colours[2:], seg):
        assert np.abs(marker[:3] - obj[:3]).max() > 0.2  # told apart from the segmentation
    # The segmentation lies over the markers as an outline: the refined edge is never hidden.
    assert viewer.layers.index(segmentation) > viewer.layers.index(markers)
    assert segmentation.contour >= 1 and segmentation.opacity == 1
    assert viewer.layers.selection.active is markers
    # The coarse masks are hidden under them, not drawn as a third tint.
    assert not viewer.layers["bag_and_scarf coarse"].visible

    # Rendered: where the markers say sure background, the photo shows nearly as it is.
    segmentation.visible = False
    viewer.layers["bag_and_scarf coarse"].visible = False
    viewer.reset_view()
    rendered = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(float)
    markers.visible = False
    bare = viewer.screenshot(canvas_only=True, flash=False)[..., :3].astype(float)
    assert np.abs(rendered - bare).mean() < 20


def test_status_lines_stay_true_and_errors_show_whole(make_napari_viewer, shown, tmp_path):
    viewer = make_napari_viewer()
    add_drawn_sample(viewer, "tshirt")
    refine = refine_now(viewer, viewer.layers["tshirt"], viewer.layers["tshirt coarse"])
    assert "tshirt markers" in refine.status.value
    viewer.layers.remove("tshirt markers")
    assert "tshirt markers" not in refine.status.value
    # An error replaces the last run's line, whole, in a line that wraps.
    viewer.add_labels(np.zeros((10, 10), np.int32), name="small")
    refine.coarse.value = viewer.layers["small"]
    refine.run_button.clicked.emit()
    message = shown["error"][-1]
    assert "choose the coarse layer made for this photo" in message
    assert refine.status.value == message and refine.status.native.wordWrap()

    detect = DetectWidget(viewer)
    viewer.window.add_dock_widget(detect)
    detect.image.value = viewer.layers["tshirt"]
    detect._add(detect._run_id, detection(2, viewer.layers["tshirt"].data.shape[:2]), "tshirt")
    assert detect.status.value == "2 objects found. Next: Refine snaps them to the photo's edges."
    detect.weights.value = tmp_path / "gone.h5"
    detect.run_button.clicked.emit()
    assert "not found" in shown["error"][-1] and str(tmp_path / "gone.h5") in shown["error"][-1]
    assert detect.status.value == shown["error"][-1] and detect.status.native.wordWrap()


def test_a_stroke_claims_the_missed_sleeve_and_undo_gives_it_back(make_napari_viewer, qtbot):
    image, coarse, truth, sleeve, _ = shirt_with_sleeve()
    viewer = make_napari_viewer()
    photo = viewer.add_image(image, name="shirt")
    widget = refine_now(viewer, photo, viewer.add_labels(coarse, name="shirt coarse"))
    widget.synchronous = False
    segmentation = viewer.layers["shirt segmentation"]
    markers = viewer.layers["shirt markers"]
    before = segmentation.data.copy()
    assert (before[sleeve] == 1).mean() < 0.1

    # One stroke of object 1 (marker 2) along the sleeve, as the brush paints it.
    markers.brush_size = 5
    with markers.block_history():
        for col in range(310, 410, 2):
            markers.paint((97, col), 2, refresh=False)
    markers.refresh()
    qtbot.waitUntil(lambda: not np.array_equal(segmentation.data, before), timeout=WAIT_MS)
    after = segmentation.data.copy()
    assert (after[sleeve] == 1).mean() > 0.97  # up to the sleeve's edge
    outside = (truth == 0) & ~ndi.binary_dilation(sleeve, iterations=2)
    np.testing.assert_array_equal(after[outside], before[outside])

    # With no reach the same stroke claims hardly more than itself.
    widget.reach.value = 0.0
    assert (segmentation.data[sleeve] == 1).mean() < 0.5
    widget.reach.value = 3.0
    np.testing.assert_array_equal(segmentation.data, after)

    markers.undo()
    qtbot.waitUntil(lambda: np.array_equal(segmentation.data, before), timeout=WAIT_MS)


def test_a_long_status_wraps_and_the_parameters_scroll_so_the_dock_keeps_its_size(make_napari_viewer):
    from qtpy.QtWidgets import QApplication

    viewer = make_napari_viewer()
    refine = dock(viewer, RefineWidget(viewer))
    width, height = refine.native.sizeHint().width(), refine.native.sizeHint().height()
    refine.status.value = "A status line of many words, " * 20
    QApplication.processEvents()
    # It wraps at its own width (about 60 characters): the dock grows no wider than that.
    assert refine.native.sizeHint().width() <= max(width, refine.status.native.maximumWidth() + 30)
    assert refine.status.native.maximumWidth() < 600
    refine.show_params.value = True
    QApplication.processEvents()
    assert "band (cells)" in shown_names(refine)
    # All the parameters, 20 rows, scroll in a box no taller than PARAMS_HEIGHT.
    assert refine.native.sizeHint().height() <= height + 400 + 320


def test_a_samples_cut_outs_go_to_a_folder_of_their_own(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-boostseg", "sweater")  # a photo without a file
    widget = ExportWidget(viewer)
    viewer.window.add_dock_widget(widget)
    assert Path(widget.folder.value) == Path.home() / "boostseg-cutouts"  # not loose in the home folder
