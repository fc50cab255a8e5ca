"""Test data shared by the Mask R-CNN tests: a tiny configuration and generated shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_boostseg.mrcnn import MaskRCNNConfig


def tiny_config(**changes) -> MaskRCNNConfig:
    """A ResNet-50 configuration small enough for CPU tests."""
    base = dict(
        name="tiny",
        class_names=("BG", "box"),
        backbone="resnet50",
        image_min_dim=64,
        image_max_dim=64,
        rpn_anchor_scales=(8, 16, 32, 64, 128),
        rpn_train_anchors_per_image=64,
        pre_nms_limit=500,
        post_nms_rois_training=100,
        post_nms_rois_inference=50,
        train_rois_per_image=16,
        fpn_classif_fc_layers_size=128,
        max_gt_instances=4,
        detection_max_instances=10,
        images_per_batch=2,
    )
    base.update(changes)
    return MaskRCNNConfig(**base)


def write_shapes(root: Path, n: int = 3, size: int = 64, seed: int = 0) -> list[tuple[int, int, int, int]]:
    """Write ``n`` images with one bright rectangle each and their label images.

    Returns the rectangles as pixel boxes (y1, x1, y2, x2), y2/x2 exclusive.
    """
    import imageio.v3 as iio

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    boxes = []
    for i in range(n):
        image = np.full((size, size, 3), 30, np.uint8)
        labels = np.zeros((size, size), np.uint16)
        h, w = rng.integers(size // 3, size // 2, 2)
        y, x = rng.integers(4, size - max(h, w) - 4, 2)
        image[y : y + h, x : x + w] = (220, 180, 60)
        labels[y : y + h, x : x + w] = 1
        image = np.clip(image + rng.normal(0, 5, image.shape), 0, 255).astype(np.uint8)
        iio.imwrite(root / "images" / f"shape{i}.png", image)
        iio.imwrite(root / "labels" / f"shape{i}.png", labels)
        boxes.append((int(y), int(x), int(y + h), int(x + w)))
    return boxes
