"""The per-photo job: outputs, resuming, overwriting and failures."""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict

import numpy as np
import pytest
from _photos import assert_cutout_of
from PIL import Image
from scipy import ndimage as ndi

from napari_boostseg import batch, coarse_masks, cutouts, files, manifest
from napari_boostseg.matting import EDGE_WIDTH
from napari_boostseg.refine import RefineParams, refine

from _shoot import ICC, make_shoot, tree_bytes


@pytest.fixture
def shoot(tmp_path):
    return make_shoot(tmp_path / "shoot", corrupt=True, samples=0)


def _options(tmp_path, shoot, **kw):
    return batch.SegmentOptions(out_dir=tmp_path / "out", masks_dir=shoot["masks"], **kw)


def test_outputs_are_correct(tmp_path, shoot):
    options = _options(tmp_path, shoot, jpeg=True, inspect=True)
    photos = batch.collect_photos([shoot["images"] / "a.jpg", shoot["images"] / "b.png", shoot["images"] / "c.tif"])
    for path in photos:
        result = batch.segment_photo(path, options)
        assert result.status == "done", result.message
        assert result.objects == 1
        out = batch.output_paths(path, options)
        photo = files.read_image(path)
        coarse = batch.coarse_from_mask(files.read_labels(batch.find_mask(path, shoot["masks"])), photo.shape)
        expected = refine(photo.pixels, coarse, RefineParams())
        labels = files.read_labels(out["labels"])
        np.testing.assert_array_equal(labels, expected)
        # One cut-out per product, cropped to it with a margin.
        out = batch.output_paths(path, options, objects=[1])
        assert out["cutout-1"].name == f"{path.stem}-1.png"
        window = cutouts.product_window(ndi.find_objects(expected)[0], expected.shape)
        assert window != (slice(0, expected.shape[0]), slice(0, expected.shape[1]))
        cut = files.read_image(out["cutout-1"]).pixels
        assert cut.shape == expected[window].shape + (4,)
        assert cut.dtype == photo.pixels.dtype
        # The cut-out of the refined mask, its edge soft: full inside and empty
        # outside the rim, the photo's colours within it.
        np.testing.assert_array_equal(cut, next(cutouts.product_cutouts(photo.pixels, expected)).rgba)
        top = np.iinfo(cut.dtype).max
        inside = expected[window] > 0
        core = ndi.binary_erosion(inside, iterations=EDGE_WIDTH)
        assert (cut[core, 3] == top).all()
        assert (cut[~ndi.binary_dilation(inside, iterations=EDGE_WIDTH), 3] == 0).all()
        np.testing.assert_array_equal(cut[core][:, :3], photo.pixels[window][core][:, :3])
        white = files.read_image(out["white-1"]).pixels
        assert white.shape == cut.shape[:2] + (3,)
        # JPEG is lossy; the background must still come out white.
        assert white[~inside].mean() > 245
        markers = files.read_labels(out["markers"])
        assert set(np.unique(markers)) <= {0, 1, 2}
        soft = files.read_image(out["soft"]).pixels
        assert soft.shape == photo.shape
    # EXIF orientation 6: the photo is stored 80 wide and 112 tall; upright it is
    # 112 wide and 80 tall, like its mask.
    with Image.open(shoot["images"] / "b.png") as im:
        assert im.size == (80, 112)
    assert files.read_labels(tmp_path / "out" / "labels" / "b.png").shape == (80, 112)
    # ICC profile carried over to the cut-out and the JPEG.
    with Image.open(tmp_path / "out" / "cutouts" / "a-1.png") as im:
        assert im.info.get("icc_profile") == ICC
    assert files.read_image(tmp_path / "out" / "white" / "a-1.jpg").icc_profile == ICC
    # 16 bits kept in the cut-out of the 16-bit TIFF.
    with open(tmp_path / "out" / "cutouts" / "c-1.png", "rb") as f:
        assert f.read(26)[24] == 16


def test_resume_skips_and_completes(tmp_path, shoot):
    options = _options(tmp_path, shoot)
    photos = batch.collect_photos([shoot["images"]])
    first = batch.run_batch(photos, options, progress=False, report=lambda _: None)
    assert (first.done, first.skipped, first.failed) == (3, 0, 1)
    before = tree_bytes(tmp_path / "out")
    again = batch.run_batch(photos, options, progress=False, report=lambda _: None)
    assert (again.done, again.skipped, again.failed) == (0, 3, 1)
    assert tree_bytes(tmp_path / "out") == before
    # A file of a finished set gone: the set is made again, the same bytes.
    (tmp_path / "out" / "cutouts" / "a-1.png").unlink()
    result = batch.segment_photo(shoot["images"] / "a.jpg", options)
    assert result.status == "done"
    assert tree_bytes(tmp_path / "out") == before
    record = json.loads((tmp_path / "out" / "manifests" / "a.json").read_text())
    assert record["complete"] and record["objects"] == 1
    assert record["files"] == ["cutouts/a-1.png", "labels/a.png"]
    assert record["recipe"]["params"]["band"] == 1.0
    assert record["recipe"]["coarse"]["mask"] == str((shoot["masks"] / "a.png").resolve())


def test_changed_options_are_refused_then_the_set_is_replaced_as_a_whole(tmp_path, shoot):
    photo = shoot["images"] / "a.jpg"
    first = _options(tmp_path, shoot, jpeg=True)
    assert batch.segment_photo(photo, first).status == "done"
    out = tmp_path / "out"
    before = tree_bytes(out)
    wider = _options(tmp_path, shoot, params=RefineParams(band=3))
    refused = batch.segment_photo(photo, wider)
    assert refused.status == "failed"
    assert "--band (was 1.0, now 3.0)" in refused.message
    assert "--jpeg/--jpeg-quality (was on, quality 95, now off)" in refused.message
    assert "--overwrite" in refused.message
    with pytest.raises(batch.BatchError, match="a.jpg: .*--band"):
        batch.run_batch([photo], wider, progress=False)
    assert tree_bytes(out) == before
    redo = _options(tmp_path, shoot, params=RefineParams(band=3), overwrite=True)
    replaced = batch.segment_photo(photo, redo)
    assert replaced.status == "done" and replaced.note.endswith("; replaced the earlier run's outputs")
    # The JPEG of band 1 is gone with the rest of the old set.
    assert sorted(tree_bytes(out)) == ["cutouts/a-1.png", "labels/a.png", "manifests/a.json"]
    image = files.read_image(photo).pixels
    coarse = batch.coarse_from_mask(files.read_labels(shoot["masks"] / "a.png"), image.shape[:2])
    expected = refine(image, coarse, RefineParams(band=3))
    np.testing.assert_array_equal(files.read_labels(out / "labels" / "a.png"), expected)
    assert batch.segment_photo(photo, wider).status == "skipped"


def test_a_photo_is_known_by_its_content_not_its_path(tmp_path, shoot):
    import shutil

    photo = shoot["images"] / "a.jpg"
    options = _options(tmp_path, shoot)
    assert batch.segment_photo(photo, options).status == "done"
    out = tmp_path / "out"
    record = json.loads((out / "manifests" / "a.json").read_text())
    assert record["recipe"]["photo_sha256"] == manifest.file_digest(photo)
    assert record["photo"] == str(photo.resolve())
    # The same photo copied to another folder: the outputs are its outputs.
    moved = tmp_path / "moved"
    moved.mkdir()
    shutil.copy(photo, moved / "a.jpg")
    assert batch.segment_photo(moved / "a.jpg", options).status == "skipped"
    # Another photo under the same name: refused before any work, its old outputs kept.
    before = tree_bytes(out)
    with Image.open(photo) as retouched:
        retouched.convert("L").convert("RGB").save(photo, quality=80)
    refused = batch.segment_photo(photo, options)
    assert refused.status == "failed"
    assert "made from another a.jpg (the file has changed since); add --overwrite" in refused.message
    assert f"give this photo alone, {photo}, to leave the others' outputs as they are" in refused.message
    with pytest.raises(batch.BatchError, match="a.jpg: its outputs .* another a.jpg"):
        batch.run_batch([photo], options, progress=False)
    assert tree_bytes(out) == before
    assert batch.segment_photo(photo, _options(tmp_path, shoot, overwrite=True)).status == "done"
    record = json.loads((out / "manifests" / "a.json").read_text())
    assert record["recipe"]["photo_sha256"] == manifest.file_digest(photo)


def test_a_record_of_an_older_version_names_its_photo_by_path(tmp_path, shoot):
    photo = shoot["images"] / "a.jpg"
    options = _options(tmp_path, shoot)
    assert batch.segment_photo(photo, options).status == "done"
    path = tmp_path / "out" / "manifests" / "a.json"
    record = json.loads(path.read_text())
    del record["recipe"]["photo_sha256"]
    record["recipe"]["photo"] = str(photo.resolve())
    path.write_text(json.dumps(record))
    assert batch.segment_photo(photo, options).status == "skipped"
    record["recipe"]["photo"] = str(tmp_path / "elsewhere" / "a.jpg")
    path.write_text(json.dumps(record))
    assert "made from another a.jpg" in batch.segment_photo(photo, options).message


def test_jpeg_added_to_a_finished_set_without_refining_again(tmp_path, shoot, monkeypatch):
    photo = shoot["images"] / "a.jpg"
    assert batch.segment_photo(photo, _options(tmp_path, shoot)).status == "done"
    out = tmp_path / "out"
    before = tree_bytes(out)

    def refine_again(*args, **kwargs):
        raise AssertionError("the photo was refined again")

    monkeypatch.setattr(batch, "refine_with_report", refine_again)
    added = batch.segment_photo(photo, _options(tmp_path, shoot, jpeg=True, jpeg_quality=90))
    assert added.status == "done" and added.note.endswith("cut-outs on white written from the earlier run's cut-outs")
    after = tree_bytes(out)
    assert {k: v for k, v in after.items() if k != "manifests/a.json" and k in before} == {
        k: v for k, v in before.items() if k != "manifests/a.json"}  # nothing replaced
    assert sorted(set(after) - set(before)) == ["white/a-1.jpg"]
    record = json.loads((out / "manifests" / "a.json").read_text())
    assert record["files"] == ["cutouts/a-1.png", "labels/a.png", "white/a-1.jpg"]
    assert record["recipe"]["outputs"]["jpeg"] == 90
    # The same file a run with --jpeg from the start writes.
    monkeypatch.undo()
    fresh = batch.SegmentOptions(out_dir=tmp_path / "fresh", masks_dir=shoot["masks"], jpeg=True, jpeg_quality=90)
    assert batch.segment_photo(photo, fresh).status == "done"
    assert (out / "white" / "a-1.jpg").read_bytes() == (tmp_path / "fresh" / "white" / "a-1.jpg").read_bytes()
    assert batch.segment_photo(photo, _options(tmp_path, shoot, jpeg=True, jpeg_quality=90)).status == "skipped"
    # Another quality would replace the JPEGs: that needs --overwrite, and then they are made
    # from the cut-outs again, without refining.
    refused = batch.segment_photo(photo, _options(tmp_path, shoot, jpeg=True, jpeg_quality=80))
    assert refused.status == "failed" and "--overwrite" in refused.message
    monkeypatch.setattr(batch, "refine_with_report", refine_again)
    again = batch.segment_photo(photo, _options(tmp_path, shoot, jpeg=True, jpeg_quality=80, overwrite=True))
    assert again.status == "done" and again.note.endswith("written from the earlier run's cut-outs")
    assert (out / "cutouts" / "a-1.png").read_bytes() == before["cutouts/a-1.png"]
    assert json.loads((out / "manifests" / "a.json").read_text())["recipe"]["outputs"]["jpeg"] == 80


def test_hard_edges_on_request_and_recorded(tmp_path, shoot):
    photo = shoot["images"] / "a.jpg"
    assert batch.segment_photo(photo, _options(tmp_path, shoot)).status == "done"
    soft = files.read_image(tmp_path / "out" / "cutouts" / "a-1.png").pixels
    record = json.loads((tmp_path / "out" / "manifests" / "a.json").read_text())
    assert record["recipe"]["outputs"]["edges"] == f"soft, {EDGE_WIDTH} px"
    refused = batch.segment_photo(photo, _options(tmp_path, shoot, hard_edges=True))
    assert refused.status == "failed"
    assert f"the cut-outs' edges, --hard-edges (was soft, {EDGE_WIDTH} px, now hard)" in refused.message
    redo = _options(tmp_path, shoot, hard_edges=True, overwrite=True)
    assert batch.segment_photo(photo, redo).status == "done"
    hard = files.read_image(tmp_path / "out" / "cutouts" / "a-1.png").pixels
    labels = files.read_labels(tmp_path / "out" / "labels" / "a.png")
    window = cutouts.product_window(ndi.find_objects(labels)[0], labels.shape)
    np.testing.assert_array_equal(hard[..., 3], np.where(labels[window] == 1, 255, 0))
    # The soft cut-out differs from it only along the outline.
    assert_cutout_of(soft, labels[window] == 1)
    assert ((soft[..., 3] > 0) & (soft[..., 3] < 255)).any()
    # A record written before cut-outs had soft edges made hard ones.
    assert manifest.differences({"outputs": {}}, {"outputs": {"edges": "soft, 2 px"}}) == [
        "the cut-outs' edges, --hard-edges (was hard, now soft, 2 px)"
    ]


def test_a_set_cut_short_is_made_again_not_skipped(tmp_path, shoot, monkeypatch):
    photo = shoot["images"] / "a.jpg"
    options = _options(tmp_path, shoot)
    assert batch.segment_photo(photo, options).status == "done"
    good = tree_bytes(tmp_path / "out")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    # --overwrite with other options replaces the labels, then the disk is full.
    monkeypatch.setattr(batch, "write_cutout", disk_full)
    redo = _options(tmp_path, shoot, params=RefineParams(band=2), overwrite=True)
    assert batch.segment_photo(photo, redo).status == "failed"
    monkeypatch.undo()
    # The rerun without --overwrite knows the set is unfinished and makes it.
    assert batch.segment_photo(photo, options).status == "done"
    assert tree_bytes(tmp_path / "out") == good


def test_outputs_without_a_record_are_not_replaced(tmp_path, shoot):
    photo = shoot["images"] / "a.jpg"
    foreign = tmp_path / "out" / "white" / "a-1.jpg"
    foreign.parent.mkdir(parents=True)
    foreign.write_bytes(b"someone else's")
    result = batch.segment_photo(photo, _options(tmp_path, shoot))
    assert result.status == "failed" and "no record" in result.message and "--overwrite" in result.message
    assert foreign.read_bytes() == b"someone else's"
    replaced = batch.segment_photo(photo, _options(tmp_path, shoot, overwrite=True))
    assert replaced.status == "done" and "replaced earlier files that no record described" in replaced.note
    assert not foreign.exists()
    # A finished set missing a file is made again, and says so.
    (tmp_path / "out" / "labels" / "a.png").unlink()
    again = batch.segment_photo(photo, _options(tmp_path, shoot))
    assert again.status == "done" and "files of the earlier run were missing" in again.note
    assert (tmp_path / "out" / "labels" / "a.png").is_file()


def test_two_runs_at_once_neither_fails(tmp_path, shoot, monkeypatch):
    # Both runs pass the check of earlier outputs before either writes: the
    # refinement waits until both got there (or, when the second waits for the
    # photo's lock, for at most two seconds).
    meet = threading.Barrier(2)

    def refine_together(*args, **kwargs):
        try:
            meet.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        return refine(*args, **kwargs)

    monkeypatch.setattr(batch, "refine", refine_together)
    options = _options(tmp_path, shoot)
    photo = shoot["images"] / "a.jpg"
    results = []
    runs = [threading.Thread(target=lambda: results.append(batch.segment_photo(photo, options))) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sorted(r.status for r in results) == ["done", "skipped"], [r.message for r in results]
    assert not [p for p in (tmp_path / "out").rglob(".*")]


def test_temporaries_of_killed_runs_are_cleaned_up(tmp_path, shoot):
    out = tmp_path / "out"
    (out / "cutouts").mkdir(parents=True)
    (out / "white").mkdir()
    old = out / "white" / files.temporary_name(out / "white" / "zz.jpg")
    fresh = out / "white" / files.temporary_name(out / "white" / "zz.jpg")
    mine = out / "cutouts" / files.temporary_name(out / "cutouts" / "a-1.png")
    for f in (old, fresh, mine):
        f.write_bytes(b"half")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    batch.run_batch([shoot["images"] / "a.jpg"], _options(tmp_path, shoot), progress=False)
    # An hour-old one goes; a fresh one may be another run's, at work now; the
    # photo's own are removed under its lock whatever their age.
    assert not old.exists() and fresh.exists() and not mine.exists()


def test_overwrite(tmp_path, shoot):
    options = _options(tmp_path, shoot)
    photo = shoot["images"] / "a.jpg"
    assert batch.segment_photo(photo, options).status == "done"
    labels = batch.output_paths(photo, options)["labels"]
    good = labels.read_bytes()
    labels.write_bytes(b"stale")
    assert batch.segment_photo(photo, options).status == "skipped"
    assert labels.read_bytes() == b"stale"
    redo = batch.SegmentOptions(out_dir=options.out_dir, masks_dir=options.masks_dir, overwrite=True)
    assert batch.segment_photo(photo, redo).status == "done"
    assert labels.read_bytes() == good
    # No temporary files left behind.
    assert not [p for p in (tmp_path / "out").rglob(".*")]


def test_failures_are_reported_not_raised(tmp_path, shoot):
    options = _options(tmp_path, shoot)
    bad = batch.segment_photo(shoot["images"] / "bad.jpg", options)
    assert bad.status == "failed"
    # The message says what is wrong in words, not in the error's class name.
    assert "bad.jpg" in bad.message and "cannot read" in bad.message and "Error" not in bad.message
    no_mask_dir = tmp_path / "empty"
    no_mask_dir.mkdir()
    missing = batch.segment_photo(
        shoot["images"] / "a.jpg", batch.SegmentOptions(out_dir=tmp_path / "o2", masks_dir=no_mask_dir)
    )
    assert missing.status == "failed" and "no coarse mask for a.jpg" in missing.message
    assert not (tmp_path / "o2" / "labels" / "a.png").exists()



def test_an_empty_file_and_a_cut_out_among_the_photos_are_refused_in_words(tmp_path, shoot):
    options = batch.SegmentOptions(out_dir=tmp_path / "out", source="backdrop")
    (shoot["images"] / "empty.jpg").write_bytes(b"")
    empty = batch.segment_photo(shoot["images"] / "empty.jpg", options)
    assert empty.status == "failed" and "empty (0 bytes)" in empty.message
    # A cut-out read as a photo: its transparent pixels would be black paper.
    rgba = np.zeros((96, 128, 4), np.uint8)
    rgba[20:70, 30:90] = (200, 40, 40, 255)
    files.write_image(shoot["images"] / "a-1.png", rgba)
    cut = batch.segment_photo(shoot["images"] / "a-1.png", options)
    assert cut.status == "failed" and "transparent pixels: it is a cut-out" in cut.message
    assert not (tmp_path / "out" / "labels" / "a-1.png").exists()

def test_empty_mask_gives_empty_outputs(tmp_path):
    shoot = make_shoot(tmp_path / "s", samples=0)
    files.write_labels(shoot["masks"] / "a.png", np.zeros((96, 128), np.uint8), overwrite=True)
    options = batch.SegmentOptions(out_dir=tmp_path / "out", masks_dir=shoot["masks"])
    result = batch.segment_photo(shoot["images"] / "a.jpg", options)
    assert result.status == "done" and result.objects == 0 and "no object" in result.message
    assert not files.read_labels(tmp_path / "out" / "labels" / "a.png").any()
    # No product, no cut-out; the record lists what was written.
    assert not (tmp_path / "out" / "cutouts").exists()
    record = json.loads((tmp_path / "out" / "manifests" / "a.json").read_text())
    assert record["files"] == ["labels/a.png"]


def test_coarse_from_mask():
    m = np.zeros((4, 6), np.uint8)
    m[1:3, 2:4] = 255
    np.testing.assert_array_equal(batch.coarse_from_mask(m, (4, 6)), m // 255)
    # Half resolution, same aspect ratio: nearest neighbour.
    up = batch.coarse_from_mask(m, (8, 12))
    np.testing.assert_array_equal(up, np.kron(m // 255, np.ones((2, 2), int)))
    labels = np.array([[0, 3], [7, 7]])
    np.testing.assert_array_equal(batch.coarse_from_mask(labels, (2, 2)), labels)
    with pytest.raises(ValueError, match="aspect ratio; it fits the photo turned by 90 degrees"):
        batch.coarse_from_mask(m, (6, 4))
    with pytest.raises(ValueError, match=r"aspect ratio\); make the mask of this photo"):
        batch.coarse_from_mask(m, (4, 4))


def test_collect_photos(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    for name in ("x/1.jpg", "x/2.PNG", "x/notes.txt", "x/.1.tmp.png", "y/3.tif"):
        (tmp_path / name).write_bytes(b"")
    got = batch.collect_photos([tmp_path / "x", str(tmp_path / "y" / "*.tif"), tmp_path / "x" / "1.jpg"])
    assert [p.name for p in got] == ["1.jpg", "2.PNG", "3.tif"]
    with pytest.raises(FileNotFoundError, match="no photos found .*nope.*: no such file or folder"):
        batch.collect_photos([tmp_path / "nope"])
    (tmp_path / "z").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no photos found for input '.*z': no .bmp, .* file in the folder"):
        batch.collect_photos([tmp_path / "z"])
    # A run's own outputs are never taken for photos.
    (tmp_path / "x" / "out" / "cutouts").mkdir(parents=True)
    (tmp_path / "x" / "out" / "cutouts" / "1.png").write_bytes(b"")
    got = batch.collect_photos([tmp_path / "x"], recursive=True, exclude=tmp_path / "x" / "out")
    assert [p.name for p in got] == ["1.jpg", "2.PNG"]
    (tmp_path / "y" / "1.png").write_bytes(b"")
    with pytest.raises(ValueError, match="more than once"):
        batch.collect_photos([tmp_path / "x", tmp_path / "y"])


def test_recursive_collection_follows_linked_folders_once_and_counts_other_files(tmp_path):
    shoot, elsewhere = tmp_path / "shoot", tmp_path / "elsewhere"
    (shoot / "day1").mkdir(parents=True)
    elsewhere.mkdir()
    for name in ("shoot/a.jpg", "shoot/a.CR2", "shoot/day1/b.png", "shoot/day1/b.xmp", "shoot/.DS_Store",
                 "elsewhere/c.tif", "elsewhere/c.HEIC"):
        (tmp_path / name).write_bytes(b"")
    (shoot / "day2").symlink_to(elsewhere, target_is_directory=True)
    (shoot / "day1" / "up").symlink_to(shoot, target_is_directory=True)  # a loop
    got = batch.collect_photos([shoot], recursive=True)
    assert sorted(p.name for p in got) == ["a.jpg", "b.png", "c.tif"]
    assert [p.name for p in batch.collect_photos([shoot])] == ["a.jpg"]
    assert batch.other_files([shoot], recursive=True) == {".cr2": 1, ".xmp": 1, ".heic": 1}
    assert batch.other_files([shoot]) == {".cr2": 1}
    assert batch.other_files([shoot], recursive=True, exclude=[shoot / "day1"]) == {".cr2": 1, ".heic": 1}


def test_options_need_one_mask_source(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        batch.SegmentOptions(out_dir=tmp_path, masks_dir=tmp_path, weights=tmp_path / "w.h5")
    with pytest.raises(ValueError, match="source must be one of"):
        batch.SegmentOptions(out_dir=tmp_path, source="guess")
    with pytest.raises(ValueError, match="'backdrop'"):
        batch.SegmentOptions(out_dir=tmp_path, source="backdrop", weights=tmp_path / "w.h5")


class _FakeModel:
    """Stands in for a Mask R-CNN: 'detects' the objects of a stored coarse label image.

    Object k gets class ``names[(k - 1) % len(names)]`` and a score falling with k,
    so that ``to_labels`` keeps the ids of the coarse image.
    """

    def __init__(self, coarse, names=("garment",)):
        from types import SimpleNamespace

        from napari_boostseg.mrcnn.detect import Detections

        self.config = SimpleNamespace(class_names=("BG", *names))
        ids = [k for k in np.unique(coarse) if k]
        self.detections = Detections(
            boxes=np.zeros((len(ids), 4), np.int32),
            class_ids=np.array([(k - 1) % len(names) + 1 for k in ids], np.int32),
            class_names=tuple(names[(k - 1) % len(names)] for k in ids),
            scores=np.linspace(0.99, 0.9, len(ids)).astype(np.float32),
            masks=np.stack([coarse == k for k in ids]),
            mask_probs=np.zeros((len(ids), 28, 28), np.float32),
            image_shape=coarse.shape,
        )
        self.seen = []

    def detect(self, images):
        self.seen.append((images[0].shape, images[0].dtype))
        return [self.detections]


def test_weights_path_uses_detector_once_per_process(tmp_path, monkeypatch):
    shoot = make_shoot(tmp_path / "s", samples=0)
    coarse = batch.coarse_from_mask(files.read_labels(shoot["masks"] / "c.tif"), (96, 128))
    model = _FakeModel(coarse)
    loads = []

    def fake_load(weights, config):
        loads.append((weights, config))
        return model

    monkeypatch.setattr(coarse_masks, "_DETECTORS", OrderedDict())
    monkeypatch.setattr(coarse_masks, "_build_detector", fake_load)
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"")
    options = batch.SegmentOptions(out_dir=tmp_path / "out", weights=weights, overwrite=True)
    for _ in range(2):
        assert batch.segment_photo(shoot["images"] / "c.tif", options).status == "done"
    assert len(loads) == 1
    # The detector gets the photo as read (it converts to 8-bit RGB itself).
    photo = files.read_image(shoot["images"] / "c.tif")
    assert model.seen[0] == (photo.pixels.shape, photo.pixels.dtype)
    np.testing.assert_array_equal(
        files.read_labels(tmp_path / "out" / "labels" / "c.png"), refine(photo.pixels, coarse)
    )


def test_classes_choose_which_detections_are_cut_out(tmp_path, monkeypatch):
    shoot = make_shoot(tmp_path / "s", samples=0)
    coarse = np.zeros((96, 128), np.int32)
    coarse[10:40, 10:50] = 1  # a "person"
    coarse[50:90, 60:120] = 2  # a "shoe"
    model = _FakeModel(coarse, names=("person", "shoe"))
    monkeypatch.setattr(coarse_masks, "_DETECTORS", OrderedDict())
    monkeypatch.setattr(coarse_masks, "_build_detector", lambda weights, config: model)
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"")
    for classes, kept in ((None, {1, 2}), (("shoe",), {2}), (("person", "shoe"), {1, 2})):
        out = tmp_path / f"out{len(kept)}{classes}"
        options = batch.SegmentOptions(out_dir=out, weights=weights, classes=classes)
        assert batch.segment_photo(shoot["images"] / "c.tif", options).status == "done"
        labels = files.read_labels(out / "labels" / "c.png")
        # Refinement moves edges but each kept object stays where it was detected.
        assert (labels[70, 90] > 0) and ((labels[25, 30] > 0) == (1 in kept))
        # Each object's class lies beside the labels, as `boostseg train` reads it.
        named = files.read_classes(out / "labels" / "c.png")
        assert named[int(labels[70, 90])] == "shoe" and len(named) == len(kept) == labels.max()
        if 1 in kept:
            assert named[int(labels[25, 30])] == "person"
        record = json.loads((out / "manifests" / "c.json").read_text())
        assert "labels/c.json" in record["files"]
    # Redone from a mask file, which names no class: the old classes go with the old set.
    again = batch.SegmentOptions(out_dir=out, masks_dir=shoot["masks"], overwrite=True)
    assert batch.segment_photo(shoot["images"] / "c.tif", again).status == "done"
    assert not (out / "labels" / "c.json").exists() and (out / "labels" / "c.png").exists()
    bad = batch.SegmentOptions(out_dir=tmp_path / "bad", weights=weights, classes=("hat",))
    result = batch.segment_photo(shoot["images"] / "c.tif", bad)
    assert result.status == "failed" and "no class 'hat'" in result.message and "person, shoe" in result.message


@pytest.mark.slow
def test_segment_with_mask_rcnn_weights(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow")
    mrcnn = pytest.importorskip("napari_boostseg.mrcnn")
    from napari_boostseg.cli import main

    # A small ResNet-50 model with random weights: detections are arbitrary,
    # but the whole path (config beside the weights, loading once per
    # process, detection on 8-bit RGB, refinement, writing) runs for real.
    config = mrcnn.MaskRCNNConfig(
        name="t", class_names=("BG", "garment"), backbone="resnet50", image_min_dim=128, image_max_dim=128
    )
    weights = mrcnn.MaskRCNN(config).save_weights(tmp_path / "w" / "mask_rcnn_t.h5", write_config=True)
    shoot = make_shoot(tmp_path / "s", samples=0)
    monkeypatch.setattr(coarse_masks, "_DETECTORS", OrderedDict())
    out = tmp_path / "out"
    rc = main([
        "segment", str(shoot["images"]), "--weights", str(weights), "--out", str(out), "--no-progress",
        "--full-frame",
    ])
    assert len(coarse_masks._DETECTORS) == 1
    empty = 0
    for stem, shape in (("a", (96, 128)), ("b", (80, 112)), ("c", (96, 128))):
        labels = files.read_labels(out / "labels" / f"{stem}.png")
        assert labels.shape == shape
        for k in np.unique(labels[labels > 0]):
            cut = files.read_image(out / "cutouts" / f"{stem}-{k}.png").pixels
            assert_cutout_of(cut, labels == k)
        empty += not labels.any()
    # Random weights may find nothing: exit status 3 says some photo gave no object.
    assert rc == (3 if empty else 0)
    record = json.loads((out / "manifests" / "a.json").read_text())
    assert record["recipe"]["coarse"]["weights_sha256"] == manifest.file_digest(weights)
    assert record["recipe"]["coarse"]["classes"] == ["garment"]


def test_one_cut_out_per_product_and_a_smaller_set_leaves_none_behind(tmp_path):
    shoot = make_shoot(tmp_path / "s", samples=0)
    two = np.zeros((96, 128), np.uint8)
    two[10:40, 10:50] = 1
    two[50:90, 70:120] = 2
    files.write_labels(shoot["masks"] / "a.png", two, overwrite=True)
    photo = shoot["images"] / "a.jpg"
    out = tmp_path / "out"
    options = batch.SegmentOptions(out_dir=out, masks_dir=shoot["masks"], jpeg=True)
    assert batch.segment_photo(photo, options).objects == 2
    assert sorted(p.name for p in (out / "cutouts").iterdir()) == ["a-1.png", "a-2.png"]
    assert sorted(p.name for p in (out / "white").iterdir()) == ["a-1.jpg", "a-2.jpg"]
    labels = files.read_labels(out / "labels" / "a.png")
    for k in (1, 2):
        window = cutouts.product_window(ndi.find_objects(labels)[k - 1], labels.shape)
        cut = files.read_image(out / "cutouts" / f"a-{k}.png").pixels
        assert_cutout_of(cut, labels[window] == k)
    record = json.loads((out / "manifests" / "a.json").read_text())
    assert record["files"] == ["cutouts/a-1.png", "cutouts/a-2.png", "labels/a.png", "white/a-1.jpg", "white/a-2.jpg"]
    assert record["recipe"]["outputs"]["cutouts"] == "cropped, margin 0.05"
    # One product now, whole frame: the second product's files go with the old set.
    files.write_labels(shoot["masks"] / "a.png", (two == 1).astype(np.uint8), overwrite=True)
    frame = batch.SegmentOptions(out_dir=out, masks_dir=shoot["masks"], jpeg=True, full_frame=True)
    refused = batch.segment_photo(photo, frame)
    assert refused.status == "failed" and "--full-frame (was cropped, margin 0.05, now full frame)" in refused.message
    redo = batch.SegmentOptions(out_dir=out, masks_dir=shoot["masks"], jpeg=True, full_frame=True, overwrite=True)
    assert batch.segment_photo(photo, redo).objects == 1
    assert sorted(tree_bytes(out)) == ["cutouts/a-1.png", "labels/a.png", "manifests/a.json", "white/a-1.jpg"]
    assert files.read_image(out / "cutouts" / "a-1.png").pixels.shape == (96, 128, 4)
    # Redone without the extras: their folder goes too when the run leaves it empty.
    plain = batch.SegmentOptions(out_dir=out, masks_dir=shoot["masks"], full_frame=True, overwrite=True)
    assert batch.run_batch([photo], plain, progress=False).done == 1
    assert sorted(p.name for p in out.iterdir()) == ["cutouts", "labels", "manifests"]


def test_a_folder_removed_while_writing_is_made_again(tmp_path):
    from napari_boostseg.files.atomic import atomic_write

    folder = tmp_path / "white"
    calls = []

    def write(tmp):
        calls.append(tmp)
        if len(calls) == 1:
            folder.rmdir()  # another run tidied the empty folder in between
        tmp.write_bytes(b"jpeg")

    assert atomic_write(folder / "a-1.jpg", write).read_bytes() == b"jpeg"
    assert len(calls) == 2 and sorted(p.name for p in folder.iterdir()) == ["a-1.jpg"]


def test_overwrite_removes_the_files_an_earlier_record_lists(tmp_path, shoot):
    # A set written by an older layout (one cut-out named like the photo).
    photo = shoot["images"] / "a.jpg"
    out = tmp_path / "out"
    assert batch.segment_photo(photo, _options(tmp_path, shoot)).status == "done"
    record_path = out / "manifests" / "a.json"
    record = json.loads(record_path.read_text())
    (out / "cutouts" / "a-1.png").rename(out / "cutouts" / "a.png")
    record["files"] = ["cutouts/a.png", "labels/a.png"]
    record_path.write_text(json.dumps(record))
    assert batch.segment_photo(photo, _options(tmp_path, shoot, overwrite=True)).status == "done"
    assert sorted(tree_bytes(out)) == ["cutouts/a-1.png", "labels/a.png", "manifests/a.json"]
