"""Anchor boxes of the region proposal network."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .boxes import norm_boxes
from .config import MaskRCNNConfig

__all__ = ["backbone_shapes", "level_anchors", "pyramid_anchors", "anchors_for_shape"]


def backbone_shapes(image_shape: tuple[int, int], strides: tuple[int, ...]) -> list[tuple[int, int]]:
    """Feature-map size (rows, cols) of each pyramid level for a molded image size."""
    return [
        (int(math.ceil(image_shape[0] / s)), int(math.ceil(image_shape[1] / s)))
        for s in strides
    ]


def level_anchors(
    scale: float,
    ratios: tuple[float, ...],
    feature_shape: tuple[int, int],
    feature_stride: int,
    anchor_stride: int,
) -> np.ndarray:
    """Pixel anchors of one pyramid level.

    Parameters
    ----------
    scale : float
        Anchor side length in pixels (for ratio 1).
    ratios : tuple of float
        Width / height ratios; each keeps the area ``scale**2``.
    feature_shape : (rows, cols)
        Feature-map size of the level.
    feature_stride : int
        Pixels per feature-map cell.
    anchor_stride : int
        Place anchors on every ``anchor_stride``-th cell.

    Returns
    -------
    (rows * cols * len(ratios), 4) float64 array
        Boxes ``(y1, x1, y2, x2)`` ordered by row, then column, then ratio:
        the order in which the RPN head emits its outputs.
    """
    ratios_arr = np.asarray(ratios, dtype=np.float64)
    heights = scale / np.sqrt(ratios_arr)
    widths = scale * np.sqrt(ratios_arr)
    ys = np.arange(0, feature_shape[0], anchor_stride) * feature_stride
    xs = np.arange(0, feature_shape[1], anchor_stride) * feature_stride
    cy, cx = np.meshgrid(ys, xs, indexing="ij")
    cy = np.repeat(cy.reshape(-1, 1), len(ratios_arr), axis=1)
    cx = np.repeat(cx.reshape(-1, 1), len(ratios_arr), axis=1)
    h = np.broadcast_to(heights, cy.shape)
    w = np.broadcast_to(widths, cx.shape)
    boxes = np.stack([cy - 0.5 * h, cx - 0.5 * w, cy + 0.5 * h, cx + 0.5 * w], axis=-1)
    return boxes.reshape(-1, 4)


def pyramid_anchors(
    scales: tuple[float, ...],
    ratios: tuple[float, ...],
    feature_shapes: list[tuple[int, int]],
    feature_strides: tuple[int, ...],
    anchor_stride: int,
) -> np.ndarray:
    """Pixel anchors of all pyramid levels, concatenated from P2 to P6."""
    return np.concatenate(
        [
            level_anchors(scale, ratios, shape, stride, anchor_stride)
            for scale, shape, stride in zip(scales, feature_shapes, feature_strides)
        ],
        axis=0,
    )


@lru_cache(maxsize=8)
def _anchors_cached(config: MaskRCNNConfig, image_shape: tuple[int, int]) -> np.ndarray:
    shapes = backbone_shapes(image_shape, config.backbone_strides)
    anchors = pyramid_anchors(
        config.rpn_anchor_scales,
        config.rpn_anchor_ratios,
        shapes,
        config.backbone_strides,
        config.rpn_anchor_stride,
    )
    out = norm_boxes(anchors, image_shape)
    out.setflags(write=False)
    return out


def anchors_for_shape(config: MaskRCNNConfig, image_shape: tuple[int, int]) -> np.ndarray:
    """Normalised anchors for a molded image of ``image_shape`` (rows, cols).

    Returns a read-only (A, 4) float32 array; 261,888 anchors at 1024x1024.
    """
    return _anchors_cached(config, (int(image_shape[0]), int(image_shape[1])))
