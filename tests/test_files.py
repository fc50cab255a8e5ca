"""Reading photos, writing labels and cut-outs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageOps

from napari_boostseg import io as bio


def _photo(h=7, w=5, dtype=np.uint8, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.integers(0, top, size=shape, endpoint=True, dtype=dtype)


# A minimal but valid ICC payload: the readers and writers carry bytes as they are.
ICC = b"\x00\x00\x02\x0cfake-icc-profile-for-tests" + bytes(range(64))


def test_read_png_rgb_and_icc(tmp_path):
    a = _photo()
    Image.fromarray(a).save(tmp_path / "p.png", icc_profile=ICC)
    photo = bio.read_image(tmp_path / "p.png")
    np.testing.assert_array_equal(photo.pixels, a)
    assert photo.icc_profile == ICC
    assert photo.path == tmp_path / "p.png"
    assert photo.shape == (7, 5)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    a = _photo(6, 4)
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    # PNG keeps the pixels lossless, so we can compare exactly.
    im.save(tmp_path / "o.png", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    got = bio.read_image(tmp_path / "o.png").pixels
    np.testing.assert_array_equal(got, expected)


def test_tiff_16bit_orientation_and_icc(tmp_path):
    a = _photo(6, 4, np.uint16)
    tifffile.imwrite(
        tmp_path / "p.tif",
        a,
        photometric="rgb",
        iccprofile=ICC,
        extratags=[(274, "H", 1, 6, True)],
    )
    photo = bio.read_image(tmp_path / "p.tif")
    assert photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels, np.rot90(a, -1))
    assert photo.icc_profile == ICC


def test_grey_16bit_png_kept(tmp_path):
    a = _photo(5, 6, np.uint16, channels=1)
    Image.fromarray(a).save(tmp_path / "g.png")
    photo = bio.read_image(tmp_path / "g.png")
    assert photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels, a)


def test_corrupt_and_missing(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(bio.ImageReadError, match="bad.jpg"):
        bio.read_image(bad)
    # A truncated JPEG must fail too, not decode to half a photo silently.
    Image.fromarray(_photo(64, 64)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(bio.ImageReadError):
        bio.read_image(tmp_path / "cut.jpg")
    with pytest.raises(FileNotFoundError):
        bio.read_image(tmp_path / "nope.png")
    assert issubclass(bio.ImageReadError, OSError)


@pytest.mark.parametrize("top, dtype", [(3, np.uint8), (255, np.uint8), (256, np.uint16), (65535, np.uint16)])
def test_labels_png_depth(tmp_path, top, dtype):
    labels = np.zeros((4, 5), dtype=np.int32)
    labels[1, 2] = top
    labels[3, 4] = 1
    path = bio.write_labels(tmp_path / "l.png", labels)
    with Image.open(path) as im:
        assert np.asarray(im).dtype == dtype
    back = bio.read_labels(path)
    assert back.dtype == np.int32
    np.testing.assert_array_equal(back, labels)


def test_labels_tiff_large_ids(tmp_path):
    labels = np.array([[0, 70000], [1, 2]], dtype=np.int64)
    bio.write_labels(tmp_path / "l.tif", labels)
    np.testing.assert_array_equal(bio.read_labels(tmp_path / "l.tif"), labels)
    with pytest.raises(ValueError, match=r"\.tif"):
        bio.write_labels(tmp_path / "l.png", labels)


def test_labels_refuse_overwrite_and_bad_input(tmp_path):
    path = tmp_path / "sub" / "l.png"
    bio.write_labels(path, np.ones((2, 2), bool))
    with pytest.raises(FileExistsError, match="overwrite"):
        bio.write_labels(path, np.zeros((2, 2), np.uint8))
    np.testing.assert_array_equal(bio.read_labels(path), 1)
    bio.write_labels(path, np.full((2, 2), 2), overwrite=True)
    np.testing.assert_array_equal(bio.read_labels(path), 2)
    # No temporary files are left beside the result, and it is readable by
    # others as any new file is (not owner-only like a raw temporary file).
    assert sorted(os.listdir(path.parent)) == ["l.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(ValueError, match=">= 0"):
        bio.write_labels(tmp_path / "n.png", -np.ones((2, 2), int))
    with pytest.raises(ValueError, match="suffix|format|.png"):
        bio.write_labels(tmp_path / "x.jpg", np.ones((2, 2), int))
    with pytest.raises(ValueError, match="2-D"):
        bio.write_labels(tmp_path / "x.png", np.ones((2, 2, 3), int))


def test_atomic_write_cleans_up_on_failure(tmp_path):
    def boom(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        bio.atomic_write(tmp_path / "x.png", boom)
    assert os.listdir(tmp_path) == []


def test_colour_labels(tmp_path):
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 2] = (0, 0, 255)
    rgb[0, 2] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    got = bio.read_labels(tmp_path / "c.png")
    # Colours are numbered in order of value: blue (0,0,255) before red.
    np.testing.assert_array_equal(got, [[2, 0, 2], [0, 0, 1]])


def test_cutout_uint8():
    img = _photo(4, 4)
    labels = np.zeros((4, 4), np.int32)
    labels[:2, :2] = 1
    labels[2:, 2:] = 2
    rgba = bio.cutout(img, labels, label=2)
    assert rgba.dtype == np.uint8 and rgba.shape == (4, 4, 4)
    np.testing.assert_array_equal(rgba[..., 3], np.where(labels == 2, 255, 0))
    np.testing.assert_array_equal(rgba[2:, 2:, :3], img[2:, 2:])
    assert not rgba[labels != 2][:, :3].any()
    both = bio.cutout(img, labels)
    np.testing.assert_array_equal(both[..., 3] > 0, labels > 0)
    with pytest.raises(ValueError, match="differ in size"):
        bio.cutout(img, labels[:3])


def test_cutout_16bit_soft_and_grey():
    img = _photo(3, 3, np.uint16)
    soft = np.array([[0, 0.5, 1]] * 3, dtype=np.float32)
    rgba = bio.cutout(img, soft)
    assert rgba.dtype == np.uint16
    np.testing.assert_array_equal(rgba[0, :, 3], [0, 32768, 65535])
    grey = bio.cutout(_photo(3, 3, channels=1), soft > 0)
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])


def test_flatten_on_white():
    rgba = np.array([[[10, 20, 30, 255], [10, 20, 30, 0], [0, 0, 0, 128]]], np.uint8)
    out = bio.flatten_on_white(rgba)
    np.testing.assert_array_equal(out, [[[10, 20, 30], [255, 255, 255], [127, 127, 127]]])
    rgba16 = np.array([[[0, 0, 0, 0], [1000, 0, 65535, 65535]]], np.uint16)
    np.testing.assert_array_equal(
        bio.flatten_on_white(rgba16), [[[65535] * 3, [1000, 0, 65535]]]
    )


def test_write_cutout_8bit_with_icc(tmp_path):
    rgba = bio.cutout(_photo(5, 6), np.eye(5, 6, dtype=bool))
    path = bio.write_cutout(tmp_path / "c.png", rgba, icc_profile=ICC)
    with Image.open(path) as im:
        assert im.mode == "RGBA"
        assert im.info.get("icc_profile") == ICC
        np.testing.assert_array_equal(np.asarray(im), rgba)
    with pytest.raises(FileExistsError):
        bio.write_cutout(path, rgba)
    with pytest.raises(ValueError, match="PNG"):
        bio.write_cutout(tmp_path / "c.jpg", rgba)


def test_write_cutout_16bit_roundtrip(tmp_path):
    rgba = bio.cutout(_photo(9, 7, np.uint16, seed=3), np.tri(9, 7, dtype=bool))
    path = bio.write_cutout(tmp_path / "c16.png", rgba, icc_profile=ICC)
    with Image.open(path) as im:
        # Pillow reads 16-bit colour PNGs with 8 bits, but it parses header and ICC.
        assert im.mode == "RGBA" and im.size == (7, 9)
        assert im.info.get("icc_profile") == ICC
    cv2 = pytest.importorskip("cv2")
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(back[..., [2, 1, 0, 3]], rgba)
    # read_image keeps 16 bits through OpenCV.
    photo = bio.read_image(path)
    assert photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels, rgba)
    assert photo.icc_profile == ICC


def test_write_image_formats(tmp_path):
    rgb = _photo(8, 8)
    bio.write_image(tmp_path / "a.jpg", rgb, icc_profile=ICC)
    photo = bio.read_image(tmp_path / "a.jpg")
    assert photo.icc_profile == ICC and photo.pixels.shape == (8, 8, 3)
    rgb16 = _photo(8, 8, np.uint16)
    bio.write_image(tmp_path / "a.tif", rgb16, icc_profile=ICC)
    photo = bio.read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(photo.pixels, rgb16)
    assert photo.icc_profile == ICC
    # 16 bits into JPEG: rounded to 8 bits.
    bio.write_image(tmp_path / "b.jpg", np.full((4, 4, 3), 65535, np.uint16))
    assert bio.read_image(tmp_path / "b.jpg").pixels.min() >= 250
    with pytest.raises(ValueError, match="alpha"):
        bio.write_image(tmp_path / "c.jpg", np.zeros((2, 2, 4), np.uint8))
    soft = np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4)
    bio.write_image(tmp_path / "soft.png", soft)
    back = bio.read_image(tmp_path / "soft.png").pixels
    assert back.dtype == np.uint16
    np.testing.assert_allclose(back / 65535, soft, atol=1e-5)


def test_16bit_colour_png_without_opencv_warns(tmp_path, monkeypatch):
    rgba = bio.cutout(_photo(4, 5, np.uint16, seed=5), np.ones((4, 5), bool))
    bio.write_cutout(tmp_path / "c.png", rgba)
    monkeypatch.setattr(bio, "_read_png16_cv2", lambda path: None)
    with pytest.warns(UserWarning, match="16-bit colour PNG"):
        photo = bio.read_image(tmp_path / "c.png")
    assert photo.pixels.dtype == np.uint8 and photo.pixels.shape == (4, 5, 4)


def test_atomic_write_never_replaces_a_file_another_process_made_meanwhile(tmp_path):
    target = tmp_path / "x.png"

    def write_while_another_finishes(tmp):
        tmp.write_bytes(b"ours")
        target.write_bytes(b"theirs")  # the other process's rename lands now

    with pytest.raises(FileExistsError, match="overwrite"):
        bio.atomic_write(target, write_while_another_finishes)
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    # With overwrite the last writer wins, as asked.
    bio.atomic_write(target, lambda tmp: tmp.write_bytes(b"new"), overwrite=True)
    assert target.read_bytes() == b"new"


def test_temporary_names_are_recognised():
    name = bio.temporary_name(Path("out/labels/a.b.png"))
    match = bio.TEMPORARY_NAME.match(name)
    assert name.startswith(".a.b.") and name.endswith(".tmp.png")
    assert match and match.group(1) == "a.b"
    assert not bio.TEMPORARY_NAME.match("a.png") and not bio.TEMPORARY_NAME.match(".a.tmp.png")
