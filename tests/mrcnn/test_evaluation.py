import math

import numpy as np
import pytest

from napari_boostseg.mrcnn.evaluation import (
    APAccumulator,
    average_precision,
    mask_iou_matrix,
    match_detections,
)


def _box_mask(shape, y0, x0, y1, x1):
    m = np.zeros(shape, bool)
    m[y0:y1, x0:x1] = True
    return m


def test_mask_iou_matrix_by_hand():
    a = _box_mask((10, 10), 0, 0, 4, 4)  # 16 px
    b = _box_mask((10, 10), 2, 2, 6, 6)  # 16 px, 4 shared with a
    empty = np.zeros((10, 10), bool)
    iou = mask_iou_matrix(np.stack([a, b, empty], 2), np.stack([a, b, empty], 2))
    assert iou.shape == (3, 3)
    assert iou[0, 0] == 1.0 and iou[1, 1] == 1.0
    assert iou[0, 1] == pytest.approx(4 / 28)
    assert iou[2, 2] == 0.0  # both empty: no overlap to speak of


def test_mask_iou_matrix_with_no_detections_or_no_truth():
    assert mask_iou_matrix(np.zeros((4, 5, 0), bool), np.ones((4, 5, 2), bool)).shape == (0, 2)
    assert mask_iou_matrix(np.ones((4, 5, 3), bool), np.zeros((4, 5, 0), bool)).shape == (3, 0)
    acc = APAccumulator(("BG", "person"))
    assert acc.add(np.zeros((4, 5, 0), bool), [], [], np.ones((4, 5, 1), bool), [1]) == []
    assert acc.per_class()["person"] == 0.0


def test_mask_iou_matrix_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="same image size"):
        mask_iou_matrix(np.zeros((4, 4, 1), bool), np.zeros((5, 4, 1), bool))


def test_match_is_greedy_by_score_and_one_to_one():
    iou = np.array([[0.6, 0.0], [0.9, 0.55], [0.4, 0.3]])
    scores = np.array([0.5, 0.9, 0.8])
    # Detection 1 (best score) takes truth 0; detection 0 then has nothing >= 0.5 left.
    assert match_detections(iou, scores).tolist() == [-1, 0, -1]
    assert match_detections(iou, scores, threshold=0.3).tolist() == [-1, 0, 1]
    assert match_detections(np.zeros((2, 0)), np.array([0.3, 0.2])).tolist() == [-1, -1]


def test_average_precision_by_hand():
    # Ranked: TP, FP, TP with 3 true instances.
    # precision 1, 1/2, 2/3 -> envelope 1, 2/3, 2/3; recall steps 1/3, 0, 1/3.
    ap = average_precision(np.array([0.9, 0.8, 0.7]), np.array([True, False, True]), 3)
    assert ap == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)
    assert average_precision(np.array([0.9]), np.array([True]), 1) == 1.0
    assert average_precision(np.array([]), np.array([], bool), 2) == 0.0
    assert math.isnan(average_precision(np.array([0.5]), np.array([False]), 0))
    with pytest.raises(ValueError, match="true positives"):
        average_precision(np.array([0.9, 0.8]), np.array([True, True]), 1)


def test_accumulator_pools_images_and_classes():
    shape = (20, 20)
    person = _box_mask(shape, 0, 0, 20, 10)
    shoe = _box_mask(shape, 15, 12, 20, 18)
    acc = APAccumulator(("BG", "person", "shoe"))
    # Image 1: the person found, a spurious shoe with a high score.
    pairs = acc.add(
        np.stack([person, _box_mask(shape, 0, 15, 5, 20)], 2), [1, 2], [0.9, 0.95],
        np.stack([person, shoe], 2), [1, 2],
    )
    assert pairs == [(0, 0)]
    # Image 2: a shoe found with a low score, its mask 2/3 right.
    pred_shoe = _box_mask(shape, 15, 12, 20, 16)
    acc.add(pred_shoe[:, :, None], [2], [0.3], shoe[:, :, None], [2])
    ap = acc.per_class()
    assert ap["person"] == 1.0
    # Shoes: ranked FP (0.95), TP (0.3); 2 true -> precision 1/2 at recall 1/2.
    assert ap["shoe"] == pytest.approx(0.25)
    assert acc.truth_counts() == {"person": 1, "shoe": 2}
    assert acc.matched_ious[2] == [pytest.approx(20 / 30)]
