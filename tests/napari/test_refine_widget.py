"""The Refine widget in a real viewer: layers, live re-flooding, undo, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_boostseg import BACKGROUND, UNDECIDED
from napari_boostseg._napari._widgets import (
    BACKGROUND_COLOUR,
    MARKER_SHADE,
    RefineWidget,
    marker_colour,
    object_colour,
)

from _viewer_fixtures import (  # noqa: F401
    add_drawn_sample,
    leaky_dress,
    needs_display,
    no_product_model,
    no_tensorflow_beside_opengl,
    shown,
)

pytestmark = [pytest.mark.gui, needs_display]

WAIT_MS = 60_000


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def refine_widget(viewer, photo_layer, coarse_layer) -> RefineWidget:
    """The Refine widget as a person opens it: Plugins > BoostSeg > Refine."""
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-boostseg", "Refine")
    assert isinstance(widget, RefineWidget)
    widget.image.value = photo_layer
    widget.coarse.value = coarse_layer
    return widget


def refined(qtbot, widget: RefineWidget) -> None:
    """Press Refine and wait for the thread worker to deliver the layers."""
    before = widget.refinement
    widget.run_button.clicked.emit()
    qtbot.waitUntil(lambda: widget.refinement is not before and widget.worker is None, timeout=WAIT_MS)


def test_whole_chain_on_a_sample(make_napari_viewer, qtbot):
    from samples import load_sample

    viewer = make_napari_viewer()
    add_drawn_sample(viewer, "bag_and_scarf")
    photo, coarse = viewer.layers["bag_and_scarf"], viewer.layers["bag_and_scarf coarse"]
    # As a person opens it: Plugins > BoostSeg > Refine.
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-boostseg", "Refine")
    assert widget.image.value.name == "bag_and_scarf"
    assert widget.coarse.value.name == "bag_and_scarf coarse"
    refined(qtbot, widget)

    names = [layer.name for layer in viewer.layers]
    for suffix in ("soft-masked", "edges", "segmentation", "markers"):
        assert f"bag_and_scarf {suffix}" in names
    soft = viewer.layers["bag_and_scarf soft-masked"]
    assert soft.rgb and soft.data.shape == photo.data.shape and soft.data.dtype == np.uint8
    assert viewer.layers["bag_and_scarf edges"].data.shape == coarse.data.shape
    segmentation = viewer.layers["bag_and_scarf segmentation"].data
    markers_layer = viewer.layers["bag_and_scarf markers"]
    markers = markers_layer.data
    # Same ids as the coarse masks, and closer to the truth than they are.
    assert set(np.unique(segmentation)) == set(np.unique(coarse.data)) == {0, 1, 2}
    truth = load_sample("bag_and_scarf").truth
    for k in (1, 2):
        assert iou(segmentation == k, truth == k) > iou(coarse.data == k, truth == k)
    # All three kinds of marker are there, and their colours tell them apart.
    assert {UNDECIDED, BACKGROUND, 2, 3} <= set(np.unique(markers))
    colours = markers_layer.colormap.map(np.array([UNDECIDED, BACKGROUND, 2, 3]))
    assert colours[0][3] == 0  # undecided: clear
    np.testing.assert_allclose(colours[1][:3], BACKGROUND_COLOUR, atol=1e-6)
    for marker in (BACKGROUND, 2, 3):
        np.testing.assert_allclose(colours[marker], marker_colour(marker), atol=1e-6)
    # Marker k+1 is a shade of object k's colour in the segmentation.
    seg_colours = viewer.layers["bag_and_scarf segmentation"].colormap.map(np.array([1, 2]))
    np.testing.assert_allclose(seg_colours, [object_colour(1), object_colour(2)], atol=1e-6)
    np.testing.assert_allclose(colours[2:, :3], seg_colours[:, :3] * MARKER_SHADE, atol=1e-6)
    # Ready to paint background.
    assert viewer.layers.selection.active is markers_layer
    assert markers_layer.mode == "paint" and markers_layer.selected_label == BACKGROUND


def test_background_stroke_removes_a_leak_and_undo_brings_it_back(
    make_napari_viewer, qtbot, leaky_dress
):
    photo, coarse, truth, patch, stroke = leaky_dress
    viewer = make_napari_viewer()
    widget = refine_widget(
        viewer, viewer.add_image(photo, name="dress"), viewer.add_labels(coarse, name="painted")
    )
    refined(qtbot, widget)
    segmentation = viewer.layers["dress segmentation"]
    markers = viewer.layers["dress markers"]
    before = segmentation.data.copy()
    leak = patch & (before == 1)
    assert leak.sum() > 0.8 * patch.sum(), "the watershed should flood the look-alike patch"

    # One stroke of background across the leak, as the brush would paint it.
    markers.brush_size = 6
    with markers.block_history():
        for point in stroke:
            markers.paint(point, BACKGROUND, refresh=False)
    markers.refresh()
    qtbot.waitUntil(lambda: not np.array_equal(segmentation.data, before), timeout=WAIT_MS)
    after = segmentation.data.copy()

    changed = after != before
    # The leak is gone, up to the one-pixel seam where the two floods meet ...
    assert (leak & ~changed).sum() <= 0.02 * leak.sum()
    assert np.all(after[changed] == 0)
    # ... and nothing else changed.
    seam = ndi.binary_dilation(leak, iterations=2)
    assert not (changed & ~seam).any()
    assert iou(after == 1, truth == 1) > iou(before == 1, truth == 1)

    # napari's undo takes the stroke back, and the segmentation follows.
    markers.undo()
    qtbot.waitUntil(lambda: np.array_equal(segmentation.data, before), timeout=WAIT_MS)
    markers.redo()
    qtbot.waitUntil(lambda: np.array_equal(segmentation.data, after), timeout=WAIT_MS)


def test_parameters_update_the_layers_and_keep_hand_edits(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    add_drawn_sample(viewer, "tshirt")
    widget = refine_widget(viewer, viewer.layers["tshirt"], viewer.layers["tshirt coarse"])
    refined(qtbot, widget)
    markers = viewer.layers["tshirt markers"]
    band_before = (markers.data == UNDECIDED).sum()
    # A hand edit: a background dot far out in the backdrop.
    with markers.block_history():
        markers.paint((20, 20), 5)
    edited = markers.data == 5
    assert edited.any()

    first = widget.refinement
    # Live, no button press; wider than the band the moved T-shirt already has.
    widget.params["band"].value = 4.0
    qtbot.waitUntil(lambda: widget.refinement is not first and widget.worker is None, timeout=WAIT_MS)
    assert widget.refinement.params.band == 4.0
    assert (markers.data == UNDECIDED).sum() > band_before  # a wider band
    assert np.all(markers.data[edited] == 5)  # the hand edit survived
    # Marker 5 seeds a new object 4 there.
    assert np.all(viewer.layers["tshirt segmentation"].data[edited] == 4)
    # After all this, every field still shows its name beside it.
    assert widget.labels
    shown = {w.text() for w in widget.native.findChildren(type(widget.status.native)) if not w.isHidden()}
    assert {"photo", "coarse", "band (cells)", "moved band (cells)"} <= shown


def test_grayscale_photo(make_napari_viewer, qtbot):
    from samples import load_sample

    sample = load_sample("tshirt")
    grey = sample.image[::2, ::2].mean(axis=2).astype(np.uint16) * 257  # 16-bit grey
    viewer = make_napari_viewer()
    widget = refine_widget(
        viewer, viewer.add_image(grey, name="grey"),
        viewer.add_labels(sample.coarse[::2, ::2].copy(), name="c"),
    )
    refined(qtbot, widget)
    segmentation = viewer.layers["grey segmentation"].data
    truth = sample.truth[::2, ::2] == 1
    assert iou(segmentation == 1, truth) > iou(sample.coarse[::2, ::2] == 1, truth) + 0.05
    assert viewer.layers["grey soft-masked"].data.dtype == np.uint16


@pytest.mark.parametrize(
    "case, expected",
    [
        ("no coarse layer", "Choose a coarse Labels layer"),
        ("empty coarse", "is empty"),
        ("size mismatch", "choose the coarse layer made for this photo"),
        ("stack", "Split Stack"),
        ("float out of range", "rescale"),
    ],
)
def test_bad_input_is_a_notification(make_napari_viewer, shown, case, expected):
    viewer = make_napari_viewer()
    photo = np.zeros((40, 50, 3), np.uint8)
    coarse = np.zeros((40, 50), np.int32)
    coarse[10:30, 10:40] = 1
    if case == "empty coarse":
        coarse[:] = 0
    if case == "size mismatch":
        coarse = coarse[:30]
    if case == "stack":
        photo = np.zeros((3, 40, 50), np.uint8)
    if case == "float out of range":
        photo = np.full((40, 50), 300.0)
    widget = RefineWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.synchronous = True
    widget.image.value = viewer.add_image(photo, name="photo")
    if case != "no coarse layer":
        widget.coarse.value = viewer.add_labels(coarse, name="coarse")
    widget.run_button.clicked.emit()
    assert len(shown["error"]) == 1 and expected in shown["error"][0], shown
    assert widget.refinement is None
    assert [layer.name for layer in viewer.layers][-1] in ("photo", "coarse")


def test_status_names_objects_whose_refinement_fell_back(make_napari_viewer, qtbot):
    from napari_boostseg.coarse import jittered28
    from napari_boostseg.synthetic.thin_objects import thin_object_photo

    image, truth = thin_object_photo(9)  # alignment's move is not confirmed: refined unmoved
    viewer = make_napari_viewer()
    photo = viewer.add_image(image, name="frame")
    coarse = viewer.add_labels(jittered28(truth, seed=9).astype(np.int32), name="frame coarse")
    widget = refine_widget(viewer, photo, coarse)
    refined(qtbot, widget)
    assert ("Look at object 1 (the refined outline failed a check, or the move lay on weak edges; refined "
            "again without moving the coarse mask), marked on the photo: paint the markers") in widget.status.value


def test_objects_whose_refinement_fell_back_are_marked_on_the_canvas(make_napari_viewer, qtbot, tmp_path):
    from napari_boostseg.coarse import jittered28, oracle28
    from napari_boostseg.synthetic.thin_objects import thin_object_photo

    image, truth = thin_object_photo(9)
    viewer = make_napari_viewer()
    photo = viewer.add_image(image, name="frame")
    coarse = viewer.add_labels(jittered28(truth, seed=9).astype(np.int32), name="frame coarse")
    widget = refine_widget(viewer, photo, coarse)
    refined(qtbot, widget)
    flags = viewer.layers["frame look at"]
    assert list(flags.features["note"]) == ["look at 1: unmoved"]
    (y, x) = flags.data[0].astype(int)
    assert widget.layers["segmentation"].data[y, x] == 1  # the point lies on the object
    # The note runs from the point away from the nearer side of the photo, onto the canvas.
    nearer = "upper_right" if x > image.shape[1] / 2 else "upper_left"
    assert flags.text.anchor == nearer
    assert viewer.layers.selection.active.name == "frame markers"  # painting goes on there
    viewer.screenshot(str(tmp_path / "flags.png"), canvas_only=False)
    # A coarse mask nothing is doubtful about: the marker goes.
    coarse.data = oracle28(truth).astype(np.int32)
    refined(qtbot, widget)
    assert "frame look at" not in [layer.name for layer in viewer.layers]


def test_look_at_notes_are_dark_over_a_light_photo_and_yellow_over_a_dark_one():
    from napari_boostseg._napari._widgets import _note_colour

    light = np.full((200, 300, 3), 240, np.uint8)  # white paper: yellow text hardly reads on it
    light[50:150, 100:200] = 30  # a dark product
    dark = np.full((200, 300, 3), 20, np.uint8)
    assert _note_colour(light) == "#1030c0"
    assert _note_colour(light.astype(np.float32) / 255) == "#1030c0"
    assert _note_colour(dark) == "yellow"
    assert _note_colour(dark[..., 0]) == "yellow"  # grey
