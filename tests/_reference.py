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


def priority_flood(edges: np.ndarray, markers: np.ndarray) -> np.ndarray:
    """The flood order ``flood_markers`` documents, written plainly with a heap.

    Seeds are the marker pixels next to an undecided (0) pixel, in raster
    order; the lowest elevation pops first, the earliest queued among equals;
    a pixel takes its label when queued, from the pixel that queued it; the
    neighbours are visited up, left, right, down. Unreached pixels become
    background (1). Elevations must be exact ties or far apart (no
    quantisation here).
    """
    import heapq

    h, w = markers.shape
    out = markers.astype(np.int32, copy=True)
    heap: list[tuple[float, int, int, int]] = []
    age = 0
    for y in range(h):
        for x in range(w):
            if out[y, x] > 0 and any(
                0 <= y + dy < h and 0 <= x + dx < w and out[y + dy, x + dx] == 0
                for dy, dx in ((-1, 0), (0, -1), (0, 1), (1, 0))
            ):
                heapq.heappush(heap, (float(edges[y, x]), age, y, x))
                age += 1
    while heap:
        _, _, y, x = heapq.heappop(heap)
        for dy, dx in ((-1, 0), (0, -1), (0, 1), (1, 0)):
            ny, nx = y + dy, x + dx
            if 0 <= ny < h and 0 <= nx < w and out[ny, nx] == 0:
                out[ny, nx] = out[y, x]
                heapq.heappush(heap, (float(edges[ny, nx]), age, ny, nx))
                age += 1
    out[out == 0] = 1
    return out
