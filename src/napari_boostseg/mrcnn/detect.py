"""Detection results and their conversion from network output to image pixels.

NumPy only; the network itself lives in :mod:`napari_boostseg.mrcnn.graph`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .molding import MoldInfo, unmold_boxes, unmold_mask

__all__ = ["Detections", "unmold_detections"]


@dataclass(frozen=True)
class Detections:
    """Instances found in one image, sorted by descending score.

    Attributes
    ----------
    boxes : (N, 4) int32 array
        ``(y1, x1, y2, x2)`` in pixels of the original image, ``y2``/``x2``
        exclusive.
    class_ids : (N,) int32 array
        Class index into ``class_names`` (never 0, the background).
    class_names : tuple of str
        Class name of each detection.
    scores : (N,) float32 array
        Class probability in [0, 1].
    masks : (N, H, W) bool array
        Full-resolution instance masks (28x28 probabilities resized bilinearly
        into the box, thresholded at 0.5).
    mask_probs : (N, 28, 28) float32 array
        Raw mask-head probabilities of each detection's class; the grid spans
        the detection's box. Use them for soft masks.
    image_shape : (int, int)
        Rows, cols of the original image.
    """

    boxes: np.ndarray
    class_ids: np.ndarray
    class_names: tuple[str, ...]
    scores: np.ndarray
    masks: np.ndarray
    mask_probs: np.ndarray
    image_shape: tuple[int, int]

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def empty(cls, image_shape: tuple[int, int], mask_size: int = 28) -> Detections:
        """No detections, with arrays of the right shapes."""
        h, w = image_shape
        return cls(
            boxes=np.zeros((0, 4), np.int32),
            class_ids=np.zeros((0,), np.int32),
            class_names=(),
            scores=np.zeros((0,), np.float32),
            masks=np.zeros((0, h, w), bool),
            mask_probs=np.zeros((0, mask_size, mask_size), np.float32),
            image_shape=(h, w),
        )

    def select(self, classes) -> Detections:
        """The detections of some classes only.

        Parameters
        ----------
        classes : iterable of str
            Class names to keep. Use it where instances of different classes
            nest (a person and the garments they wear): :meth:`to_labels`
            gives each pixel to one instance only.

        Returns
        -------
        Detections
            Same order, fewer rows.
        """
        wanted = set(classes)
        return self._subset(np.array([name in wanted for name in self.class_names], dtype=bool))

    def without_fragments(self, min_kept: float = 0.5) -> Detections:
        """The detections that stay whole where masks overlap.

        Taken in descending score, a detection is kept when at least
        ``min_kept`` of its mask is not yet taken by a kept, higher-scoring
        one: a second detection of the same shoe, or a bag lying over the top
        already found, would otherwise become an object of a few stray pixels.

        Parameters
        ----------
        min_kept : float, optional
            Share of its mask, in [0, 1], a detection must keep. Default 0.5.

        Returns
        -------
        Detections
            Same order, fewer rows.
        """
        if not 0 <= min_kept <= 1:
            raise ValueError(f"min_kept is a share in [0, 1], got {min_kept}")
        taken = np.zeros(self.image_shape, dtype=bool)
        keep = np.zeros(len(self.scores), dtype=bool)
        for i in np.argsort(-self.scores, kind="stable"):
            area = int(self.masks[i].sum())
            if area and int((self.masks[i] & ~taken).sum()) >= min_kept * area:
                keep[i] = True
                taken |= self.masks[i]
        return self._subset(keep)

    def _subset(self, keep: np.ndarray) -> Detections:
        if keep.all():
            return self
        return Detections(
            boxes=self.boxes[keep],
            class_ids=self.class_ids[keep],
            class_names=tuple(n for n, k in zip(self.class_names, keep) if k),
            scores=self.scores[keep],
            masks=self.masks[keep],
            mask_probs=self.mask_probs[keep],
            image_shape=self.image_shape,
        )

    def to_labels(self) -> np.ndarray:
        """Label image of the instance masks.

        Returns
        -------
        (H, W) int32 array
            0 is background; instance ``i`` (0-based, in descending score
            order) has label ``i + 1``. Where masks overlap, the higher-scoring
            detection wins.
        """
        labels = np.zeros(self.image_shape, dtype=np.int32)
        order = np.argsort(-self.scores, kind="stable")
        for rank, i in enumerate(order, start=1):
            labels[self.masks[i] & (labels == 0)] = rank
        return labels


def unmold_detections(
    detections: np.ndarray,
    mask_probs: np.ndarray,
    info: MoldInfo,
    class_names: tuple[str, ...],
) -> Detections:
    """Convert the raw network output for one image into a :class:`Detections`.

    Parameters
    ----------
    detections : (D, 6) array
        ``(y1, x1, y2, x2, class_id, score)`` normalised to the molded image;
        rows with class 0 are padding.
    mask_probs : (D, m, m) array
        Mask probabilities of each detection's class.
    info : MoldInfo
        How the image was molded.
    class_names : tuple of str
        All class names, background first.
    """
    detections = np.asarray(detections, dtype=np.float32)
    mask_probs = np.asarray(mask_probs, dtype=np.float32)
    valid = np.flatnonzero(detections[:, 4] > 0)
    # The graph returns detections first and padding after; keep that prefix.
    detections, mask_probs = detections[valid], mask_probs[valid]
    boxes = unmold_boxes(detections[:, :4], info)
    # Boxes that shrink to nothing in original pixels carry no mask.
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    boxes, detections, mask_probs = boxes[keep], detections[keep], mask_probs[keep]
    if len(boxes) == 0:
        return Detections.empty(info.original_shape, mask_probs.shape[-1] if mask_probs.ndim == 3 else 28)
    class_ids = detections[:, 4].astype(np.int32)
    scores = detections[:, 5].astype(np.float32)
    order = np.argsort(-scores, kind="stable")
    boxes, class_ids, scores, mask_probs = boxes[order], class_ids[order], scores[order], mask_probs[order]
    masks = np.stack([unmold_mask(m, b, info.original_shape) for m, b in zip(mask_probs, boxes)])
    return Detections(
        boxes=boxes.astype(np.int32),
        class_ids=class_ids,
        class_names=tuple(class_names[i] for i in class_ids),
        scores=scores,
        masks=masks,
        mask_probs=np.ascontiguousarray(mask_probs),
        image_shape=tuple(info.original_shape),
    )
