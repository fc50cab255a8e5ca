"""Evaluation against hand-computed metrics on tiny masks, and on real masks."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from napari_boostseg import evaluate as ev
from napari_boostseg import files

from _reference import cascadepsp_mba

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _square(top, left, size, shape=(6, 6)):
    m = np.zeros(shape, bool)
    m[top : top + size, left : left + size] = True
    return m


def test_scores_by_hand():
    # Ground truth: a 3x3 square; prediction: the 2x2 square in its top-left corner.
    gt = _square(1, 1, 3)
    pred = _square(1, 1, 2)
    s = ev.score_masks("t", pred, gt)
    assert (s.intersection, s.union) == (4, 9)
    assert s.iou == pytest.approx(4 / 9)
    # At 6x6 px every mBA radius is 1 and OpenCV's 3x3 ellipse is the cross.
    # Band = cross dilation (21 px) minus cross erosion (the centre): 20 px.
    # The prediction agrees on 3 of the 8 ring pixels of the square and on all
    # 12 outside ones: 15 / 20.
    assert s.mba == pytest.approx(0.75)
    # Boundary F, tolerance 1 px: every predicted boundary pixel is within 1 px
    # of the true ring (P = 1); the ring corner (3, 3) is sqrt(2) from the
    # prediction, the other 7 are within 1 (R = 7/8).
    assert s.boundary_f == pytest.approx(2 * 1 * 0.875 / 1.875)
    assert not s.missing


def test_scores_of_perfect_and_empty():
    gt = _square(1, 1, 3)
    same = ev.score_masks("s", gt.astype(np.uint8) * 255, gt.astype(np.int32) * 7)
    assert (same.iou, same.mba, same.boundary_f) == (1.0, 1.0, 1.0)
    empty = ev.score_masks("e", np.zeros_like(gt), gt, missing=True)
    assert empty.iou == 0.0 and empty.boundary_f == 0.0 and empty.missing
    # Outside 12 px agree, the 8 ring pixels do not: 12 / 20.
    assert empty.mba == pytest.approx(0.6)


def test_summary_pooled_and_mean():
    a = ev.score_masks("a", _square(1, 1, 2), _square(1, 1, 3))  # 4 / 9
    b = ev.score_masks("b", _square(0, 0, 6), _square(0, 0, 3))  # 9 / 36
    s = ev.summarize([a, b])
    assert s["images"] == 2
    assert s["iou_mean"] == pytest.approx((4 / 9 + 9 / 36) / 2)
    assert s["iou_pooled"] == pytest.approx(13 / 45)
    assert s["mba_mean"] == pytest.approx((a.mba + b.mba) / 2)


def test_folders_csv_plot(tmp_path):
    rng = np.random.default_rng(0)
    pred_dir, gt_dir = tmp_path / "pred", tmp_path / "gt"
    truths = {}
    for i, name in enumerate(["p1", "p2", "p3"]):
        yy, xx = np.mgrid[:300, :400]
        gt = (yy - 150) ** 2 / 90**2 + (xx - 200) ** 2 / (110 + 10 * i) ** 2 < 1
        pred = gt.copy()
        pred[rng.random(gt.shape) < 0.02] ^= True  # speckle the prediction
        truths[name] = (pred, gt)
        files.write_labels(gt_dir / f"{name}.png", gt.astype(np.uint8) * 255)
        if name != "p3":
            files.write_labels(pred_dir / "labels" / f"{name}.png", pred)
    # PRED_DIR may be the segment output folder: its labels/ sub-folder is used.
    report = ev.evaluate_folders(pred_dir, gt_dir)
    assert [r.name for r in report.rows] == ["p1", "p2", "p3"]
    assert report.rows[2].missing and report.rows[2].iou == 0.0
    assert report.summary["missing_predictions"] == 1
    for row in report.rows[:2]:
        pred, gt = truths[row.name]
        assert row.mba == pytest.approx(cascadepsp_mba(pred, gt), abs=1e-12)
    buffer = io.StringIO()
    ev.write_csv(buffer, report.rows)
    table = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert float(table[0]["iou"]) == pytest.approx(report.rows[0].iou, abs=1e-6)
    assert table[2]["missing"] == "True"
    png = ev.plot_distributions(report.rows, tmp_path / "plot.png")
    with Image.open(png) as im:
        assert im.size == (1080, 260)
        assert len(np.unique(np.asarray(im).reshape(-1, 3), axis=0)) > 2  # something was drawn
    with pytest.raises(FileExistsError):
        ev.plot_distributions(report.rows, tmp_path / "plot.png")
    assert "IoU pooled" in ev.format_summary(report.summary)


def test_size_mismatch_is_an_error_row(tmp_path):
    files.write_labels(tmp_path / "gt" / "x.png", np.ones((4, 4), np.uint8))
    files.write_labels(tmp_path / "pred" / "x.png", np.ones((4, 5), np.uint8))
    report = ev.evaluate_folders(tmp_path / "pred", tmp_path / "gt")
    assert report.rows == [] and report.errors[0][0] == "x"
    assert "5x4" in report.errors[0][1]


@pytest.mark.shared_data
def test_mba_matches_opencv_on_ccp():
    labels = SHARED / "data" / "ccp" / "labels" / "0801.png"
    if not labels.is_file():
        pytest.skip("../shared/data/ccp is not available")
    from napari_boostseg.coarse import jittered28

    gt = files.read_labels(labels) > 0
    pred = jittered28(gt, seed=1)
    score = ev.score_masks("0801", pred, gt)
    assert score.mba == pytest.approx(cascadepsp_mba(pred, gt), abs=1e-12)


def test_folders_name_unmatched_predictions_and_can_skip_the_unpredicted(tmp_path):
    for name in ("x", "y"):
        files.write_labels(tmp_path / "gt" / f"{name}.png", _square(1, 1, 3))
    files.write_labels(tmp_path / "pred" / "x.png", _square(1, 1, 2))
    files.write_labels(tmp_path / "pred" / "stray.png", _square(1, 1, 2))
    every = ev.evaluate_folders(tmp_path / "pred", tmp_path / "gt")
    assert [r.name for r in every.rows] == ["x", "y"] and every.rows[1].missing
    assert every.unmatched == ["stray"] and every.matched == 1
    assert "without truth       1 prediction (not scored)" in ev.format_summary(every.summary)
    predicted = ev.evaluate_folders(tmp_path / "pred", tmp_path / "gt", only_predicted=True)
    assert [r.name for r in predicted.rows] == ["x"]
    assert predicted.summary["skipped_without_prediction"] == 1
    assert predicted.summary["iou_mean"] == pytest.approx(4 / 9)
    assert "without prediction  1 (not scored: --only-predicted)" in ev.format_summary(predicted.summary)


def test_a_segment_output_folder_holding_the_photos_is_scored_by_its_labels(tmp_path):
    out = tmp_path / "shoot"
    files.write_labels(tmp_path / "gt" / "x.png", _square(1, 1, 3))
    files.write_image(out / "x.png", np.zeros((6, 6, 3), np.uint8))  # the photo itself
    files.write_labels(out / "labels" / "x.png", _square(1, 1, 3))
    (out / "manifests").mkdir()
    report = ev.evaluate_folders(out, tmp_path / "gt")
    assert [(r.name, r.iou) for r in report.rows] == [("x", 1.0)]
