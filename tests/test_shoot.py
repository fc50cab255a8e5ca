"""A shoot under review (napari_boostseg.shoot): statuses, edits and accepted photos on disk."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _photos import assert_cutout_of
from PIL import Image
from scipy import ndimage as ndi

from napari_boostseg import files
from napari_boostseg.cutouts import product_window
from napari_boostseg.shoot import STATUSES, Shoot


def labels_of(shape, boxes):
    labels = np.zeros(shape, np.int32)
    for k, (y1, y2, x1, x2) in enumerate(boxes, start=1):
        labels[y1:y2, x1:x2] = k
    return labels


@pytest.fixture
def folders(tmp_path):
    """Three photos; ``boostseg segment`` outputs (labels) for two of them."""
    rng = np.random.default_rng(0)
    photos = tmp_path / "shoot"
    photos.mkdir()
    pixels = {}
    for name in ("a", "b", "c"):
        pixels[name] = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
        Image.fromarray(pixels[name]).save(photos / f"{name}.png")
    (photos / "shot-list.txt").write_text("not a photo")
    out = tmp_path / "out"
    for name in ("a", "c"):
        files.write_labels(out / "labels" / f"{name}.png", labels_of((40, 60), [(5, 20, 5, 25)]))
    return photos, out, tmp_path / "review", pixels


def test_statuses_come_from_the_folders(folders):
    photos, out, review, _ = folders
    shoot = Shoot(photos, review, segmented=out)
    assert shoot.names == ["a", "b", "c"]
    assert [shoot.status(n) for n in shoot.names] == ["automatic", "new", "automatic"]
    assert shoot.counts() == {"new": 1, "automatic": 2, "corrected": 0, "skipped": 0}
    assert shoot.summary() == "3 photos: 1 new, 2 automatic, 0 corrected, 0 skipped"
    assert shoot.coarse("b") is None
    np.testing.assert_array_equal(shoot.coarse("a"), labels_of((40, 60), [(5, 20, 5, 25)]))
    # Without segment outputs every photo is new.
    assert Shoot(photos, review).counts()["new"] == 3


def test_edits_and_statuses_survive_reopening(folders):
    photos, out, review, _ = folders
    shoot = Shoot(photos, review, segmented=out)
    coarse = labels_of((40, 60), [(2, 30, 2, 30), (30, 38, 40, 58)])
    strokes = np.zeros((40, 60), np.int32)
    strokes[10:12, 10:40] = 3  # a stroke of object 1 (marker 2)
    shoot.save_edits("b", coarse=coarse, strokes=strokes)
    shoot.skip("c")
    assert shoot.status("b") == "automatic"  # it has coarse masks now

    again = Shoot(photos, review, segmented=out)  # napari closed and opened again
    assert [again.status(n) for n in again.names] == ["automatic", "automatic", "skipped"]
    np.testing.assert_array_equal(again.coarse("b"), coarse)  # the saved one wins
    np.testing.assert_array_equal(again.strokes("b"), strokes)
    assert again.strokes("a") is None
    assert json.loads((review / "review.json").read_text())["status"]["c"] == "skipped"


def test_accept_writes_training_data_and_cutouts(folders):
    from napari_boostseg.mrcnn.dataset import InstanceDataset

    photos, out, review, pixels = folders
    shoot = Shoot(photos, review, segmented=out)
    labels = labels_of((40, 60), [(5, 20, 5, 25), (22, 38, 30, 58)])
    written = shoot.accept("a", labels, {1: "top", 2: "bag"})
    assert {p.relative_to(review).as_posix() for p in written} == {
        "images/a.png", "labels/a.png", "labels/a.json", "cutouts/a-1.png", "cutouts/a-2.png",
    }
    assert (review / "images" / "a.png").read_bytes() == (photos / "a.png").read_bytes()
    assert shoot.status("a") == "corrected"
    dataset = InstanceDataset(review, ("BG", "top", "bag"))
    assert len(dataset) == 1
    image, masks, class_ids = dataset.load(0)
    np.testing.assert_array_equal(image, pixels["a"])
    np.testing.assert_array_equal(masks[..., 1], labels == 2)
    assert list(class_ids) == [1, 2]
    # Each product's cut-out is cropped to it (with the margin every cut-out has).
    window = product_window(ndi.find_objects(labels)[1], labels.shape)
    rgba = np.asarray(Image.open(review / "cutouts" / "a-2.png"))
    mine, photo = labels[window] == 2, pixels["a"][window]
    assert_cutout_of(rgba, mine)
    core = ndi.binary_erosion(mine, iterations=2)
    np.testing.assert_array_equal(rgba[core, :3], photo[core])

    # Accepted again with one object: its outputs are that run's alone.
    shoot.accept("a", (labels == 2).astype(np.int32), {1: "bag"})
    assert sorted(p.name for p in (review / "cutouts").iterdir()) == ["a-1.png"]
    assert json.loads((review / "labels" / "a.json").read_text()) == {"classes": {"1": "bag"}}


@pytest.mark.parametrize(
    "labels, classes, message",
    [
        (np.zeros((40, 60), np.int32), {}, "no object"),
        (labels_of((40, 60), [(5, 20, 5, 25), (22, 38, 30, 58)]), {1: "top"}, r"\[2\].*no class"),
        (np.ones((30, 60), np.int32), {1: "top"}, "do not fit"),
    ],
)
def test_accept_refuses_bad_labels_and_writes_nothing(folders, labels, classes, message):
    photos, out, review, _ = folders
    shoot = Shoot(photos, review, segmented=out)
    with pytest.raises(ValueError, match=message):
        shoot.accept("a", labels, classes)
    assert shoot.status("a") == "automatic"
    assert not review.exists() or not any((review / d).exists() for d in ("images", "labels", "cutouts"))


def test_bad_folders_say_what_is_wrong(folders, tmp_path):
    photos, out, review, _ = folders
    with pytest.raises(FileNotFoundError, match="Photo folder not found"):
        Shoot(tmp_path / "nowhere", review)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="No photo in"):
        Shoot(tmp_path / "empty", review)
    with pytest.raises(ValueError, match="other than the photo folder"):
        Shoot(photos, photos)
    with pytest.raises(FileNotFoundError, match="no 'labels' folder"):
        Shoot(photos, review, segmented=photos)
    review.mkdir()
    (review / "review.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a review state"):
        Shoot(photos, review)
    with pytest.raises(KeyError, match="not a photo"):
        Shoot(photos, tmp_path / "r2").status("zzz")
    assert STATUSES == ("new", "automatic", "corrected", "skipped")


def test_found_classes_are_kept_with_the_coarse_masks(folders):
    photos, _out, review, _ = folders
    shoot = Shoot(photos, review)
    coarse = labels_of((40, 60), [(5, 20, 5, 25), (25, 35, 30, 50)])
    shoot.save_edits("b", coarse=coarse, classes={1: "bottom", 2: ""})
    again = Shoot(photos, review)
    assert again.status("b") == "automatic"
    np.testing.assert_array_equal(again.coarse("b"), coarse)
    assert again.coarse_classes("b") == {1: "bottom"}  # an unnamed object has no class
    assert again.coarse_classes("a") == {}


def test_statuses_set_from_threads_all_reach_the_disk(folders):
    from concurrent.futures import ThreadPoolExecutor

    photos, _out, review, _ = folders
    shoot = Shoot(photos, review)
    coarse = labels_of((40, 60), [(5, 20, 5, 25)])
    with ThreadPoolExecutor(3) as pool:
        list(pool.map(lambda name: shoot.accept(name, coarse, {1: "top"}), ("a", "b", "c")))
    assert Shoot(photos, review).counts()["corrected"] == 3
    # Masks found for a photo already accepted leave it corrected.
    shoot.save_edits("a", coarse=coarse)
    assert Shoot(photos, review).status("a") == "corrected"
