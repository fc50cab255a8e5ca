"""Box arithmetic in NumPy: normalisation, overlaps and regression deltas.

Boxes are ``(y1, x1, y2, x2)`` with ``y2``/``x2`` exclusive in pixel
coordinates. Normalised boxes map pixel ``0`` to ``0.0`` and pixel ``size - 1``
to ``1.0`` (the reference convention, which the trained weights assume).
"""

from __future__ import annotations

import numpy as np

__all__ = ["norm_boxes", "denorm_boxes", "box_overlaps", "box_deltas", "apply_box_deltas"]


def _scale_shift(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    h, w = int(shape[0]), int(shape[1])
    if h < 2 or w < 2:
        raise ValueError(f"Image shape must be at least 2x2 pixels, got {h}x{w}.")
    scale = np.array([h - 1, w - 1, h - 1, w - 1], dtype=np.float64)
    shift = np.array([0, 0, 1, 1], dtype=np.float64)
    return scale, shift


def norm_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Convert pixel boxes to normalised coordinates.

    Parameters
    ----------
    boxes : (N, 4) array
        Pixel boxes ``(y1, x1, y2, x2)``, ``y2``/``x2`` exclusive.
    shape : (height, width)
        Image size in pixels.

    Returns
    -------
    (N, 4) float32 array
        Boxes in [0, 1] for boxes inside the image.
    """
    scale, shift = _scale_shift(shape)
    return ((np.asarray(boxes, dtype=np.float64) - shift) / scale).astype(np.float32)


def denorm_boxes(boxes: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Convert normalised boxes back to integer pixel boxes (rounded).

    Inverse of :func:`norm_boxes` for integer input boxes.
    """
    scale, shift = _scale_shift(shape)
    return np.around(np.asarray(boxes, dtype=np.float64) * scale + shift).astype(np.int32)


def box_overlaps(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair of boxes.

    Parameters
    ----------
    boxes1 : (N, 4) array
    boxes2 : (M, 4) array

    Returns
    -------
    (N, M) float32 array of IoU values in [0, 1].
    """
    b1 = np.asarray(boxes1, dtype=np.float32).reshape(-1, 4)
    b2 = np.asarray(boxes2, dtype=np.float32).reshape(-1, 4)
    area1 = (b1[:, 2] - b1[:, 0]) * (b1[:, 3] - b1[:, 1])
    area2 = (b2[:, 2] - b2[:, 0]) * (b2[:, 3] - b2[:, 1])
    y1 = np.maximum(b1[:, None, 0], b2[None, :, 0])
    x1 = np.maximum(b1[:, None, 1], b2[None, :, 1])
    y2 = np.minimum(b1[:, None, 2], b2[None, :, 2])
    x2 = np.minimum(b1[:, None, 3], b2[None, :, 3])
    inter = np.clip(y2 - y1, 0, None) * np.clip(x2 - x1, 0, None)
    union = area1[:, None] + area2[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou.astype(np.float32)


def box_deltas(boxes: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Regression deltas ``(dy, dx, log dh, log dw)`` that move ``boxes`` onto ``targets``."""
    b = np.asarray(boxes, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64)
    h, w = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    th, tw = t[:, 2] - t[:, 0], t[:, 3] - t[:, 1]
    cy, cx = b[:, 0] + 0.5 * h, b[:, 1] + 0.5 * w
    tcy, tcx = t[:, 0] + 0.5 * th, t[:, 1] + 0.5 * tw
    return np.stack(
        [(tcy - cy) / h, (tcx - cx) / w, np.log(th / h), np.log(tw / w)], axis=1
    ).astype(np.float32)


def apply_box_deltas(boxes: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Apply ``(dy, dx, log dh, log dw)`` deltas to boxes (inverse of :func:`box_deltas`)."""
    b = np.asarray(boxes, dtype=np.float64)
    d = np.asarray(deltas, dtype=np.float64)
    h, w = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    cy, cx = b[:, 0] + 0.5 * h + d[:, 0] * h, b[:, 1] + 0.5 * w + d[:, 1] * w
    h, w = h * np.exp(d[:, 2]), w * np.exp(d[:, 3])
    y1, x1 = cy - 0.5 * h, cx - 0.5 * w
    return np.stack([y1, x1, y1 + h, x1 + w], axis=1).astype(np.float32)
