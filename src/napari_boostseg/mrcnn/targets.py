"""Training targets: anchor labels for the RPN (NumPy) and ROI targets for the heads (TF).

The sampling rules are those of the reference implementation.
"""

from __future__ import annotations

import numpy as np

from .boxes import box_deltas, box_overlaps
from .config import MaskRCNNConfig

__all__ = ["rpn_targets", "detection_targets"]


def rpn_targets(
    anchors: np.ndarray,
    gt_boxes: np.ndarray,
    config: MaskRCNNConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Label anchors and compute their box targets.

    Parameters
    ----------
    anchors : (A, 4) array
        Pixel anchors of the molded image.
    gt_boxes : (G, 4) array
        Pixel ground-truth boxes in the molded image.
    config : MaskRCNNConfig
        Uses ``rpn_train_anchors_per_image`` and ``rpn_bbox_std_dev``.
    rng : numpy Generator
        For subsampling.

    Returns
    -------
    match : (A,) int32 array
        1 positive, -1 negative, 0 ignored. An anchor is positive if its IoU
        with a ground-truth box is >= 0.7 or it is that box's best anchor,
        negative if its best IoU is < 0.3. At most half of the
        ``rpn_train_anchors_per_image`` samples are positive; negatives fill
        the rest.
    deltas : (rpn_train_anchors_per_image, 4) float32 array
        Box targets of the positive anchors in anchor order, divided by
        ``rpn_bbox_std_dev``; zero rows after them.
    """
    n = config.rpn_train_anchors_per_image
    match = np.zeros(len(anchors), dtype=np.int32)
    deltas = np.zeros((n, 4), dtype=np.float32)
    if len(gt_boxes) == 0:
        match[:] = -1
        _subsample(match, -1, n, rng)
        return match, deltas
    overlaps = box_overlaps(anchors, gt_boxes)
    best_gt = np.argmax(overlaps, axis=1)
    best_iou = overlaps[np.arange(len(anchors)), best_gt]
    match[best_iou < 0.3] = -1
    # Every box gets at least its best anchor(s), however low the IoU.
    col_max = overlaps.max(axis=0)
    best_anchors = np.nonzero((overlaps == col_max[None, :]) & (col_max[None, :] > 0))[0]
    match[best_anchors] = 1
    match[best_iou >= 0.7] = 1
    _subsample(match, 1, n // 2, rng)
    n_neg = n - int(np.sum(match == 1))
    _subsample(match, -1, n_neg, rng)
    pos = np.flatnonzero(match == 1)
    if len(pos):
        d = box_deltas(anchors[pos], gt_boxes[best_gt[pos]])
        deltas[: len(pos)] = d / np.asarray(config.rpn_bbox_std_dev, dtype=np.float32)
    return match, deltas


def _subsample(match: np.ndarray, value: int, limit: int, rng: np.random.Generator) -> None:
    idx = np.flatnonzero(match == value)
    if len(idx) > limit:
        drop = rng.choice(idx, len(idx) - limit, replace=False)
        match[drop] = 0


def detection_targets(proposals, gt_class_ids, gt_boxes, gt_masks, config: MaskRCNNConfig):
    """Sample ROIs for one image and give each its class, box and mask target.

    TensorFlow function (imports TensorFlow on call).

    Parameters
    ----------
    proposals : (P, 4) tensor
        Normalised proposals, zero rows are padding.
    gt_class_ids : (G,) int tensor
        Zero entries are padding.
    gt_boxes : (G, 4) tensor
        Normalised boxes.
    gt_masks : (H, W, G) tensor
        Boolean instance masks of the molded image.

    Returns
    -------
    rois : (T, 4) tensor
        T = ``train_rois_per_image``: positives (IoU >= 0.5 with a ground-truth
        box, at most ``roi_positive_ratio`` of T), then negatives (IoU < 0.5),
        then zero padding.
    class_ids : (T,) int32 tensor
    deltas : (T, 4) tensor
        Box targets divided by ``bbox_std_dev``.
    masks : (T, 28, 28) float tensor
        Mask targets (0 or 1), cropped from the ground truth by each ROI.
    """
    import tensorflow as tf

    from .ops import box_iou, box_refinement

    t = config.train_rois_per_image
    valid_p = tf.reduce_sum(tf.abs(proposals), axis=1) > 0
    proposals = tf.boolean_mask(proposals, valid_p)
    valid_g = gt_class_ids > 0
    gt_boxes = tf.boolean_mask(gt_boxes, valid_g)
    gt_class_ids = tf.boolean_mask(gt_class_ids, valid_g)
    gt_masks = tf.boolean_mask(gt_masks, valid_g, axis=2)

    overlaps = box_iou(proposals, gt_boxes)
    max_iou = tf.reduce_max(tf.concat([overlaps, tf.zeros_like(overlaps[:, :1])], axis=1), axis=1)
    positive = tf.where(max_iou >= 0.5)[:, 0]
    negative = tf.where(max_iou < 0.5)[:, 0]
    n_pos_max = int(t * config.roi_positive_ratio)
    positive = tf.random.shuffle(positive)[:n_pos_max]
    n_pos = tf.shape(positive)[0]
    n_neg = tf.cast(tf.cast(n_pos, tf.float32) / config.roi_positive_ratio, tf.int32) - n_pos
    # With no positive ROI the reference ratio gives no negatives either;
    # keep the classifier learning background by sampling some anyway.
    n_neg = tf.where(n_pos > 0, n_neg, t - n_pos_max)
    negative = tf.random.shuffle(negative)[:n_neg]

    pos_rois = tf.gather(proposals, positive)
    neg_rois = tf.gather(proposals, negative)
    pos_overlaps = tf.gather(overlaps, positive)
    assignment = tf.cond(
        tf.shape(pos_overlaps)[1] > 0,
        lambda: tf.argmax(pos_overlaps, axis=1, output_type=tf.int32),
        lambda: tf.zeros([tf.shape(pos_overlaps)[0]], tf.int32),
    )
    roi_boxes = tf.gather(gt_boxes, assignment)
    roi_classes = tf.gather(gt_class_ids, assignment)
    deltas = box_refinement(pos_rois, roi_boxes) / tf.constant(config.bbox_std_dev, tf.float32)

    masks = tf.transpose(tf.cast(gt_masks, tf.float32), [2, 0, 1])[..., None]
    roi_masks = tf.gather(masks, assignment)
    mh, mw = config.mask_shape
    crops = tf.image.crop_and_resize(roi_masks, pos_rois, tf.range(tf.shape(pos_rois)[0]), [mh, mw])
    crops = tf.round(tf.squeeze(crops, 3))

    rois = tf.concat([pos_rois, neg_rois], axis=0)
    n_neg = tf.shape(neg_rois)[0]
    pad = tf.maximum(t - tf.shape(rois)[0], 0)
    rois = tf.pad(rois, [[0, pad], [0, 0]])
    roi_classes = tf.pad(tf.cast(roi_classes, tf.int32), [[0, n_neg + pad]])
    deltas = tf.pad(deltas, [[0, n_neg + pad], [0, 0]])
    crops = tf.pad(crops, [[0, n_neg + pad], [0, 0], [0, 0]])
    return (
        tf.reshape(rois, [t, 4]),
        tf.reshape(roi_classes, [t]),
        tf.reshape(deltas, [t, 4]),
        tf.reshape(crops, [t, mh, mw]),
    )
