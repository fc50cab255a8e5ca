"""Scores of a predicted mask against a ground-truth mask.

All functions take two boolean masks of the same 2-D shape (foreground True)
and return plain Python floats. They follow the definitions the project
reports its figures with:

* :func:`iou` -- intersection over union;
* :func:`boundary_accuracy` -- mBA, the mean boundary accuracy of CascadePSP
  (Cheng et al., CVPR 2020) as its evaluation code computes it, including the
  elliptic structuring element of OpenCV;
* :func:`boundary_f` -- a DAVIS-style boundary F-measure with a tolerance that
  grows with the image diagonal.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage as ndi

__all__ = [
    "iou",
    "intersection_union",
    "boundary_accuracy",
    "boundary_f",
    "boundary_tolerance",
    "ellipse_kernel",
    "mba_radii",
]


def _pair(pred: ArrayLike, gt: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 2 or gt.ndim != 2:
        raise ValueError(
            f"masks must be 2-D (height, width); got prediction {pred.shape} "
            f"and ground truth {gt.shape}"
        )
    if pred.shape != gt.shape:
        raise ValueError(
            f"prediction {pred.shape} and ground truth {gt.shape} differ in shape; "
            "resize the prediction to the ground truth's size first"
        )
    return pred.astype(bool, copy=False), gt.astype(bool, copy=False)


def intersection_union(pred: ArrayLike, gt: ArrayLike) -> tuple[int, int]:
    """Pixel counts of the intersection and the union of two masks.

    Summing these over a data set gives the pooled IoU.
    """
    pred, gt = _pair(pred, gt)
    return int(np.count_nonzero(pred & gt)), int(np.count_nonzero(pred | gt))


def iou(pred: ArrayLike, gt: ArrayLike) -> float:
    """Intersection over union of two boolean masks.

    Two empty masks agree perfectly and score 1.0.
    """
    inter, union = intersection_union(pred, gt)
    return 1.0 if union == 0 else inter / union


def ellipse_kernel(radius: int) -> np.ndarray:
    """The elliptic structuring element OpenCV builds for a square of side ``2r+1``.

    ``cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2r+1, 2r+1))`` marks, on
    row ``y`` (offset ``dy`` from the centre), the columns within
    ``round(sqrt(r^2 - dy^2))`` of the centre. It differs from
    :func:`skimage.morphology.disk` at some radii, and mBA is defined with it.
    """
    if radius < 0:
        raise ValueError(f"radius must be >= 0, got {radius}")
    r = int(radius)
    kernel = np.zeros((2 * r + 1, 2 * r + 1), dtype=bool)
    if r == 0:
        kernel[0, 0] = True
        return kernel
    for row in range(2 * r + 1):
        dy = row - r
        # OpenCV rounds half away from zero (saturate_cast); the argument is >= 0.
        dx = int(np.floor(np.sqrt(r * r - dy * dy) + 0.5))
        kernel[row, max(r - dx, 0) : min(r + dx + 1, 2 * r + 1)] = True
    return kernel


def mba_radii(shape: tuple[int, int], steps: int = 5) -> list[int]:
    """Band radii (pixels) used by mBA for an image of ``shape`` (h, w)."""
    h, w = shape
    max_radius = (w + h) / 300
    return [1 + int((max_radius - 1) / steps * i) for i in range(steps)]


def boundary_accuracy(pred: ArrayLike, gt: ArrayLike, *, shape: tuple[int, int] | None = None) -> float:
    """Mean boundary accuracy (mBA) of ``pred`` against ``gt``.

    For each of five radii (:func:`mba_radii`) the band is the morphological
    gradient of ``gt`` (dilation minus erosion with :func:`ellipse_kernel`);
    the accuracy is the fraction of band pixels where the masks agree. mBA is
    the mean over the radii. Pixels outside the image do not take part in the
    dilation or the erosion, as in OpenCV's defaults.

    A ground truth without any boundary (empty or full) scores 1.0 where the
    prediction equals it and 0.0 otherwise.

    ``shape`` is the photo's (h, w) when ``pred`` and ``gt`` are a crop of it
    (the radii follow the photo's size): a crop that holds both masks with
    ``max(mba_radii(shape)) + 1`` pixels to spare, or reaching the photo's
    edge, scores as the whole photo does, at a fraction of the cost.
    """
    pred, gt = _pair(pred, gt)
    accuracies = []
    for radius in mba_radii(gt.shape if shape is None else shape):
        kernel = ellipse_kernel(radius)
        band = ndi.binary_dilation(gt, kernel, border_value=0) & ~ndi.binary_erosion(
            gt, kernel, border_value=1
        )
        n = np.count_nonzero(band)
        if n == 0:
            accuracies.append(float(np.array_equal(pred, gt)))
            continue
        accuracies.append(np.count_nonzero(pred[band] == gt[band]) / n)
    return float(np.mean(accuracies))


def _boundary(mask: np.ndarray) -> np.ndarray:
    cross = ndi.generate_binary_structure(2, 1)
    return mask & ~ndi.binary_erosion(mask, cross, border_value=1)


def boundary_tolerance(shape: tuple[int, int]) -> int:
    """Default distance (pixels) of :func:`boundary_f` for a photo of ``shape`` (h, w): 0.75 % of its diagonal."""
    return max(1, round(0.0075 * float(np.hypot(*shape))))


def boundary_f(
    pred: ArrayLike, gt: ArrayLike, tolerance: float | None = None, *, shape: tuple[int, int] | None = None
) -> float:
    """DAVIS-style boundary F-measure.

    The boundary of a mask is the mask minus its erosion by a 3x3 cross.
    Precision is the share of predicted boundary pixels within ``tolerance``
    pixels (Euclidean) of a true boundary pixel; recall the converse;
    F = 2PR / (P + R).

    Parameters
    ----------
    pred, gt : (H, W) array_like of bool
        Predicted and true masks.
    tolerance : float, optional
        Distance in pixels. Default ``max(1, round(0.0075 * diagonal))``.
    shape : (int, int), optional
        The photo's (h, w) when ``pred`` and ``gt`` are a crop of it: the
        default tolerance follows the photo's diagonal. A crop that holds both
        masks with the tolerance and a pixel to spare, or reaching the photo's
        edge, scores as the whole photo does.
    """
    pred, gt = _pair(pred, gt)
    if tolerance is None:
        tolerance = boundary_tolerance(gt.shape if shape is None else shape)
    pb, gb = _boundary(pred), _boundary(gt)
    n_p, n_g = np.count_nonzero(pb), np.count_nonzero(gb)
    if n_p == 0 and n_g == 0:
        return 1.0
    if n_p == 0 or n_g == 0:
        return 0.0
    dist_to_gt = ndi.distance_transform_edt(~gb)
    dist_to_pred = ndi.distance_transform_edt(~pb)
    precision = np.count_nonzero(dist_to_gt[pb] <= tolerance) / n_p
    recall = np.count_nonzero(dist_to_pred[gb] <= tolerance) / n_g
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def match_instances(pred: ArrayLike, truth: ArrayLike) -> list[tuple[float, int]]:
    """Pair each true object with the predicted object that overlaps it best.

    Pairs are taken greedily by IoU, highest first; each predicted object
    pairs with at most one true object.

    Parameters
    ----------
    pred, truth : (H, W) array_like of int
        Label images, 0 background.

    Returns
    -------
    list of (float, int)
        For true object ``k`` (index ``k - 1``): its IoU with the paired
        predicted object and that object's id, or ``(0.0, 0)`` when none is left
        that overlaps it.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[1, 1, 0, 2]])
    >>> match_instances(np.array([[0, 3, 3, 0]]), truth)
    [(0.3333333333333333, 3), (0.0, 0)]
    """
    pred = np.asarray(pred)
    truth = np.asarray(truth)
    if pred.shape != truth.shape:
        raise ValueError(f"pred {pred.shape} and truth {truth.shape} differ in shape")
    n_true = int(truth.max()) if truth.size else 0
    n_pred = int(pred.max()) if pred.size else 0
    result = [(0.0, 0)] * n_true
    if n_true == 0 or n_pred == 0:
        return result
    pairs = np.bincount(
        truth.ravel().astype(np.int64) * (n_pred + 1) + pred.ravel(),
        minlength=(n_true + 1) * (n_pred + 1),
    ).reshape(n_true + 1, n_pred + 1)
    inter = pairs[1:, 1:].astype(float)
    union = pairs.sum(axis=1)[1:, None] + pairs.sum(axis=0)[None, 1:] - inter
    scores = inter / np.maximum(union, 1)
    taken: set[int] = set()
    for flat in np.argsort(-scores, axis=None, kind="stable"):
        t, p = divmod(int(flat), n_pred)
        if scores[t, p] <= 0:
            break
        if result[t][1] or p + 1 in taken:
            continue
        result[t] = (float(scores[t, p]), p + 1)
        taken.add(p + 1)
    return result
