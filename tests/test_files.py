"""Reading and writing photos and label images, the class sidecar, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from _photos import ICC, random_photo
from PIL import Image, ImageOps

from napari_boostseg import cutouts, files


def test_read_png_rgb_and_icc(tmp_path):
    a = random_photo()
    Image.fromarray(a).save(tmp_path / "p.png", icc_profile=ICC)
    photo = files.read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(photo.pixels, a)
    assert photo.icc_profile == ICC
    assert photo.path == tmp_path / "p.png"
    assert photo.shape == (7, 5)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    a = random_photo(6, 4)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    # PNG keeps the pixels lossless, so we can compare exactly.
    im.save(tmp_path / "o.png", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    got = files.read_image(tmp_path / "o.png").pixels
    np.testing.assert_array_equal(got, expected)


def test_tiff_16bit_orientation_and_icc(tmp_path):
    a = random_photo(6, 4, np.uint16)
    tifffile.imwrite(
        tmp_path / "p.tif",
        a,
        photometric="rgb",
        iccprofile=ICC,
        extratags=[(274, "H", 1, 6, True)],
    )
    photo = files.read_image(tmp_path / "p.tif")
    assert photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels, np.rot90(a, -1))
    assert photo.icc_profile == ICC


def test_grey_16bit_png_kept(tmp_path):
    a = random_photo(5, 6, np.uint16, channels=1)
    Image.fromarray(a).save(tmp_path / "g.png")
    photo = files.read_image(tmp_path / "g.png")
    assert photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels, a)


def test_corrupt_and_missing(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(files.ImageReadError, match="bad.jpg"):
        files.read_image(bad)
    # A truncated JPEG must fail too, not decode to half a photo silently.
    Image.fromarray(random_photo(64, 64)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(files.ImageReadError):
        files.read_image(tmp_path / "cut.jpg")
    with pytest.raises(FileNotFoundError):
        files.read_image(tmp_path / "nope.png")
    assert issubclass(files.ImageReadError, OSError)


@pytest.mark.parametrize("top, dtype", [(3, np.uint8), (255, np.uint8), (256, np.uint16), (65535, np.uint16)])
def test_labels_png_depth(tmp_path, top, dtype):
    labels = np.zeros((4, 5), dtype=np.int32)
    labels[1, 2] = top
    labels[3, 4] = 1
    path = files.write_labels(tmp_path / "l.png", labels)
    with Image.open(path) as im:
        assert np.asarray(im).dtype == dtype
    back = files.read_labels(path)
    assert back.dtype == np.int32
    np.testing.assert_array_equal(back, labels)


def test_labels_tiff_large_ids(tmp_path):
    labels = np.array([[0, 70000], [1, 2]], dtype=np.int64)
    files.write_labels(tmp_path / "l.tif", labels)
    np.testing.assert_array_equal(files.read_labels(tmp_path / "l.tif"), labels)
    with pytest.raises(ValueError, match=r"\.tif"):
        files.write_labels(tmp_path / "l.png", labels)


def test_labels_refuse_overwrite_and_bad_input(tmp_path):
    path = tmp_path / "sub" / "l.png"
    files.write_labels(path, np.ones((2, 2), bool))
    with pytest.raises(FileExistsError, match="overwrite"):
        files.write_labels(path, np.zeros((2, 2), np.uint8))
    np.testing.assert_array_equal(files.read_labels(path), 1)
    files.write_labels(path, np.full((2, 2), 2), overwrite=True)
    np.testing.assert_array_equal(files.read_labels(path), 2)
    # No temporary files are left beside the result, and it is readable by
    # others as any new file is (not owner-only like a raw temporary file).
    assert sorted(os.listdir(path.parent)) == ["l.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(ValueError, match=">= 0"):
        files.write_labels(tmp_path / "n.png", -np.ones((2, 2), int))
    with pytest.raises(ValueError, match="suffix|format|.png"):
        files.write_labels(tmp_path / "x.jpg", np.ones((2, 2), int))
    with pytest.raises(ValueError, match="2-D"):
        files.write_labels(tmp_path / "x.png", np.ones((2, 2, 3), int))


def test_atomic_write_cleans_up_on_failure(tmp_path):
    def boom(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        files.atomic_write(tmp_path / "x.png", boom)
    assert os.listdir(tmp_path) == []


def test_colour_labels(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 2] = (0, 0, 255)
    rgb[0, 2] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    got = files.read_labels(tmp_path / "c.png")
    # Colours are numbered in order of value: blue (0,0,255) before red.
    np.testing.assert_array_equal(got, [[2, 0, 2], [0, 0, 1]])


def test_a_photo_given_as_a_colour_label_image_is_refused(tmp_path):
    from napari_boostseg.sample_photos import sample_photos

    photo = sample_photos()[0].image
    Image.fromarray(photo).save(tmp_path / "photo.png")
    with pytest.raises(files.ImageReadError, match="colours: it looks like a photo, not a label image"):
        files.read_labels(tmp_path / "photo.png")
    # A colour-coded label image of many objects is still read.
    many = np.zeros((40, 100, 3), np.uint8)
    many[..., 0] = np.arange(4000).reshape(40, 100) % 256
    many[..., 1] = np.arange(4000).reshape(40, 100) // 256 + 1
    Image.fromarray(many).save(tmp_path / "many.png")
    assert files.read_labels(tmp_path / "many.png").max() == 4000


def test_write_image_formats(tmp_path):
    rgb = random_photo(8, 8)
    files.write_image(tmp_path / "a.jpg", rgb, icc_profile=ICC)
    photo = files.read_image(tmp_path / "a.jpg")
    assert photo.icc_profile == ICC and photo.pixels.shape == (8, 8, 3)
    rgb16 = random_photo(8, 8, np.uint16)
    files.write_image(tmp_path / "a.tif", rgb16, icc_profile=ICC)
    photo = files.read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(photo.pixels, rgb16)
    assert photo.icc_profile == ICC
    # 16 bits into JPEG: rounded to 8 bits.
    files.write_image(tmp_path / "b.jpg", np.full((4, 4, 3), 65535, np.uint16))
    assert files.read_image(tmp_path / "b.jpg").pixels.min() >= 250
    with pytest.raises(ValueError, match="alpha"):
        files.write_image(tmp_path / "c.jpg", np.zeros((2, 2, 4), np.uint8))
    soft = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    files.write_image(tmp_path / "soft.png", soft)
    back = files.read_image(tmp_path / "soft.png").pixels
    assert back.dtype == np.uint16
    np.testing.assert_allclose(back / 65535, soft, atol=1e-5)


def test_16bit_colour_png_without_opencv_warns(tmp_path, monkeypatch):
    rgba = cutouts.cutout(random_photo(4, 5, np.uint16, seed=5), np.ones((4, 5), bool))
    cutouts.write_cutout(tmp_path / "c.png", rgba)
    monkeypatch.setattr(files.photos, "_read_png16_cv2", lambda path: None)
    with pytest.warns(UserWarning, match="16-bit colour PNG"):
        photo = files.read_image(tmp_path / "c.png")
    assert photo.pixels.dtype == np.uint8 and photo.pixels.shape == (4, 5, 4)


def test_atomic_write_never_replaces_a_file_another_process_made_meanwhile(tmp_path):
    target = tmp_path / "x.png"

    def write_while_another_finishes(tmp):
        tmp.write_bytes(b"ours")
        target.write_bytes(b"theirs")  # the other process's rename lands now

    with pytest.raises(FileExistsError, match="overwrite"):
        files.atomic_write(target, write_while_another_finishes)
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    # With overwrite the last writer wins, as asked.
    files.atomic_write(target, lambda tmp: tmp.write_bytes(b"new"), overwrite=True)
    assert target.read_bytes() == b"new"


def test_temporary_names_are_recognised():
    name = files.temporary_name(Path("out/labels/a.b.png"))
    match = files.TEMPORARY_NAME.match(name)
    assert name.startswith(".a.b.") and name.endswith(".tmp.png")
    assert match and match.group(1) == "a.b"
    assert not files.TEMPORARY_NAME.match("a.png") and not files.TEMPORARY_NAME.match(".a.tmp.png")


def test_class_sidecar_round_trip_and_errors(tmp_path):
    labels = tmp_path / "a.png"
    assert files.sidecar_path(labels) == tmp_path / "a.json"
    assert files.read_classes(labels) is None
    path = files.write_classes(labels, {2: "shoe", 1: "garment"})
    assert path == tmp_path / "a.json"
    assert files.read_classes(labels) == {1: "garment", 2: "shoe"}
    # Written through atomic_write: nothing replaced unless asked, no temporary left.
    with pytest.raises(FileExistsError):
        files.write_classes(labels, {1: "bag"})
    files.write_classes(labels, {1: "bag"}, overwrite=True)
    assert files.read_classes(labels) == {1: "bag"}
    assert sorted(os.listdir(tmp_path)) == ["a.json"]
    (tmp_path / "a.json").write_text('{"classes": ["garment"]}')
    with pytest.raises(ValueError, match="must be JSON like"):
        files.read_classes(labels)


def test_find_labels_prefers_png_and_takes_any_case(tmp_path):
    assert files.find_labels(tmp_path, "a") is None
    (tmp_path / "a.TIF").write_bytes(b"")
    assert files.find_labels(tmp_path, "a") == tmp_path / "a.TIF"
    (tmp_path / "a.png").write_bytes(b"")
    assert files.find_labels(tmp_path, "a") == tmp_path / "a.png"
    assert files.find_labels(tmp_path, "b") is None
