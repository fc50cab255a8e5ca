import numpy as np
import pytest

from napari_boostseg.mrcnn import MaskRCNNConfig
from napari_boostseg.mrcnn.anchors import anchors_for_shape, backbone_shapes, level_anchors
from napari_boostseg.mrcnn.boxes import apply_box_deltas, box_deltas, box_overlaps, denorm_boxes, norm_boxes
from napari_boostseg.mrcnn.detect import Detections, unmold_detections
from napari_boostseg.mrcnn.molding import (
    compose_image_meta,
    mold_image,
    resize_image,
    resize_mask,
    to_rgb_uint8,
    unmold_boxes,
    unmold_mask,
)

CFG = MaskRCNNConfig(class_names=("BG", "a"), backbone="resnet50", image_min_dim=64, image_max_dim=128)


def test_to_rgb_conversions():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rgb = to_rgb_uint8(gray)
    assert rgb.shape == (3, 4, 3) and np.all(rgb[..., 0] == gray) and np.all(rgb[..., 2] == gray)
    rgba = np.dstack([rgb, np.full((3, 4), 7, np.uint8)])
    assert np.array_equal(to_rgb_uint8(rgba), rgb)
    u16 = np.array([[0, 257, 65535], [32896, 514, 1000]], np.uint16)
    assert to_rgb_uint8(u16)[..., 0].tolist() == [[0, 1, 255], [128, 2, 4]]
    f = np.array([[0.0, 0.5], [1.0, 0.2]])
    assert to_rgb_uint8(f)[..., 1].tolist() == [[0, 128], [255, 51]]
    assert np.array_equal(to_rgb_uint8(gray[..., None]), rgb)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((4, 4, 2), np.uint8), "shape"),
        (np.zeros((2, 4, 4, 3), np.uint8), "shape"),
        (np.zeros((4, 4), np.int32), "dtype int32"),
        (np.full((4, 4), 2.0), r"\[0, 1\]"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.zeros((1, 4), np.uint8), "at least 2x2"),
    ],
)
def test_to_rgb_rejects(image, message):
    with pytest.raises(ValueError, match=message):
        to_rgb_uint8(image)


@pytest.mark.parametrize("shape", [(100, 70), (37, 500), (513, 64), (1600, 2400), (128, 128), (20, 30)])
def test_resize_square_geometry(shape):
    image = np.full(shape + (3,), 200, np.uint8)
    molded, info = resize_image(image, CFG)
    assert molded.shape == (128, 128, 3)
    y1, x1, y2, x2 = info.window
    # The scaled image fills the window exactly, the rest is zero padding.
    assert np.all(molded[y1:y2, x1:x2] == 200)
    assert molded.sum() == 200 * 3 * (y2 - y1) * (x2 - x1)
    assert max(y2 - y1, x2 - x1) <= 128
    assert round(shape[0] * info.scale) == y2 - y1 and round(shape[1] * info.scale) == x2 - x1
    # Centred: padding differs by at most one pixel on opposite sides.
    assert abs(y1 - (128 - y2)) <= 1 and abs(x1 - (128 - x2)) <= 1


def test_min_dim_scales_up_but_not_down():
    _, info = resize_image(np.zeros((20, 30, 3), np.uint8), CFG)
    assert info.scale == pytest.approx(64 / 20)
    _, info = resize_image(np.zeros((100, 90, 3), np.uint8), CFG)
    assert info.scale == 1.0


def test_pad64_mode():
    cfg = CFG.replace(image_resize_mode="pad64")
    molded, info = resize_image(np.ones((70, 130, 3), np.uint8), cfg)
    assert molded.shape == (128, 192, 3) and info.window == (29, 31, 99, 161)


def test_mold_subtracts_mean_and_pads_with_minus_mean():
    molded, info = mold_image(np.full((64, 32), 100, np.uint8), CFG)
    mean = np.array(CFG.mean_pixel, np.float32)
    assert molded.dtype == np.float32
    assert np.allclose(molded[64, 64], 100 - mean) and np.allclose(molded[0, 0], -mean)
    meta = compose_image_meta(info, CFG.num_classes)
    assert meta.shape == (CFG.image_meta_size,)
    assert meta[1:4].tolist() == [64, 32, 3] and meta[7:11].tolist() == list(info.window)


@pytest.mark.parametrize("shape", [(100, 70), (37, 500), (513, 64), (1600, 2400), (30, 20)])
def test_box_unmolding_inverts_molding(shape):
    _, info = resize_image(np.zeros(shape + (3,), np.uint8), CFG)
    h, w = shape
    rng = np.random.default_rng(1)
    y = np.sort(rng.integers(0, h + 1, (20, 2)), axis=1)
    x = np.sort(rng.integers(0, w + 1, (20, 2)), axis=1)
    boxes = np.stack([y[:, 0], x[:, 0], y[:, 1], x[:, 1]], axis=1)
    top, left, bottom, right = info.window
    # Where the image content really lands: h rows onto the window's rows.
    f = np.array([(bottom - top) / h, (right - left) / w] * 2)
    molded_px = boxes * f + np.array([top, left, top, left])
    back = unmold_boxes(norm_boxes(molded_px, info.molded_shape), info)
    assert np.abs(back - boxes).max() <= 1
    # The full window maps to the full image exactly.
    assert unmold_boxes(info.norm_window[None], info)[0].tolist() == [0, 0, h, w]


def test_unmold_mask_pastes_into_box():
    full = unmold_mask(np.ones((28, 28), np.float32), np.array([5, 10, 25, 40]), (50, 60))
    assert full.shape == (50, 60) and full.sum() == 20 * 30 and full[5:25, 10:40].all()
    half = np.zeros((28, 28), np.float32)
    half[:, :14] = 1.0
    full = unmold_mask(half, np.array([0, 0, 10, 20]), (10, 20))
    assert full[:, :9].all() and not full[:, 11:].any()
    assert not unmold_mask(half, np.array([3, 3, 3, 9]), (10, 20)).any()


def test_unmold_detections_end_to_end():
    shape = (90, 300)
    _, info = resize_image(np.zeros(shape + (3,), np.uint8), CFG)
    top, left = info.window[:2]
    want = np.array([[10, 20, 60, 200], [0, 0, 90, 300]])
    molded_px = want * info.scale + np.array([top, left, top, left])
    raw = np.zeros((10, 6), np.float32)
    raw[:2, :4] = norm_boxes(molded_px, info.molded_shape)
    raw[:2, 4] = 1
    raw[:2, 5] = [0.8, 0.9]
    probs = np.zeros((10, 28, 28), np.float32)
    probs[:2] = 1.0
    dets = unmold_detections(raw, probs, info, CFG.class_names)
    assert len(dets) == 2
    assert dets.scores.tolist() == pytest.approx([0.9, 0.8])  # sorted by score
    assert np.abs(dets.boxes - want[::-1]).max() <= 1
    assert dets.boxes.dtype == np.int32 and dets.class_ids.tolist() == [1, 1]
    assert dets.class_names == ("a", "a")
    assert dets.masks.shape == (2, 90, 300) and dets.masks.dtype == bool
    assert dets.masks[0].all()
    assert dets.mask_probs.shape == (2, 28, 28)
    labels = dets.to_labels()
    # The big, higher-scoring instance takes the overlap.
    assert labels.dtype == np.int32 and np.all(labels == 1)


def test_zero_detections_have_right_shapes():
    _, info = resize_image(np.zeros((50, 40, 3), np.uint8), CFG)
    dets = unmold_detections(np.zeros((10, 6)), np.zeros((10, 28, 28)), info, CFG.class_names)
    assert len(dets) == 0
    assert dets.boxes.shape == (0, 4) and dets.boxes.dtype == np.int32
    assert dets.masks.shape == (0, 50, 40) and dets.mask_probs.shape == (0, 28, 28)
    assert dets.scores.dtype == np.float32 and dets.class_names == ()
    assert dets.to_labels().shape == (50, 40) and not dets.to_labels().any()


def test_to_labels_order_and_overlap():
    masks = np.zeros((3, 6, 6), bool)
    masks[0, :3] = True  # low score
    masks[1, 2:5] = True  # high score, overlaps row 2 with both others
    masks[2, 4:] = True  # middle score
    dets = Detections(
        boxes=np.zeros((3, 4), np.int32), class_ids=np.ones(3, np.int32), class_names=("a",) * 3,
        scores=np.array([0.2, 0.9, 0.5], np.float32), masks=masks,
        mask_probs=np.zeros((3, 28, 28), np.float32), image_shape=(6, 6),
    )
    labels = dets.to_labels()
    assert labels[:, 0].tolist() == [3, 3, 1, 1, 1, 2]


def test_detections_left_in_pieces_by_better_ones_are_left_out():
    masks = np.zeros((4, 10, 10), bool)
    masks[0, :4] = True  # the best
    masks[1, 2:7] = True  # keeps 3 of its 5 rows beside the best
    masks[2, 2:5, :5] = True  # keeps 1 of its 3 half rows: a fragment
    masks[3, 8:] = True  # apart
    dets = Detections(
        boxes=np.zeros((4, 4), np.int32), class_ids=np.ones(4, np.int32), class_names=("a", "b", "c", "d"),
        scores=np.array([0.9, 0.5, 0.6, 0.7], np.float32), masks=masks,
        mask_probs=np.zeros((4, 28, 28), np.float32), image_shape=(10, 10),
    )
    assert dets.without_fragments().class_names == ("a", "b", "d")
    assert dets.without_fragments(0.7).class_names == ("a", "d")
    assert dets.without_fragments(0.0).class_names == ("a", "b", "c", "d")
    with pytest.raises(ValueError, match="min_kept"):
        dets.without_fragments(1.5)


def test_resize_mask_follows_image():
    masks = np.zeros((40, 20, 1), bool)
    masks[10:30, 5:15, 0] = True
    _, info = resize_image(np.zeros((40, 20, 3), np.uint8), CFG)
    out = resize_mask(masks, info)
    y1, x1 = info.window[:2]
    s = info.scale
    assert out.shape == (128, 128, 1)
    assert out[:, :, 0].sum() == pytest.approx(200 * s * s, rel=0.1)
    rows = np.flatnonzero(out[:, :, 0].any(axis=1))
    assert abs(rows[0] - (y1 + 10 * s)) <= 1


def test_anchor_count_and_order():
    cfg = MaskRCNNConfig()
    anchors = anchors_for_shape(cfg, (1024, 1024))
    assert anchors.shape == (261888, 4)
    assert backbone_shapes((1024, 1024), cfg.backbone_strides)[0] == (256, 256)
    lvl = level_anchors(32, (0.5, 1, 2), (2, 3), 4, 1)
    # Row-major over cells, ratios innermost; every anchor keeps the area 32**2.
    assert lvl.shape == (18, 4)
    centres = (lvl[:, :2] + lvl[:, 2:]) / 2
    assert centres[:3].tolist() == [[0, 0]] * 3 and centres[3].tolist() == [0, 4] and centres[9].tolist() == [4, 0]
    hw = lvl[:3, 2:] - lvl[:3, :2]
    assert np.allclose(hw[:, 1] / hw[:, 0], [0.5, 1, 2]) and np.allclose(hw.prod(axis=1), 1024)
    assert not anchors.flags.writeable


def test_box_arithmetic():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 40]])
    iou = box_overlaps(boxes, boxes[:2])
    assert iou[0, 0] == 1 and iou[0, 1] == pytest.approx(25 / 175) and iou[2].max() == 0
    assert np.array_equal(denorm_boxes(norm_boxes(boxes, (64, 48)), (64, 48)), boxes)
    d = box_deltas(boxes[:2], boxes[1:])
    assert np.allclose(apply_box_deltas(boxes[:2], d), boxes[1:], atol=1e-4)
