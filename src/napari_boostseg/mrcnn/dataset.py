"""Training data: a folder of images with instance label images.

Folder layout::

    data_dir/
        images/<stem>.png|.jpg|.jpeg|.tif|.tiff|.bmp|.webp   RGB, RGBA or grayscale photo
        labels/<stem>.png|.tif|.tiff                   instance labels, same size:
                                                       0 background, 1..N instances
        labels/<stem>.json                             optional class of each instance

The optional sidecar JSON maps instance label values to class names (or
class indices into ``config.class_names``)::

    {"classes": {"1": "garment", "2": "shoe"}}

Without a sidecar every instance gets the only foreground class, which
requires a config with exactly one class besides "BG". Instances missing from
a sidecar are an error, so that no object silently becomes background.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import IMAGE_SUFFIXES, LABEL_SUFFIXES
from .anchors import backbone_shapes, pyramid_anchors
from .boxes import norm_boxes
from .config import MaskRCNNConfig
from .molding import resize_image, resize_mask, to_rgb_uint8
from .targets import rpn_targets

__all__ = ["InstanceDataset", "Sample", "prepare_sample", "masks_to_boxes", "IMAGE_SUFFIXES", "LABEL_SUFFIXES"]


def _read_image(path: Path) -> np.ndarray:
    # The package's reader applies the EXIF orientation, as the labels writer
    # and the command line see the photo: images and labels stay aligned.
    from ..files import read_image

    try:
        return read_image(path).pixels
    except (OSError, ValueError) as exc:
        raise ValueError(f"Cannot read image {str(path)!r}: {exc}") from None


def _read_labels(path: Path) -> np.ndarray:
    from ..files import read_labels

    try:
        return read_labels(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"Cannot read label image {str(path)!r}: {exc}") from None


class InstanceDataset:
    """Pairs of images and instance label images in a folder.

    Parameters
    ----------
    data_dir : path-like
        Folder with ``images/`` and ``labels/`` (see the module docstring).
    class_names : tuple of str
        ``config.class_names``, background first.

    Raises
    ------
    FileNotFoundError
        If a folder is missing or no image has a label image.
    """

    def __init__(self, data_dir, class_names: tuple[str, ...]):
        self.root = Path(data_dir)
        self.class_names = tuple(class_names)
        image_dir, label_dir = self.root / "images", self.root / "labels"
        for d in (image_dir, label_dir):
            if not d.is_dir():
                raise FileNotFoundError(
                    f"Training folder {str(self.root)!r} needs sub-folders 'images' and 'labels'; "
                    f"{str(d)!r} is missing."
                )
        labels = {p.stem: p for p in sorted(label_dir.iterdir()) if p.suffix.lower() in LABEL_SUFFIXES}
        self.items: list[tuple[Path, Path]] = []
        for image in sorted(image_dir.iterdir()):
            if image.suffix.lower() in IMAGE_SUFFIXES and image.stem in labels:
                self.items.append((image, labels[image.stem]))
        if not self.items:
            raise FileNotFoundError(
                f"No image in {str(image_dir)!r} has a label image of the same name in {str(label_dir)!r}."
            )

    def __len__(self) -> int:
        return len(self.items)

    def _classes_for(self, label_path: Path, ids: np.ndarray) -> np.ndarray:
        from ..files import read_classes, sidecar_path

        sidecar = sidecar_path(label_path)
        mapping = read_classes(label_path)
        if mapping is None:
            if len(self.class_names) != 2:
                raise ValueError(
                    f"{str(label_path)!r} has no sidecar {sidecar.name!r}, and the config has "
                    f"{len(self.class_names) - 1} foreground classes; write the sidecar "
                    '{"classes": {"1": "<class name>", ...}} to say which instance is which.'
                )
            return np.ones(len(ids), dtype=np.int32)
        out = np.zeros(len(ids), dtype=np.int32)
        for k, inst in enumerate(ids):
            value = mapping.get(int(inst))
            if value is None:
                raise ValueError(f"sidecar {str(sidecar)!r} gives no class for instance {int(inst)}")
            if isinstance(value, str):
                if value not in self.class_names[1:]:
                    raise ValueError(
                        f"sidecar {str(sidecar)!r}: class {value!r} of instance {int(inst)} is not one of "
                        f"the config's classes {list(self.class_names[1:])}; train with a config that lists it"
                    )
                out[k] = self.class_names.index(value)
            elif isinstance(value, int) and 1 <= value < len(self.class_names):
                out[k] = value
            else:
                raise ValueError(
                    f"sidecar {str(sidecar)!r}: class {value!r} of instance {int(inst)} must be a class "
                    f"name or an index 1..{len(self.class_names) - 1}"
                )
        return out

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Image, masks and classes of one item.

        Returns
        -------
        image : (H, W, 3) uint8
        masks : (H, W, N) bool
        class_ids : (N,) int32
        """
        image_path, label_path = self.items[index]
        image = to_rgb_uint8(_read_image(image_path))
        labels = _read_labels(label_path)
        if labels.ndim == 3 and labels.shape[2] == 1:
            labels = labels[:, :, 0]
        if labels.ndim != 2 or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"Label image {str(label_path)!r} must be a 2-D integer image (0 background, 1..N "
                f"instances); got shape {labels.shape}, dtype {labels.dtype}."
            )
        if labels.shape != image.shape[:2]:
            raise ValueError(
                f"Label image {str(label_path)!r} is {labels.shape} but its image is {image.shape[:2]}."
            )
        ids = np.unique(labels)
        ids = ids[ids > 0]
        masks = labels[:, :, None] == ids[None, None, :]
        return image, masks, self._classes_for(label_path, ids)


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """Pixel boxes ``(y1, x1, y2, x2)`` (exclusive ends) of (H, W, N) masks; zeros for empty ones."""
    boxes = np.zeros((masks.shape[2], 4), dtype=np.int32)
    for i in range(masks.shape[2]):
        rows = np.flatnonzero(masks[:, :, i].any(axis=1))
        cols = np.flatnonzero(masks[:, :, i].any(axis=0))
        if len(rows):
            boxes[i] = (rows[0], cols[0], rows[-1] + 1, cols[-1] + 1)
    return boxes


@dataclass
class Sample:
    """One molded training example, padded to fixed sizes."""

    image: np.ndarray  # (H, W, 3) float32, mean subtracted
    gt_class_ids: np.ndarray  # (G,) int32, 0 = padding
    gt_boxes: np.ndarray  # (G, 4) float32, normalised
    gt_masks: np.ndarray  # (H, W, G) bool
    rpn_match: np.ndarray  # (A,) int32
    rpn_deltas: np.ndarray  # (rpn_train_anchors_per_image, 4) float32


def prepare_sample(
    image: np.ndarray,
    masks: np.ndarray,
    class_ids: np.ndarray,
    config: MaskRCNNConfig,
    rng: np.random.Generator,
    augment: bool | str = False,
) -> Sample:
    """Mold an image and its masks and compute the RPN targets.

    Parameters
    ----------
    image : (H, W, 3) uint8
    masks : (H, W, N) bool
    class_ids : (N,) int
    config : MaskRCNNConfig
    rng : numpy Generator
        For flips and anchor sampling.
    augment : bool or {"horizontal"}, default False
        True: random horizontal and vertical flips (each with probability
        0.5); "horizontal": left-right flips only; False: none.
    """
    if augment not in (True, False, "horizontal"):
        raise ValueError(f"augment must be True, False or 'horizontal', got {augment!r}.")
    molded, info = resize_image(image, config)
    molded_masks = resize_mask(masks, info)
    if augment:
        if rng.random() < 0.5:
            molded, molded_masks = molded[:, ::-1], molded_masks[:, ::-1]
        if augment is True and rng.random() < 0.5:
            molded, molded_masks = molded[::-1], molded_masks[::-1]
    # Instances can vanish when an image is scaled down.
    keep = molded_masks.any(axis=(0, 1))
    molded_masks, class_ids = molded_masks[:, :, keep], np.asarray(class_ids)[keep]
    g = config.max_gt_instances
    molded_masks, class_ids = molded_masks[:, :, :g], class_ids[:g]
    boxes = masks_to_boxes(molded_masks)
    shape = molded.shape[:2]
    anchors = pyramid_anchors(
        config.rpn_anchor_scales, config.rpn_anchor_ratios,
        backbone_shapes(shape, config.backbone_strides), config.backbone_strides, config.rpn_anchor_stride,
    )
    match, deltas = rpn_targets(anchors, boxes.astype(np.float32), config, rng)
    n = len(class_ids)
    gt_ids = np.zeros(g, np.int32)
    gt_ids[:n] = class_ids
    gt_boxes = np.zeros((g, 4), np.float32)
    if n:
        gt_boxes[:n] = norm_boxes(boxes, shape)
    gt_masks = np.zeros(shape + (g,), bool)
    gt_masks[:, :, :n] = molded_masks
    return Sample(
        image=np.ascontiguousarray(molded, dtype=np.float32) - np.asarray(config.mean_pixel, np.float32),
        gt_class_ids=gt_ids,
        gt_boxes=gt_boxes,
        gt_masks=gt_masks,
        rpn_match=match,
        rpn_deltas=deltas,
    )
