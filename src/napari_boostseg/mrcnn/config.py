"""Configuration of a Mask R-CNN model.

The defaults are those of the matterport Keras implementation, so that weights
trained with it behave the same here. Field names are the reference names in
lower case (``IMAGE_MAX_DIM`` -> ``image_max_dim``); :meth:`MaskRCNNConfig.from_dict`
also accepts the upper-case spelling of a reference config dump.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from typing import Any

__all__ = ["MaskRCNNConfig", "BACKBONES", "RESIZE_MODES"]

#: Supported backbones and their number of stage-4 blocks.
BACKBONES: dict[str, int] = {"resnet50": 6, "resnet101": 23}

#: Supported image resize modes (see :func:`napari_boostseg.mrcnn.molding.resize_image`).
RESIZE_MODES: tuple[str, ...] = ("square", "pad64")

# Fields whose JSON value is a list but which are stored as tuples so that
# the config stays hashable (it is part of the model cache key).
_TUPLE_FIELDS = (
    "class_names",
    "backbone_strides",
    "rpn_anchor_scales",
    "rpn_anchor_ratios",
    "mean_pixel",
    "rpn_bbox_std_dev",
    "bbox_std_dev",
    "mask_shape",
    "loss_weights",
)


@dataclass(frozen=True)
class MaskRCNNConfig:
    """Hyper-parameters of a Mask R-CNN model.

    All fields are validated on construction; a bad value raises ``ValueError``
    naming the field, the value and what is allowed.

    Parameters
    ----------
    name : str, default "mrcnn"
        Short name, used in checkpoint names ``mask_rcnn_<name>_<epoch>.h5``.
    class_names : tuple of str, default ("BG", "object")
        Class names, background first (must be ``"BG"``). The number of
        classes (``num_classes``) is derived from it and includes background.
    backbone : {"resnet50", "resnet101"}, default "resnet101"
        ResNet depth of the feature extractor.
    backbone_width : float, default 1.0
        Multiplier of every ResNet channel width, in (0, 1]. 1.0 is the
        reference network; 0.5 halves each stage's channels, which cuts the
        backbone's compute and weights about four-fold. Widths are rounded
        to multiples of 8. Weight files load only into the width they were
        trained with.
    image_min_dim : int, default 800
        Images are scaled up so that their short side is at least this many
        pixels (they are never scaled down for this bound).
    image_max_dim : int, default 1024
        Images are scaled down so that their long side is at most this many
        pixels, then zero-padded to a square of this size ("square" mode).
        Must be a multiple of 64.
    image_resize_mode : {"square", "pad64"}, default "square"
        "square": scale and pad to ``image_max_dim`` squared (one fixed input
        size). "pad64": scale up to ``image_min_dim`` only, then pad each side
        to a multiple of 64.
    image_min_scale : float, default 0.0
        Minimum up-scaling factor, applied before ``image_max_dim``.
    mean_pixel : tuple of 3 float, default (123.7, 116.8, 103.9)
        RGB mean subtracted from the image, in 0-255 units.
    backbone_strides : tuple of int, default (4, 8, 16, 32, 64)
        Strides of the pyramid levels P2..P6, in pixels. Fixed by the architecture.
    rpn_anchor_scales : tuple of 5 int, default (32, 64, 128, 256, 512)
        Anchor side length per pyramid level, in pixels of the molded image.
    rpn_anchor_ratios : tuple of float, default (0.5, 1, 2)
        Anchor width/height ratios.
    rpn_anchor_stride : int, default 1
        Anchor every this many feature-map cells.
    rpn_nms_threshold : float, default 0.7
        IoU threshold of the non-maximum suppression of proposals.
    rpn_train_anchors_per_image : int, default 256
        Anchors sampled per image for the RPN loss.
    pre_nms_limit : int, default 6000
        Top-scoring anchors kept before the proposal NMS.
    post_nms_rois_training, post_nms_rois_inference : int, default 2000, 1000
        Proposals kept after NMS.
    top_down_pyramid_size : int, default 256
        Channels of the FPN maps and of the mask head's convolutions; the
        RPN's shared convolution has twice as many. 256 in the reference
        weights; a multiple of 8.
    fpn_classif_fc_layers_size : int, default 1024
        Width of the two classifier "fully connected" (conv) layers.
    pool_size, mask_pool_size : int, default 7, 14
        ROIAlign output size of the classifier and the mask head.
    mask_shape : tuple of 2 int, default (28, 28)
        Mask head output size; must be twice ``mask_pool_size``.
    train_rois_per_image : int, default 200
        ROIs sampled per image for the classifier and mask heads in training.
    roi_positive_ratio : float, default 0.33
        Share of positive ROIs among the sampled ones.
    max_gt_instances : int, default 100
        Most ground-truth instances used per training image.
    rpn_bbox_std_dev, bbox_std_dev : tuple of 4 float
        Scale of the RPN and head box deltas, default (0.1, 0.1, 0.2, 0.2).
    detection_max_instances : int, default 100
        Most detections returned per image.
    detection_min_confidence : float, default 0.7
        Detections with a lower class score are dropped. In [0, 1].
    detection_nms_threshold : float, default 0.3
        IoU threshold of the per-class NMS of detections.
    images_per_batch : int, default 2
        Training batch size (the reference ``IMAGES_PER_GPU * GPU_COUNT``).
    steps_per_epoch, validation_steps : int, default 1000, 50
        Training and validation steps per epoch.
    learning_rate, learning_momentum : float, default 0.001, 0.9
        SGD learning rate and momentum.
    weight_decay : float, default 0.0001
        L2 regularisation of kernels (not of BatchNorm gamma/beta).
    gradient_clip_norm : float, default 5.0
        Gradients are clipped to this global norm.
    loss_weights : tuple of 5 float, default all 1.0
        Weights of (rpn_class, rpn_bbox, mrcnn_class, mrcnn_bbox, mrcnn_mask).
    train_bn : bool, default False
        Train BatchNorm layers. False freezes them, as the reference does for
        small batches.

    Examples
    --------
    >>> cfg = MaskRCNNConfig(name="garments", class_names=("BG", "garment"),
    ...                      backbone="resnet50", image_min_dim=128, image_max_dim=512)
    >>> cfg.num_classes
    2
    """

    name: str = "mrcnn"
    class_names: tuple[str, ...] = ("BG", "object")
    backbone: str = "resnet101"
    backbone_width: float = 1.0
    image_min_dim: int = 800
    image_max_dim: int = 1024
    image_resize_mode: str = "square"
    image_min_scale: float = 0.0
    mean_pixel: tuple[float, float, float] = (123.7, 116.8, 103.9)
    backbone_strides: tuple[int, ...] = (4, 8, 16, 32, 64)
    rpn_anchor_scales: tuple[int, ...] = (32, 64, 128, 256, 512)
    rpn_anchor_ratios: tuple[float, ...] = (0.5, 1.0, 2.0)
    rpn_anchor_stride: int = 1
    rpn_nms_threshold: float = 0.7
    rpn_train_anchors_per_image: int = 256
    pre_nms_limit: int = 6000
    post_nms_rois_training: int = 2000
    post_nms_rois_inference: int = 1000
    top_down_pyramid_size: int = 256
    fpn_classif_fc_layers_size: int = 1024
    pool_size: int = 7
    mask_pool_size: int = 14
    mask_shape: tuple[int, int] = (28, 28)
    train_rois_per_image: int = 200
    roi_positive_ratio: float = 0.33
    max_gt_instances: int = 100
    rpn_bbox_std_dev: tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2)
    bbox_std_dev: tuple[float, float, float, float] = (0.1, 0.1, 0.2, 0.2)
    detection_max_instances: int = 100
    detection_min_confidence: float = 0.7
    detection_nms_threshold: float = 0.3
    images_per_batch: int = 2
    steps_per_epoch: int = 1000
    validation_steps: int = 50
    learning_rate: float = 0.001
    learning_momentum: float = 0.9
    weight_decay: float = 0.0001
    gradient_clip_norm: float = 5.0
    loss_weights: tuple[float, float, float, float, float] = (1.0, 1.0, 1.0, 1.0, 1.0)
    train_bn: bool = False

    def __post_init__(self) -> None:
        # Normalise sequences to tuples so that lists from JSON compare and hash.
        for name in _TUPLE_FIELDS:
            value = getattr(self, name)
            if isinstance(value, str) or not hasattr(value, "__iter__"):
                raise ValueError(
                    f"MaskRCNNConfig.{name} must be a sequence, got {value!r}."
                )
            object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        self._validate()

    # ------------------------------------------------------------------ derived
    @property
    def num_classes(self) -> int:
        """Number of classes including background."""
        return len(self.class_names)

    @property
    def NUM_CLASSES(self) -> int:  # noqa: N802 - reference spelling
        """Alias of :attr:`num_classes` (reference spelling)."""
        return self.num_classes

    @property
    def anchors_per_location(self) -> int:
        """Anchors per feature-map cell (one per ratio)."""
        return len(self.rpn_anchor_ratios)

    @property
    def image_meta_size(self) -> int:
        """Length of the reference image meta vector: 12 + ``num_classes``."""
        return 12 + self.num_classes

    def channels(self, reference: int) -> int:
        """Channels of a backbone layer that has ``reference`` channels at width 1.0."""
        if self.backbone_width == 1:
            return reference
        return max(8, int(round(reference * self.backbone_width / 8)) * 8)

    @property
    def stage4_blocks(self) -> int:
        """Number of residual blocks in ResNet stage 4."""
        return BACKBONES[self.backbone]

    def replace(self, **changes: Any) -> MaskRCNNConfig:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # --------------------------------------------------------------- validation
    def _validate(self) -> None:
        def fail(field_name: str, problem: str) -> None:
            raise ValueError(
                f"MaskRCNNConfig.{field_name}={getattr(self, field_name)!r}: {problem}"
            )

        if not isinstance(self.name, str) or not self.name or any(
            c in self.name for c in "/\\:"
        ):
            fail("name", "must be a non-empty string without '/', '\\' or ':'.")
        if len(self.class_names) < 2:
            fail("class_names", "needs background plus at least one class, e.g. ('BG', 'garment').")
        if self.class_names[0] != "BG":
            fail("class_names", "the first class must be the background 'BG'.")
        if len(set(self.class_names)) != len(self.class_names):
            fail("class_names", "class names must be unique.")
        if self.backbone not in BACKBONES:
            fail("backbone", f"must be one of {sorted(BACKBONES)}.")
        if self.image_resize_mode not in RESIZE_MODES:
            fail("image_resize_mode", f"must be one of {list(RESIZE_MODES)}.")
        _positive_int(self, "image_min_dim", fail)
        _positive_int(self, "image_max_dim", fail)
        if self.image_resize_mode == "square":
            if self.image_max_dim % 64:
                fail("image_max_dim", "must be a multiple of 64 (the network halves it six times), e.g. 512 or 1024.")
            if self.image_min_dim > self.image_max_dim:
                fail("image_min_dim", f"must not exceed image_max_dim={self.image_max_dim}.")
        if not self.image_min_scale >= 0:
            fail("image_min_scale", "must be >= 0 (0 disables it).")
        if len(self.mean_pixel) != 3:
            fail("mean_pixel", "needs 3 values (R, G, B).")
        if tuple(self.backbone_strides) != (4, 8, 16, 32, 64):
            fail("backbone_strides", "is fixed by the ResNet-FPN architecture: (4, 8, 16, 32, 64).")
        if len(self.rpn_anchor_scales) != len(self.backbone_strides) or any(
            not s > 0 for s in self.rpn_anchor_scales
        ):
            fail("rpn_anchor_scales", "needs 5 positive sizes, one per pyramid level P2..P6.")
        if not self.rpn_anchor_ratios or any(not r > 0 for r in self.rpn_anchor_ratios):
            fail("rpn_anchor_ratios", "needs at least one positive ratio.")
        if len(self.rpn_anchor_ratios) != 3:
            # The RPN heads of the reference weights have 3 anchors per cell.
            fail("rpn_anchor_ratios", "needs exactly 3 ratios to match the RPN head (6 class and 12 box outputs).")
        for name in (
            "rpn_anchor_stride",
            "rpn_train_anchors_per_image",
            "pre_nms_limit",
            "post_nms_rois_training",
            "post_nms_rois_inference",
            "fpn_classif_fc_layers_size",
            "pool_size",
            "mask_pool_size",
            "train_rois_per_image",
            "max_gt_instances",
            "detection_max_instances",
            "images_per_batch",
            "steps_per_epoch",
            "validation_steps",
        ):
            _positive_int(self, name, fail)
        if (
            isinstance(self.top_down_pyramid_size, bool)
            or not isinstance(self.top_down_pyramid_size, int)
            or self.top_down_pyramid_size < 8
            or self.top_down_pyramid_size % 8
        ):
            fail("top_down_pyramid_size", "must be a positive multiple of 8 (256 in the reference weights).")
        if not (isinstance(self.backbone_width, (int, float)) and not isinstance(self.backbone_width, bool)
                and 0 < self.backbone_width <= 1):
            fail("backbone_width", "must be in (0, 1]; 1.0 is the reference ResNet.")
        if tuple(self.mask_shape) != (2 * self.mask_pool_size, 2 * self.mask_pool_size):
            fail("mask_shape", f"must be twice mask_pool_size: ({2 * self.mask_pool_size}, {2 * self.mask_pool_size}).")
        for name in ("rpn_nms_threshold", "detection_nms_threshold", "roi_positive_ratio"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value <= 1):
                fail(name, "must be in (0, 1].")
        if not (isinstance(self.detection_min_confidence, (int, float)) and 0 <= self.detection_min_confidence <= 1):
            fail("detection_min_confidence", "must be in [0, 1].")
        for name in ("rpn_bbox_std_dev", "bbox_std_dev"):
            value = getattr(self, name)
            if len(value) != 4 or any(not v > 0 for v in value):
                fail(name, "needs 4 positive values (dy, dx, dh, dw).")
        if len(self.loss_weights) != 5 or any(not w >= 0 for w in self.loss_weights):
            fail(
                "loss_weights",
                "needs 5 non-negative weights (rpn_class, rpn_bbox, mrcnn_class, mrcnn_bbox, mrcnn_mask).",
            )
        for name in ("learning_rate", "gradient_clip_norm"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                fail(name, "must be a positive number.")
        for name in ("learning_momentum", "weight_decay"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                fail(name, "must be a non-negative number.")
        if not isinstance(self.train_bn, bool):
            fail("train_bn", "must be True or False.")

    # ---------------------------------------------------------------------- I/O
    def to_dict(self) -> dict[str, Any]:
        """Fields as a JSON-compatible dict (lists for tuples)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MaskRCNNConfig:
        """Build a config from a dict of fields.

        Keys may be lower case (our JSON) or the reference upper case
        (``IMAGE_MAX_DIM``). ``NUM_CLASSES`` is checked against ``class_names``.
        Unknown keys raise ``ValueError`` so that typos do not pass silently.
        """
        if not isinstance(data, dict):
            raise ValueError(f"A config must be a JSON object (dict), got {type(data).__name__}.")
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        kwargs: dict[str, Any] = {}
        num_classes = None
        for key, value in data.items():
            low = str(key).lower()
            if low == "num_classes":
                num_classes = int(value)
                continue
            if low not in known:
                raise ValueError(
                    f"Unknown config field {key!r}. Known fields: {', '.join(sorted(known))}."
                )
            kwargs[low] = value
        if num_classes is not None and "class_names" not in kwargs:
            raise ValueError(
                f"The config gives NUM_CLASSES={num_classes} but no class_names; "
                "add class_names (background 'BG' first)."
            )
        cfg = cls(**kwargs)
        if num_classes is not None and num_classes != cfg.num_classes:
            raise ValueError(
                f"NUM_CLASSES={num_classes} disagrees with {cfg.num_classes} class_names "
                f"{list(cfg.class_names)}."
            )
        return cfg

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the config as JSON (UTF-8, indented) to ``path``."""
        data = self.to_dict()
        data["num_classes"] = self.num_classes  # informative; checked on load
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2)
            fh.write("\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> MaskRCNNConfig:
        """Read a config written by :meth:`to_json` (or a reference dump)."""
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise FileNotFoundError(f"Config file not found: {os.fspath(path)!r}.") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"Config file {os.fspath(path)!r} is not valid JSON: {exc}.") from None
        return cls.from_dict(data)


def _positive_int(cfg: MaskRCNNConfig, name: str, fail) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        fail(name, "must be a positive integer.")
