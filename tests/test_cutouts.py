"""Cut-outs: compositing, one file per product, naming, cropping."""

from __future__ import annotations

import numpy as np
import pytest
from _photos import ICC, random_photo
from PIL import Image

from napari_boostseg import cutouts, files


def test_cutout_uint8_hard_edge():
    img = random_photo(4, 4)
    labels = np.zeros((4, 4), np.int32)
    labels[:2, :2] = 1
    labels[2:, 2:] = 2
    rgba = cutouts.cutout(img, labels, label=2, soft_edge=False)
    assert rgba.dtype == np.uint8 and rgba.shape == (4, 4, 4)
    np.testing.assert_array_equal(rgba[..., 3], np.where(labels == 2, 255, 0))
    np.testing.assert_array_equal(rgba[2:, 2:, :3], img[2:, 2:])
    assert not rgba[labels != 2][:, :3].any()
    both = cutouts.cutout(img, labels, soft_edge=False)
    np.testing.assert_array_equal(both[..., 3] > 0, labels > 0)
    with pytest.raises(ValueError, match="differ in size"):
        cutouts.cutout(img, labels[:3])


def test_cutout_16bit_soft_and_grey():
    img = random_photo(3, 3, np.uint16)
    soft = np.array([[0, 0.5, 1]] * 3, dtype=np.float32)
    rgba = cutouts.cutout(img, soft)
    assert rgba.dtype == np.uint16
    np.testing.assert_array_equal(rgba[0, :, 3], [0, 32768, 65535])
    grey = cutouts.cutout(random_photo(3, 3, channels=1), soft > 0)
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])


def test_soft_edge_by_default_hard_on_request():
    # A dark square on white whose right column is half covered.
    img = np.full((30, 30, 3), 250, np.uint8)
    img[8:20, 8:20] = 20
    img[8:20, 20] = 135
    mask = np.zeros((30, 30), bool)
    mask[8:20, 8:21] = True
    soft = cutouts.cutout(img, mask)
    hard = cutouts.cutout(img, mask, soft_edge=False)
    np.testing.assert_array_equal(hard[..., 3], np.where(mask, 255, 0))
    assert abs(int(soft[14, 20, 3]) - 128) <= 3  # half covered, half transparent
    assert soft[14, 20, 0] == 20  # and its colour is the square's, not grey
    assert (soft[14, 9:19, 3] >= 250).all() and (soft[0, :, 3] == 0).all()
    # Grey photos and 16-bit photos get the same soft edge.
    grey = cutouts.cutout(img[..., 0], mask)
    np.testing.assert_array_equal(grey[..., 3], soft[..., 3])
    deep = cutouts.cutout(img.astype(np.uint16) * 257, mask)
    assert deep.dtype == np.uint16 and abs(int(deep[14, 20, 3]) - 32768) < 900


def test_flatten_on_white():
    rgba = np.array([[[10, 20, 30, 255], [10, 20, 30, 0], [0, 0, 0, 128]]], np.uint8)
    out = cutouts.flatten_on_white(rgba)
    np.testing.assert_array_equal(out, [[[10, 20, 30], [255, 255, 255], [127, 127, 127]]])
    rgba16 = np.array([[[0, 0, 0, 0], [1000, 0, 65535, 65535]]], np.uint16)
    np.testing.assert_array_equal(
        cutouts.flatten_on_white(rgba16), [[[65535] * 3, [1000, 0, 65535]]]
    )


def test_write_cutout_8bit_with_icc(tmp_path):
    rgba = cutouts.cutout(random_photo(5, 6), np.eye(5, 6, dtype=bool))
    path = cutouts.write_cutout(tmp_path / "c.png", rgba, icc_profile=ICC)
    with Image.open(path) as im:
        assert im.mode == "RGBA"
        assert im.info.get("icc_profile") == ICC
        np.testing.assert_array_equal(np.asarray(im), rgba)
    with pytest.raises(FileExistsError):
        cutouts.write_cutout(path, rgba)
    with pytest.raises(ValueError, match="PNG"):
        cutouts.write_cutout(tmp_path / "c.jpg", rgba)


def test_write_cutout_16bit_roundtrip(tmp_path):
    rgba = cutouts.cutout(random_photo(9, 7, np.uint16, seed=3), np.tri(9, 7, dtype=bool))
    path = cutouts.write_cutout(tmp_path / "c16.png", rgba, icc_profile=ICC)
    with Image.open(path) as im:
        # Pillow reads 16-bit colour PNGs with 8 bits, but it parses header and ICC.
        assert im.mode == "RGBA" and im.size == (7, 9)
        assert im.info.get("icc_profile") == ICC
    cv2 = pytest.importorskip("cv2")
    back = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(back[..., [2, 1, 0, 3]], rgba)
    # read_image keeps 16 bits through OpenCV.
    photo = files.read_image(path)
    assert photo.pixels.dtype == np.uint16
    np.testing.assert_array_equal(photo.pixels, rgba)
    assert photo.icc_profile == ICC


def test_product_window_adds_a_margin_of_the_longer_side_within_the_photo():
    box = (slice(100, 300), slice(50, 150))  # 200 tall, 100 wide: margin 10
    assert cutouts.product_window(box, (400, 400)) == (slice(90, 310), slice(40, 160))
    assert cutouts.product_window(box, (305, 155)) == (slice(90, 305), slice(40, 155))
    assert cutouts.product_window(box, (400, 400), margin=0, at_least=0) == box
    # A small product keeps room for its soft edge (2 pixels).
    tiny = (slice(10, 20), slice(10, 16))
    assert cutouts.product_window(tiny, (400, 400)) == (slice(8, 22), slice(8, 18))
    with pytest.raises(ValueError, match="margin"):
        cutouts.product_window(box, (400, 400), margin=-1)


def test_product_cutouts_one_per_object_cropped_or_whole_frame():
    img = random_photo(60, 80, np.uint16, seed=4)
    labels = np.zeros((60, 80), np.int32)
    labels[10:30, 5:25] = 1
    labels[35:55, 40:70] = 3  # ids need not be consecutive
    cropped = list(cutouts.product_cutouts(img, labels, soft_edge=False))
    assert [c.label for c in cropped] == [1, 3]
    first, second = cropped
    # 20x20 box, margin round(0.05 * 20) = 1 on each side, grown to 2 (room for a soft edge).
    assert first.offset == (8, 3) and first.rgba.shape == (24, 24, 4)
    assert first.rgba.dtype == np.uint16
    np.testing.assert_array_equal(first.rgba[..., 3] > 0, labels[8:32, 3:27] == 1)
    np.testing.assert_array_equal(first.rgba[2:-2, 2:-2, :3], img[10:30, 5:25])
    # 20x30 box, margin 2 (rounded from 1.5).
    assert second.offset == (33, 38) and second.rgba.shape == (24, 34, 4)
    whole = list(cutouts.product_cutouts(img, labels, crop=False))
    assert [c.offset for c in whole] == [(0, 0), (0, 0)]
    np.testing.assert_array_equal(whole[1].rgba, cutouts.cutout(img, labels, label=3))
    # Soft by default: the cropped cut-out is the whole-frame one, cut to its window.
    soft_first = next(cutouts.product_cutouts(img, labels))
    assert soft_first.offset == (8, 3)
    np.testing.assert_array_equal(soft_first.rgba, whole[0].rgba[8:32, 3:27])
    assert list(cutouts.product_cutouts(img, np.zeros((60, 80), np.int32))) == []


def test_cutout_names_and_the_files_of_one_photo(tmp_path):
    assert cutouts.cutout_name("shirt", 2) == "shirt-2.png"
    assert cutouts.cutout_name("shirt", 2, ".jpg") == "shirt-2.jpg"
    for name in ("shirt-1.png", "shirt-12.png", "shirt-1-1.png", "shirt.png", "shirt-a.png", "shirt-1.jpg"):
        (tmp_path / name).write_bytes(b"")
    # shirt-1-1.png is object 1 of the photo "shirt-1", not one of "shirt".
    assert [p.name for p in cutouts.cutout_files(tmp_path, "shirt")] == ["shirt-1.png", "shirt-12.png"]
    assert [p.name for p in cutouts.cutout_files(tmp_path, "shirt-1")] == ["shirt-1-1.png"]
    assert cutouts.cutout_files(tmp_path / "missing", "shirt") == []


def test_write_product_cutouts_refuses_before_writing_any(tmp_path):
    img = random_photo(30, 30)
    labels = np.zeros((30, 30), np.uint8)
    labels[1:4, 1:4] = 1
    labels[8:28, 8:28] = 2  # margin 1 pixel, grown to 2 for the soft rim
    written = cutouts.write_product_cutouts(tmp_path, "p", img, labels, icc_profile=ICC)
    assert [p.name for p in written] == ["p-1.png", "p-2.png"]
    with Image.open(written[1]) as im:
        assert im.info.get("icc_profile") == ICC and im.size == (24, 24)
    written[0].unlink()
    with pytest.raises(FileExistsError, match="p-2.png"):
        cutouts.write_product_cutouts(tmp_path, "p", img, labels)
    assert not (tmp_path / "p-1.png").exists()
    again = cutouts.write_product_cutouts(tmp_path, "p", img, labels, crop=False, overwrite=True)
    assert files.read_image(again[0]).pixels.shape == (30, 30, 4)


def test_touching_products_laid_back_together_leave_no_seam():
    # Two products that touch along a column, on white paper: their soft
    # cut-outs, stacked over each other, cover the seam fully; their edges on
    # the paper stay soft.
    photo = np.full((40, 60, 3), 245, np.uint8)
    photo[8:32, 8:30] = (180, 40, 40)
    photo[8:32, 30:52] = (40, 40, 180)
    photo[8:32, 52] = (142, 142, 212)  # half covered by the right product
    labels = np.zeros((40, 60), np.int32)
    labels[8:32, 8:30] = 1
    labels[8:32, 30:53] = 2
    cuts = list(cutouts.product_cutouts(photo, labels, crop=False))
    a1, a2 = (c.rgba[..., 3].astype(np.float32) / 255 for c in cuts)
    stacked = a1 + a2 * (1 - a1)
    assert (stacked[10:30, 10:50] == 1).all()
    np.testing.assert_array_equal(a1[:, 28:33] > 0, labels[:, 28:33] == 1)  # the seam is hard
    assert abs(a2[20, 52] - 0.5) < 0.05  # the edge on the paper is soft
