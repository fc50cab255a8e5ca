"""Training targets, losses, the data folder and a short training run."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from napari_boostseg.mrcnn.boxes import box_overlaps
from napari_boostseg.mrcnn.dataset import InstanceDataset, masks_to_boxes, prepare_sample
from napari_boostseg.mrcnn.targets import rpn_targets

from mrcnn_testdata import tiny_config, write_shapes


def test_rpn_targets_rules():
    cfg = tiny_config(rpn_train_anchors_per_image=8)
    anchors = np.array([
        [10, 10, 30, 30],   # identical to the box: positive
        [12, 10, 30, 30],   # IoU 0.9: positive
        [0, 0, 8, 8],       # far: negative
        [40, 40, 60, 60],   # far: negative
        [10, 20, 30, 40],   # IoU 1/3: neither
    ], np.float32)
    gt = np.array([[10, 10, 30, 30]], np.float32)
    match, deltas = rpn_targets(anchors, gt, cfg, np.random.default_rng(0))
    assert match.tolist() == [1, 1, -1, -1, 0]
    assert deltas.shape == (8, 4)
    np.testing.assert_allclose(deltas[0], 0, atol=1e-6)
    # Anchor 1 is 2 px shorter at the top: its centre must move up by 1/18 of its height.
    np.testing.assert_allclose(deltas[1], [-1 / 18 / 0.1, 0, np.log(20 / 18) / 0.2, 0], atol=1e-5)
    assert not deltas[2:].any()


def test_rpn_targets_best_anchor_and_sampling():
    cfg = tiny_config(rpn_train_anchors_per_image=6)
    rng = np.random.default_rng(0)
    anchors = np.concatenate([np.array([[0, 0, 10, 10]], np.float32),
                              np.tile([[50, 50, 60, 60]], (20, 1)).astype(np.float32)])
    gt = np.array([[0, 0, 30, 30]], np.float32)  # best IoU only 1/9
    match, _ = rpn_targets(anchors, gt, cfg, rng)
    assert match[0] == 1  # a box's best anchor is positive however low the IoU
    assert (match == -1).sum() == 5 and (match == 0).sum() == 15  # total capped at 6


def test_detection_targets_positive_roi():
    import tensorflow as tf

    from napari_boostseg.mrcnn.targets import detection_targets

    cfg = tiny_config(train_rois_per_image=8, roi_positive_ratio=0.5)
    masks = np.zeros((64, 64, 2), bool)
    masks[8:40, 8:24, 0] = True
    gt_boxes = np.zeros((2, 4), np.float32)
    gt_boxes[0] = [8 / 63, 8 / 63, 39 / 63, 23 / 63]
    proposals = np.zeros((6, 4), np.float32)
    proposals[0] = gt_boxes[0]
    proposals[1] = [0.8, 0.8, 0.95, 0.95]
    rois, ids, deltas, tmasks = (t.numpy() for t in detection_targets(
        tf.constant(proposals), tf.constant([1, 0], tf.int32), tf.constant(gt_boxes), tf.constant(masks), cfg))
    assert rois.shape == (8, 4) and ids.shape == (8,) and tmasks.shape == (8, 28, 28)
    assert ids.tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    np.testing.assert_allclose(rois[0], gt_boxes[0], atol=1e-6)
    np.testing.assert_allclose(rois[1], proposals[1], atol=1e-6)
    np.testing.assert_allclose(deltas[0], 0, atol=1e-5)
    # The ROI is the mask's box, so the target is (nearly) all ones.
    assert tmasks[0].mean() > 0.9 and set(np.unique(tmasks)) <= {0.0, 1.0}


def test_losses_match_hand_computation():
    import tensorflow as tf

    from napari_boostseg.mrcnn import losses as L

    assert L.smooth_l1(tf.constant([0.0, 0.0]), tf.constant([0.5, 3.0])).numpy().tolist() == [0.125, 2.5]
    match = tf.constant([[1, -1, 0]])
    logits = tf.constant([[[0.0, 0.0], [2.0, 0.0], [5.0, -5.0]]])
    want = (np.log(2) + np.log(1 + np.exp(-2))) / 2
    assert L.rpn_class_loss(match, logits).numpy() == pytest.approx(want, rel=1e-5)
    deltas = tf.constant([[[1.0, 0, 0, 0], [9, 9, 9, 9], [9, 9, 9, 9]]])
    target = tf.constant([[[0.0, 0, 0, 0], [0, 0, 0, 0]]])
    assert L.rpn_bbox_loss(target, match, deltas).numpy() == pytest.approx(0.5 / 4)
    ids = tf.constant([[0, 2]])
    pred = tf.zeros([1, 2, 3, 4])
    assert L.mrcnn_bbox_loss(tf.ones([1, 2, 4]) * 2, ids, pred).numpy() == pytest.approx(1.5)
    assert L.mrcnn_bbox_loss(tf.ones([1, 2, 4]), tf.zeros([1, 2], tf.int32), pred).numpy() == 0.0
    masks = tf.fill([1, 2, 28, 28, 3], 0.5)
    assert L.mrcnn_mask_loss(tf.ones([1, 2, 28, 28]), ids, masks).numpy() == pytest.approx(np.log(2), rel=1e-5)


def test_dataset_folder_and_sidecar(tmp_path):
    write_shapes(tmp_path, n=2, size=32)
    ds = InstanceDataset(tmp_path, ("BG", "box"))
    image, masks, ids = ds.load(0)
    assert image.shape == (32, 32, 3) and masks.shape[:2] == (32, 32) and ids.tolist() == [1]
    with pytest.raises(ValueError, match="no sidecar"):
        InstanceDataset(tmp_path, ("BG", "box", "shoe")).load(0)
    (tmp_path / "labels" / "shape0.json").write_text(json.dumps({"classes": {"1": "shoe"}}))
    assert InstanceDataset(tmp_path, ("BG", "box", "shoe")).load(0)[2].tolist() == [2]
    (tmp_path / "labels" / "shape0.json").write_text(json.dumps({"classes": {"1": "hat"}}))
    with pytest.raises(ValueError, match=r"'hat'.*not one of the config's classes \['box', 'shoe'\]; train with"):
        InstanceDataset(tmp_path, ("BG", "box", "shoe")).load(0)
    (tmp_path / "labels" / "shape0.json").write_text(json.dumps({"classes": {"2": 1}}))
    with pytest.raises(ValueError, match="no class for instance 1"):
        ds.load(0)
    with pytest.raises(FileNotFoundError, match="'images' and 'labels'"):
        InstanceDataset(tmp_path / "labels", ("BG", "box"))


def test_prepare_sample_flips_and_targets():
    cfg = tiny_config()
    image = np.zeros((32, 48, 3), np.uint8)
    masks = np.zeros((32, 48, 1), bool)
    masks[2:10, 3:20, 0] = True
    found = set()
    rng = np.random.default_rng(0)
    for _ in range(12):
        s = prepare_sample(image, masks, np.array([1]), cfg, rng, augment=True)
        assert s.image.shape == (64, 64, 3) and s.gt_masks.shape == (64, 64, 4)
        assert s.gt_class_ids.tolist() == [1, 0, 0, 0]
        box = masks_to_boxes(s.gt_masks[:, :, :1])[0]
        found.add(tuple(box))
        assert (s.rpn_match == 1).sum() >= 1
    assert len(found) == 4  # no flip, horizontal, vertical, both

    found = set()
    for _ in range(12):
        s = prepare_sample(image, masks, np.array([1]), cfg, rng, augment="horizontal")
        found.add(tuple(masks_to_boxes(s.gt_masks[:, :, :1])[0]))
    assert len(found) == 2 and len({b[0] for b in found}) == 1  # left-right only: rows stay
    with pytest.raises(ValueError, match="augment"):
        prepare_sample(image, masks, np.array([1]), cfg, rng, augment="vertical")


class _OverlappingShapes:
    """A dataset object (not a folder): a box and, inside it, a smaller box of another class.

    Item 2 shows nothing (background only), as real data sometimes does.
    """

    def __len__(self):
        return 3

    def load(self, index):
        image = np.full((64, 64, 3), 20, np.uint8)
        if index == 2:
            return image, np.zeros((64, 64, 0), bool), np.zeros(0, np.int32)
        outer = np.zeros((64, 64), bool)
        outer[8 + index : 56, 10:50] = True
        inner = np.zeros((64, 64), bool)
        inner[20:40, 20:40] = True
        image[outer] = (200, 60, 60)
        image[inner] = (60, 200, 60)
        return image, np.stack([outer, inner], axis=2), np.array([1, 2], np.int32)


def test_train_takes_a_dataset_object_with_overlapping_instances(tmp_path):
    from napari_boostseg.mrcnn import train

    seen = []
    cfg = tiny_config(class_names=("BG", "outer", "inner"), train_bn=True, backbone_width=0.25,
                      top_down_pyramid_size=32, fpn_classif_fc_layers_size=64)
    result = train(cfg, _OverlappingShapes(), tmp_path / "runs", epochs=1, layers="all",
                   steps_per_epoch=3, val_fraction=0, optimizer="adam", augment="horizontal",
                   progress=seen.append, verbose=False)
    assert [e.phase for e in seen] == ["train", "train", "train", "epoch"]
    assert all(np.isfinite(v) for v in result.history[0].values())
    assert result.checkpoints[0].is_file()


@pytest.fixture
def deterministic_ops():
    """TensorFlow ops in a fixed order while the test runs.

    Multi-threaded reductions otherwise sum in whatever order the threads
    finish, and a short training run from random weights can amplify those
    last-bit differences into a different result.
    """
    import tensorflow as tf
    from tensorflow.python.framework import config

    was_on = config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_on:
        config.disable_op_determinism()


@pytest.mark.slow
def test_train_learns_a_shape(tmp_path, deterministic_ops):
    """Loss falls, the checkpoint reloads, and detection finds the trained shape."""
    import imageio.v3 as iio
    import tf_keras

    from napari_boostseg.mrcnn import clear_model_cache, load_model, train

    tf_keras.utils.set_random_seed(0)
    data = tmp_path / "data"
    boxes = write_shapes(data, n=4, size=64)
    cfg = tiny_config(detection_min_confidence=0.5)
    events = []
    result = train(cfg, data, tmp_path / "runs", epochs=3, layers="heads", steps_per_epoch=18,
                   learning_rate=0.001, optimizer="adam", val_fraction=0.25, progress=events.append,
                   verbose=False, seed=0)
    history = result.history
    assert len(history) == 3 and history[-1]["loss"] < 0.6 * history[0]["loss"]
    assert all("val_loss" in h for h in history)
    assert [c.name for c in result.checkpoints] == [f"mask_rcnn_tiny_{e:04d}.h5" for e in (1, 2, 3)]
    assert result.log_dir.name.startswith("tiny") and len(result.log_dir.name) == len("tiny") + 15
    with open(result.log_dir / "loss_log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] and float(rows[0]["val_loss"]) > 0
    phases = [e.phase for e in events]
    assert phases.count("train") == 54 and phases.count("epoch") == 3 and "val" in phases
    assert events[-1].checkpoint == result.checkpoints[-1]

    clear_model_cache()
    model = load_model(result.checkpoints[-1])
    # The shape must be found in the four images (three trained on, one held out),
    # allowing one miss as a 54-step run from random weights is short, with a
    # mask that covers it.
    ious = []
    for i, box in enumerate(boxes):
        image = iio.imread(data / "images" / f"shape{i}.png")
        d = model.detect([image])[0]
        iou = box_overlaps(d.boxes[:1], np.array([box]))[0, 0] if len(d) else 0.0
        ious.append(iou)
        if iou > 0.5:
            truth = np.zeros(image.shape[:2], bool)
            truth[box[0]:box[2], box[1]:box[3]] = True
            assert (d.masks[0] & truth).sum() / (d.masks[0] | truth).sum() > 0.3
    assert sum(iou > 0.5 for iou in ious) >= 3, ious

    # Resuming continues at the next epoch in the same folder.
    more = train(cfg, data, tmp_path / "runs", epochs=4, layers="heads", steps_per_epoch=2,
                 optimizer="adam", learning_rate=0.0005, resume=True, verbose=False)
    assert more.log_dir == result.log_dir
    assert [c.name for c in more.checkpoints] == ["mask_rcnn_tiny_0004.h5"]
    with open(result.log_dir / "loss_log.csv") as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4]


def test_train_argument_errors(tmp_path):
    from napari_boostseg.mrcnn import train

    write_shapes(tmp_path / "d", n=1, size=32)
    cfg = tiny_config()
    with pytest.raises(ValueError, match="epochs"):
        train(cfg, tmp_path / "d", tmp_path / "o", epochs=0)
    with pytest.raises(ValueError, match="lr_schedule"):
        train(cfg, tmp_path / "d", tmp_path / "o", epochs=1, lr_schedule="linear")
    with pytest.raises(ValueError, match="valid regular expression"):
        train(cfg, tmp_path / "d", tmp_path / "o", epochs=1, layers="(res")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(cfg, tmp_path / "d", tmp_path / "o", epochs=1, resume=True)


def test_learning_rate_schedules():
    from napari_boostseg.mrcnn.training import learning_rate_at

    assert [learning_rate_at(e, 6, 1.0, "step") for e in range(6)] == [1, 1, 1, 1, 0.1, 0.1]
    assert learning_rate_at(0, 4, 1.0, "cosine") == 1.0 and learning_rate_at(2, 4, 1.0, "cosine") == pytest.approx(0.5)
    assert learning_rate_at(3, 4, 1.0, lambda e: 0.5**e) == 0.125


def test_prepare_sample_without_instances():
    """A photo with nothing annotated is a valid background-only example."""
    cfg = tiny_config()
    s = prepare_sample(np.zeros((40, 30, 3), np.uint8), np.zeros((40, 30, 0), bool), np.zeros(0, np.int32),
                       cfg, np.random.default_rng(0), augment="horizontal")
    assert s.gt_masks.shape == (64, 64, 4) and not s.gt_masks.any()
    assert not s.gt_class_ids.any() and (s.rpn_match == 1).sum() == 0


def test_a_new_run_never_reuses_a_run_folder(tmp_path):
    from napari_boostseg.mrcnn.training import find_last_checkpoint, new_run_folder

    # Runs started within one second (and one minute) get folders of their own.
    folders = [new_run_folder(tmp_path / "runs", "tiny") for _ in range(3)]
    assert len(set(folders)) == 3 and all(f.is_dir() and not any(f.iterdir()) for f in folders)
    # Resuming finds the newest run's newest checkpoint, also in a minute-named folder of old.
    old = tmp_path / "runs" / "tiny20250101T0900"
    old.mkdir()
    (old / "mask_rcnn_tiny_0007.h5").write_bytes(b"")
    (folders[0] / "mask_rcnn_tiny_0001.h5").write_bytes(b"")
    (folders[2] / "mask_rcnn_tiny_0002.h5").write_bytes(b"")
    assert find_last_checkpoint(tmp_path / "runs", "tiny") == folders[2] / "mask_rcnn_tiny_0002.h5"
