"""Detection quality: instance matching and average precision (AP).

The definitions are the usual ones of PASCAL VOC and COCO at a single IoU
threshold: within a class, detections of all images are ranked by score;
each one, in that order, is matched to the unmatched ground-truth instance of
the same image and class with which it has the highest IoU, if that IoU
reaches the threshold (a true positive), else it is a false positive. AP is
the area under the precision-recall curve after precision is made
monotonically decreasing (all-point interpolation, VOC 2010 and later).

Works on NumPy arrays; imports no TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["mask_iou_matrix", "match_detections", "average_precision", "APAccumulator"]


def mask_iou_matrix(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """IoU of every predicted mask with every true mask.

    Parameters
    ----------
    pred : (H, W, N) bool
    truth : (H, W, M) bool

    Returns
    -------
    (N, M) float64 array
        0 where both masks are empty.
    """
    pred, truth = np.asarray(pred), np.asarray(truth)
    if pred.ndim != 3 or truth.ndim != 3 or pred.shape[:2] != truth.shape[:2]:
        raise ValueError(
            f"Masks must be (H, W, N) and (H, W, M) stacks of the same image size; got {pred.shape} and {truth.shape}."
        )
    n_pixels = pred.shape[0] * pred.shape[1]
    p = pred.reshape(n_pixels, pred.shape[2]).astype(np.float32)
    t = truth.reshape(n_pixels, truth.shape[2]).astype(np.float32)
    inter = (p.T @ t).astype(np.float64)
    union = p.sum(axis=0)[:, None] + t.sum(axis=0)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    return out


def match_detections(iou: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Greedy matching of one image's detections of one class to its true instances.

    Parameters
    ----------
    iou : (N, M) array
        IoU of each detection with each true instance (same class).
    scores : (N,) array
        Detection scores; higher scores are matched first.
    threshold : float, default 0.5
        Least IoU of a match.

    Returns
    -------
    (N,) int array
        Index of the matched true instance per detection, -1 if none.
    """
    iou = np.asarray(iou, dtype=np.float64)
    scores = np.asarray(scores)
    if iou.ndim != 2 or len(scores) != iou.shape[0]:
        raise ValueError(f"iou must be (N, M) with N = len(scores); got {iou.shape} and {len(scores)} scores.")
    match = np.full(iou.shape[0], -1, dtype=np.int64)
    taken = np.zeros(iou.shape[1], dtype=bool)
    for d in np.argsort(-scores, kind="stable"):
        if iou.shape[1] == 0:
            break
        candidates = np.where(taken, -1.0, iou[d])
        best = int(np.argmax(candidates))
        if candidates[best] >= threshold:
            match[d] = best
            taken[best] = True
    return match


def average_precision(scores: np.ndarray, true_positive: np.ndarray, n_truth: int) -> float:
    """All-point interpolated AP from ranked detections.

    Parameters
    ----------
    scores : (N,) array
        Scores of all detections of one class over a dataset.
    true_positive : (N,) bool array
        Whether each detection matched a true instance.
    n_truth : int
        Number of true instances of the class in the dataset.

    Returns
    -------
    float
        AP in [0, 1]; NaN when the class has no true instance (undefined).
    """
    scores = np.asarray(scores, dtype=np.float64)
    tp = np.asarray(true_positive, dtype=bool)
    if scores.shape != tp.shape:
        raise ValueError(f"scores and true_positive differ in length: {scores.shape} vs {tp.shape}.")
    if n_truth <= 0:
        return float("nan")
    if tp.sum() > n_truth:
        raise ValueError(f"{int(tp.sum())} true positives but only {n_truth} true instances.")
    order = np.argsort(-scores, kind="stable")
    tp = tp[order]
    hits = np.cumsum(tp)
    precision = hits / np.arange(1, len(tp) + 1)
    recall = hits / n_truth
    # Precision envelope: the best precision at this recall or any higher one.
    precision = np.maximum.accumulate(precision[::-1])[::-1] if len(precision) else precision
    recall_steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(recall_steps * precision))


@dataclass
class APAccumulator:
    """Collects detections image by image and reports AP per class.

    Parameters
    ----------
    class_names : tuple of str
        Background first, as in a model config.
    threshold : float, default 0.5
        IoU of a match (0.5 gives AP50).
    """

    class_names: tuple[str, ...]
    threshold: float = 0.5
    _scores: dict = field(default_factory=dict)
    _hits: dict = field(default_factory=dict)
    _truth: dict = field(default_factory=dict)
    matched_ious: dict = field(default_factory=dict)

    def add(self, pred_masks, pred_classes, pred_scores, true_masks, true_classes) -> list[tuple[int, int]]:
        """Add one image.

        Parameters
        ----------
        pred_masks : (H, W, N) bool
        pred_classes, pred_scores : (N,) arrays
        true_masks : (H, W, M) bool
        true_classes : (M,) array

        Returns
        -------
        list of (detection index, true index)
            The matches found, for per-instance measurements.
        """
        pred_classes = np.asarray(pred_classes)
        pred_scores = np.asarray(pred_scores, dtype=np.float64)
        true_classes = np.asarray(true_classes)
        if len(pred_classes) != pred_masks.shape[2] or len(pred_scores) != len(pred_classes):
            raise ValueError("pred_masks, pred_classes and pred_scores must describe the same detections.")
        if len(true_classes) != true_masks.shape[2]:
            raise ValueError("true_masks and true_classes must describe the same instances.")
        iou = mask_iou_matrix(pred_masks, true_masks)
        pairs = []
        for k in range(1, len(self.class_names)):
            d_idx = np.flatnonzero(pred_classes == k)
            t_idx = np.flatnonzero(true_classes == k)
            self._truth[k] = self._truth.get(k, 0) + len(t_idx)
            if not len(d_idx):
                continue
            match = match_detections(iou[np.ix_(d_idx, t_idx)], pred_scores[d_idx], self.threshold)
            self._scores.setdefault(k, []).extend(pred_scores[d_idx].tolist())
            self._hits.setdefault(k, []).extend((match >= 0).tolist())
            for d, m in zip(d_idx, match):
                if m >= 0:
                    pairs.append((int(d), int(t_idx[m])))
                    self.matched_ious.setdefault(k, []).append(float(iou[d, t_idx[m]]))
        return pairs

    def per_class(self) -> dict[str, float]:
        """AP of each foreground class (NaN for a class never seen in the truth)."""
        return {
            self.class_names[k]: average_precision(
                np.asarray(self._scores.get(k, [])), np.asarray(self._hits.get(k, []), bool), self._truth.get(k, 0)
            )
            for k in range(1, len(self.class_names))
        }

    def truth_counts(self) -> dict[str, int]:
        """Number of true instances per class."""
        return {self.class_names[k]: self._truth.get(k, 0) for k in range(1, len(self.class_names))}
