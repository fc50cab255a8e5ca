"""Reference computations the tests compare the package against."""

from __future__ import annotations

import numpy as np
import pytest


def cascadepsp_mba(pred: np.ndarray, gt: np.ndarray) -> float:
    """mBA as CascadePSP's evaluation computes it, with OpenCV's morphology."""
    cv2 = pytest.importorskip("cv2")
    gt = gt.astype(np.uint8)
    pred = pred.astype(np.uint8)
    h, w = gt.shape
    max_r = (w + h) / 300
    accs = []
    for i in range(5):
        r = 1 + int((max_r - 1) / 5 * i)
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
        band = cv2.morphologyEx(gt, cv2.MORPH_GRADIENT, kernel) > 0
        agree = (gt[band] * pred[band] + (1 - gt[band]) * (1 - pred[band])).sum()
        accs.append(agree / band.sum())
    return float(sum(accs) / 5)
