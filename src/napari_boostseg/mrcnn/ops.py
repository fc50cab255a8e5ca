"""TensorFlow building blocks between the network layers.

Proposal selection, pyramid ROIAlign and detection refinement, written with
TF 2 operations. Boxes are normalised ``(y1, x1, y2, x2)`` (see
:mod:`napari_boostseg.mrcnn.boxes`). This module imports TensorFlow; it is
only imported when a model is built.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "apply_box_deltas",
    "clip_boxes",
    "proposals",
    "pyramid_roi_align",
    "refine_detections",
    "box_iou",
    "box_refinement",
]


def apply_box_deltas(boxes: tf.Tensor, deltas: tf.Tensor) -> tf.Tensor:
    """Apply ``(dy, dx, log dh, log dw)`` deltas to (..., 4) boxes."""
    h = boxes[..., 2] - boxes[..., 0]
    w = boxes[..., 3] - boxes[..., 1]
    cy = boxes[..., 0] + 0.5 * h + deltas[..., 0] * h
    cx = boxes[..., 1] + 0.5 * w + deltas[..., 1] * w
    h = h * tf.exp(deltas[..., 2])
    w = w * tf.exp(deltas[..., 3])
    y1 = cy - 0.5 * h
    x1 = cx - 0.5 * w
    return tf.stack([y1, x1, y1 + h, x1 + w], axis=-1)


def clip_boxes(boxes: tf.Tensor, window: tf.Tensor) -> tf.Tensor:
    """Clip (..., 4) boxes to a window ``(y1, x1, y2, x2)``."""
    wy1, wx1, wy2, wx2 = tf.unstack(window)
    y1 = tf.clip_by_value(boxes[..., 0], wy1, wy2)
    x1 = tf.clip_by_value(boxes[..., 1], wx1, wx2)
    y2 = tf.clip_by_value(boxes[..., 2], wy1, wy2)
    x2 = tf.clip_by_value(boxes[..., 3], wx1, wx2)
    return tf.stack([y1, x1, y2, x2], axis=-1)


def _proposals_one(scores, deltas, anchors, pre_nms_limit, count, nms_threshold):
    k = tf.minimum(pre_nms_limit, tf.shape(anchors)[0])
    top_scores, idx = tf.math.top_k(scores, k=k, sorted=True)
    boxes = apply_box_deltas(tf.gather(anchors, idx), tf.gather(deltas, idx))
    boxes = clip_boxes(boxes, tf.constant([0.0, 0.0, 1.0, 1.0]))
    keep = tf.image.non_max_suppression(boxes, top_scores, count, nms_threshold)
    boxes = tf.gather(boxes, keep)
    pad = tf.maximum(count - tf.shape(boxes)[0], 0)
    return tf.pad(boxes, [[0, pad], [0, 0]])


def proposals(
    rpn_probs: tf.Tensor,
    rpn_deltas: tf.Tensor,
    anchors: tf.Tensor,
    *,
    count: int,
    pre_nms_limit: int,
    nms_threshold: float,
    rpn_bbox_std_dev,
) -> tf.Tensor:
    """Region proposals from the RPN output.

    Parameters
    ----------
    rpn_probs : (B, A, 2) tensor
        Background / foreground probabilities per anchor.
    rpn_deltas : (B, A, 4) tensor
        Box deltas per anchor (before scaling by ``rpn_bbox_std_dev``).
    anchors : (A, 4) tensor
        Normalised anchors.
    count : int
        Proposals per image after NMS; missing ones are zero boxes.

    Returns
    -------
    (B, count, 4) tensor of normalised boxes.
    """
    scores = rpn_probs[:, :, 1]
    deltas = rpn_deltas * tf.reshape(tf.constant(rpn_bbox_std_dev, tf.float32), [1, 1, 4])

    def one(args):
        s, d = args
        return _proposals_one(s, d, anchors, pre_nms_limit, count, nms_threshold)

    out = tf.map_fn(one, (scores, deltas), fn_output_signature=tf.TensorSpec([None, 4], tf.float32))
    return tf.reshape(out, [-1, count, 4])


def pyramid_roi_align(
    boxes: tf.Tensor,
    feature_maps: list[tf.Tensor],
    pool_size: int,
    image_shape: tf.Tensor,
) -> tf.Tensor:
    """Crop and resize each box from the pyramid level that suits its size.

    Parameters
    ----------
    boxes : (B, N, 4) tensor
        Normalised boxes.
    feature_maps : list of 4 tensors
        P2..P5, each (B, h, w, C).
    pool_size : int
        Output side length.
    image_shape : (2,) tensor
        Molded image rows and cols, for the level assignment.

    Returns
    -------
    (B, N, pool_size, pool_size, C) tensor.
    """
    y1, x1, y2, x2 = tf.split(boxes, 4, axis=2)
    h = y2 - y1
    w = x2 - x1
    image_area = tf.cast(image_shape[0] * image_shape[1], tf.float32)
    # A 224x224 box (ImageNet size) maps to P4; every factor 2 moves one level.
    level = tf.math.log(tf.sqrt(h * w) / (224.0 / tf.sqrt(image_area))) / tf.math.log(2.0)
    level = tf.minimum(5, tf.maximum(2, 4 + tf.cast(tf.round(level), tf.int32)))
    level = tf.squeeze(level, 2)

    pooled = []
    order = []
    for i, lvl in enumerate(range(2, 6)):
        ix = tf.where(tf.equal(level, lvl))
        level_boxes = tf.stop_gradient(tf.gather_nd(boxes, ix))
        box_indices = tf.stop_gradient(tf.cast(ix[:, 0], tf.int32))
        order.append(ix)
        pooled.append(
            tf.image.crop_and_resize(
                feature_maps[i], level_boxes, box_indices, [pool_size, pool_size], method="bilinear"
            )
        )
    pooled = tf.concat(pooled, axis=0)
    order = tf.concat(order, axis=0)
    # Put the crops back into (batch, box) order.
    n = tf.shape(boxes)[1]
    flat = tf.cast(order[:, 0], tf.int32) * n + tf.cast(order[:, 1], tf.int32)
    pooled = tf.scatter_nd(
        flat[:, None], pooled, tf.concat([[tf.shape(boxes)[0] * n], tf.shape(pooled)[1:]], 0)
    )
    return tf.reshape(
        pooled, tf.concat([tf.shape(boxes)[:2], [pool_size, pool_size, tf.shape(pooled)[-1]]], 0)
    )


def _refine_one(rois, probs, deltas, window, *, bbox_std_dev, min_confidence, nms_threshold, max_instances):
    class_ids = tf.argmax(probs, axis=1, output_type=tf.int32)
    idx = tf.stack([tf.range(tf.shape(probs)[0]), class_ids], axis=1)
    scores = tf.gather_nd(probs, idx)
    specific = tf.gather_nd(deltas, idx) * tf.constant(bbox_std_dev, tf.float32)
    refined = clip_boxes(apply_box_deltas(rois, specific), window)

    keep = class_ids > 0
    if min_confidence > 0:
        keep = tf.logical_and(keep, scores >= min_confidence)
    keep_ix = tf.where(keep)[:, 0]
    boxes_k = tf.gather(refined, keep_ix)
    scores_k = tf.gather(scores, keep_ix)
    classes_k = tf.gather(class_ids, keep_ix)
    # Per-class NMS in one call: boxes of different classes are moved apart
    # (normalised boxes lie in [0, 1]) so that they never suppress each other.
    offset = tf.cast(classes_k, tf.float32)[:, None] * 2.0
    sel = tf.image.non_max_suppression(boxes_k + offset, scores_k, max_instances, nms_threshold)
    out = tf.concat(
        [
            tf.gather(boxes_k, sel),
            tf.cast(tf.gather(classes_k, sel), tf.float32)[:, None],
            tf.gather(scores_k, sel)[:, None],
        ],
        axis=1,
    )
    pad = max_instances - tf.shape(out)[0]
    return tf.pad(out, [[0, pad], [0, 0]])


def refine_detections(
    rois: tf.Tensor,
    probs: tf.Tensor,
    deltas: tf.Tensor,
    windows: tf.Tensor,
    *,
    bbox_std_dev,
    min_confidence: float,
    nms_threshold: float,
    max_instances: int,
) -> tf.Tensor:
    """Final detections from classified ROIs.

    Parameters
    ----------
    rois : (B, N, 4) tensor
    probs : (B, N, C) tensor
    deltas : (B, N, C, 4) tensor
    windows : (B, 4) tensor
        Normalised image window (non-padding area) per image.

    Returns
    -------
    (B, max_instances, 6) tensor
        ``(y1, x1, y2, x2, class_id, score)`` sorted by descending score,
        zero rows after the last detection.
    """

    def one(args):
        r, p, d, w = args
        return _refine_one(
            r, p, d, w,
            bbox_std_dev=bbox_std_dev,
            min_confidence=min_confidence,
            nms_threshold=nms_threshold,
            max_instances=max_instances,
        )

    out = tf.map_fn(one, (rois, probs, deltas, windows), fn_output_signature=tf.TensorSpec([None, 6], tf.float32))
    return tf.reshape(out, [-1, max_instances, 6])


def box_iou(boxes1: tf.Tensor, boxes2: tf.Tensor) -> tf.Tensor:
    """(N, M) IoU between (N, 4) and (M, 4) boxes."""
    b1 = boxes1[:, None, :]
    b2 = boxes2[None, :, :]
    y1 = tf.maximum(b1[..., 0], b2[..., 0])
    x1 = tf.maximum(b1[..., 1], b2[..., 1])
    y2 = tf.minimum(b1[..., 2], b2[..., 2])
    x2 = tf.minimum(b1[..., 3], b2[..., 3])
    inter = tf.maximum(y2 - y1, 0.0) * tf.maximum(x2 - x1, 0.0)
    a1 = (b1[..., 2] - b1[..., 0]) * (b1[..., 3] - b1[..., 1])
    a2 = (b2[..., 2] - b2[..., 0]) * (b2[..., 3] - b2[..., 1])
    union = a1 + a2 - inter
    return tf.math.divide_no_nan(inter, union)


def box_refinement(boxes: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Deltas ``(dy, dx, log dh, log dw)`` that move (N, 4) ``boxes`` onto ``targets``."""
    h = boxes[:, 2] - boxes[:, 0]
    w = boxes[:, 3] - boxes[:, 1]
    cy = boxes[:, 0] + 0.5 * h
    cx = boxes[:, 1] + 0.5 * w
    th = targets[:, 2] - targets[:, 0]
    tw = targets[:, 3] - targets[:, 1]
    tcy = targets[:, 0] + 0.5 * th
    tcx = targets[:, 1] + 0.5 * tw
    return tf.stack(
        [(tcy - cy) / h, (tcx - cx) / w, tf.math.log(th / h), tf.math.log(tw / w)], axis=1
    )
