"""The five Mask R-CNN losses (TensorFlow), as the reference defines them."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["smooth_l1", "rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss", "mrcnn_bbox_loss", "mrcnn_mask_loss"]


def smooth_l1(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Element-wise smooth L1 (Huber with delta 1)."""
    diff = tf.abs(y_true - y_pred)
    return tf.where(diff < 1.0, 0.5 * diff**2, diff - 0.5)


def _mean_or_zero(x: tf.Tensor) -> tf.Tensor:
    return tf.cond(tf.size(x) > 0, lambda: tf.reduce_mean(x), lambda: tf.constant(0.0))


def rpn_class_loss(rpn_match: tf.Tensor, rpn_logits: tf.Tensor) -> tf.Tensor:
    """Cross-entropy of anchor foreground/background over non-ignored anchors.

    rpn_match : (B, A) int, 1 / -1 / 0; rpn_logits : (B, A, 2).
    """
    idx = tf.where(tf.not_equal(rpn_match, 0))
    labels = tf.cast(tf.equal(tf.gather_nd(rpn_match, idx), 1), tf.int32)
    logits = tf.gather_nd(rpn_logits, idx)
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return _mean_or_zero(loss)


def rpn_bbox_loss(target_deltas: tf.Tensor, rpn_match: tf.Tensor, rpn_deltas: tf.Tensor) -> tf.Tensor:
    """Smooth L1 of positive anchors' deltas.

    target_deltas : (B, N, 4), the positives' targets packed first per image;
    rpn_match : (B, A); rpn_deltas : (B, A, 4).
    """
    positive = tf.equal(rpn_match, 1)
    pred = tf.gather_nd(rpn_deltas, tf.where(positive))
    counts = tf.reduce_sum(tf.cast(positive, tf.int32), axis=1)
    n = tf.shape(target_deltas)[1]
    packed_mask = tf.range(n)[None, :] < tf.minimum(counts, n)[:, None]
    target = tf.boolean_mask(target_deltas, packed_mask)
    # Images with more positives than target rows cannot occur (sampling caps them).
    return _mean_or_zero(smooth_l1(target, pred[: tf.shape(target)[0]]))


def mrcnn_class_loss(target_class_ids: tf.Tensor, class_logits: tf.Tensor) -> tf.Tensor:
    """Cross-entropy of ROI classes, averaged over all sampled ROIs.

    target_class_ids : (B, T) int; class_logits : (B, T, C).
    """
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(target_class_ids, tf.int32), logits=class_logits
    )
    return tf.reduce_mean(loss)


def mrcnn_bbox_loss(target_deltas: tf.Tensor, target_class_ids: tf.Tensor, pred_deltas: tf.Tensor) -> tf.Tensor:
    """Smooth L1 of the true class's deltas over positive ROIs.

    target_deltas : (B, T, 4); target_class_ids : (B, T); pred_deltas : (B, T, C, 4).
    """
    ids = tf.reshape(tf.cast(target_class_ids, tf.int32), [-1])
    target = tf.reshape(target_deltas, [-1, 4])
    pred = tf.reshape(pred_deltas, [-1, tf.shape(pred_deltas)[2], 4])
    pos = tf.where(ids > 0)[:, 0]
    idx = tf.stack([tf.cast(pos, tf.int32), tf.gather(ids, pos)], axis=1)
    return _mean_or_zero(smooth_l1(tf.gather(target, pos), tf.gather_nd(pred, idx)))


def mrcnn_mask_loss(target_masks: tf.Tensor, target_class_ids: tf.Tensor, pred_masks: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy of the true class's mask over positive ROIs.

    target_masks : (B, T, h, w); target_class_ids : (B, T); pred_masks : (B, T, h, w, C).
    """
    ids = tf.reshape(tf.cast(target_class_ids, tf.int32), [-1])
    shape = tf.shape(target_masks)
    target = tf.reshape(target_masks, [-1, shape[2], shape[3]])
    pred = tf.transpose(tf.reshape(pred_masks, [-1, shape[2], shape[3], tf.shape(pred_masks)[4]]), [0, 3, 1, 2])
    pos = tf.where(ids > 0)[:, 0]
    idx = tf.stack([tf.cast(pos, tf.int32), tf.gather(ids, pos)], axis=1)
    y_true = tf.gather(target, pos)
    y_pred = tf.clip_by_value(tf.gather_nd(pred, idx), 1e-7, 1.0 - 1e-7)
    bce = -(y_true * tf.math.log(y_pred) + (1.0 - y_true) * tf.math.log(1.0 - y_pred))
    return _mean_or_zero(bce)
