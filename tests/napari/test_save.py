"""Saving from napari: the labels writer and the cut-out export."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from napari_boostseg import files
from napari_boostseg._napari import _widgets
from napari_boostseg._napari._widgets import ExportWidget

from _viewer_fixtures import add_drawn_sample, needs_display, no_product_model, no_tensorflow_beside_opengl, shown  # noqa: F401

pytestmark = [pytest.mark.gui, needs_display]


def labels_with_ids(top: int) -> np.ndarray:
    labels = np.zeros((60, 80), np.int32)
    labels[5:25, 5:35] = 1
    labels[30:55, 40:75] = top
    labels[10:20, 50:60] = 2
    return labels


@pytest.mark.parametrize("name, top", [("seg.png", 7), ("seg16.png", 300), ("seg.tif", 70_000)])
def test_writer_round_trip(make_napari_viewer, tmp_path, name, top):
    viewer = make_napari_viewer()
    labels = labels_with_ids(top)
    layer = viewer.add_labels(labels, name="segmentation")
    written = layer.save(str(tmp_path / name), plugin="napari-boostseg")
    assert written == [str(tmp_path / name)]
    back = files.read_labels(tmp_path / name)
    assert back.dtype == np.int32
    np.testing.assert_array_equal(back, labels)
    if name.endswith(".png"):
        assert Image.open(tmp_path / name).mode == ("L" if top < 256 else "I;16")


def test_saved_labels_are_training_data(make_napari_viewer, qtbot, tmp_path):
    """Refine a sample, save as the Mask R-CNN training layout, read it back unchanged."""
    import pandas as pd

    from napari_boostseg.mrcnn.dataset import InstanceDataset

    viewer = make_napari_viewer()
    add_drawn_sample(viewer, "bag_and_scarf")
    coarse = viewer.layers["bag_and_scarf coarse"]
    coarse.features = pd.DataFrame(
        {"index": [0, 1, 2], "class_name": ["", "bag", "scarf"], "score": [np.nan, 0.9, 0.8]}
    )
    widget = _widgets.RefineWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.synchronous = True
    widget.image.value, widget.coarse.value = viewer.layers["bag_and_scarf"], coarse
    widget.run_button.clicked.emit()
    segmentation = viewer.layers["bag_and_scarf segmentation"]
    # The class and score travel from the coarse layer to the segmentation (shown on hover).
    assert list(segmentation.features["class_name"]) == ["", "bag", "scarf"]

    (tmp_path / "images").mkdir()
    Image.fromarray(viewer.layers["bag_and_scarf"].data).save(tmp_path / "images" / "shoot1.png")
    written = segmentation.save(str(tmp_path / "labels" / "shoot1.png"), plugin="napari-boostseg")
    assert written == [str(tmp_path / "labels" / f"shoot1.{s}") for s in ("png", "json")]
    np.testing.assert_array_equal(files.read_labels(written[0]), segmentation.data)
    assert json.loads((tmp_path / "labels" / "shoot1.json").read_text()) == {
        "classes": {"1": "bag", "2": "scarf"}
    }
    dataset = InstanceDataset(tmp_path, ("BG", "bag", "scarf"))
    assert len(dataset) == 1
    image, masks, class_ids = dataset.load(0)
    assert image.shape == (1200, 1600, 3)
    for k, mask in enumerate(np.moveaxis(masks, 2, 0), start=1):
        np.testing.assert_array_equal(mask, segmentation.data == k)
    assert list(class_ids) == [1, 2]


def test_export_cutouts_and_never_overwrite_unasked(make_napari_viewer, tmp_path, monkeypatch, shown):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    labels = labels_with_ids(3)
    widget = ExportWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image.value = viewer.add_image(photo, name="shoot 1")
    widget.segmentation.value = viewer.add_labels(labels, name="segmentation")
    widget.folder.value = tmp_path
    assert widget.crop.value  # cropped by default, as segment writes them
    widget.crop.value = False  # the whole frame
    assert widget.soft_edge.value  # soft edges by default, as segment writes them
    widget.soft_edge.value = False  # the segmentation's hard edge

    written = widget.export()
    # Named as `boostseg segment` names them: the photo's name, spaces kept.
    assert [p.name for p in written] == ["shoot 1-1.png", "shoot 1-2.png", "shoot 1-3.png"]
    assert widget.prefix.native.placeholderText() == "the photo's name"
    for k, path in enumerate(written, start=1):
        rgba = np.asarray(Image.open(path))
        assert rgba.shape == (60, 80, 4) and rgba.dtype == np.uint8  # full resolution
        inside = labels == k
        np.testing.assert_array_equal(rgba[..., 3], np.where(inside, 255, 0))
        np.testing.assert_array_equal(rgba[inside, :3], photo[inside])
        assert not rgba[~inside, :3].any()  # nothing of the background survives

    # The files exist now: declining the question leaves them alone.
    before = [p.read_bytes() for p in written]
    asked = []
    monkeypatch.setattr(_widgets, "confirm_overwrite", lambda paths: asked.append(paths) or False)
    widget.image.value.data = 255 - photo
    assert widget.export() == []
    assert len(asked[0]) == 3
    assert [p.read_bytes() for p in written] == before
    # Saying yes replaces them.
    monkeypatch.setattr(_widgets, "confirm_overwrite", lambda paths: True)
    widget.crop.value = True
    widget.soft_edge.value = True
    again = widget.export()
    assert again == written
    crop = np.asarray(Image.open(written[0]))
    # Cropped as segment crops: the 20x30 box and a margin of 2 (5 % of 30).
    assert crop.shape == (24, 34, 4)
    np.testing.assert_array_equal(crop[4:20, 4:30, :3], 255 - photo[7:23, 7:33])
    assert (crop[4:20, 4:30, 3] == 255).all() and not crop[0, :, 3].any() and not crop[:, 0, 3].any()
    # The outline is soft: partly transparent along the box's edge.
    assert ((crop[2:22, 2, 3] > 0) & (crop[2:22, 2, 3] < 255)).all()
    assert not shown["error"]


def test_export_with_nothing_to_cut_is_a_notification(make_napari_viewer, tmp_path, shown):
    viewer = make_napari_viewer()
    widget = ExportWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.image.value = viewer.add_image(np.zeros((20, 30), np.uint8), name="p")
    widget.segmentation.value = viewer.add_labels(np.zeros((20, 30), np.int32), name="empty")
    widget.folder.value = tmp_path
    assert widget.export() == []
    assert "no products" in shown["error"][0]
    assert not list(tmp_path.iterdir())
