"""Scoring a folder of predicted masks against ground truth.

Predictions and ground truth are label images or binary masks matched by
file name (``NAME.png`` in one folder with ``NAME.png`` or ``NAME.tif`` in
the other); any non-zero id counts as foreground. Per image the table holds
IoU, mBA (CascadePSP's mean boundary accuracy) and boundary F, computed by
:mod:`napari_boostseg.metrics`; the summary gives their means and the pooled
IoU (summed intersections over summed unions).

A ground truth without a prediction is scored against an empty prediction,
so photos a segmentation run failed on count against it instead of
vanishing from the average; ``only_predicted=True`` scores only the ground
truths that have a prediction (when a run covered part of a data set) and
counts the others. Predictions without a ground truth are not scored and
are named in the report.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO

import numpy as np

from . import files
from .metrics import boundary_accuracy, boundary_f, intersection_union

__all__ = [
    "ImageScore",
    "EvaluationReport",
    "score_masks",
    "evaluate_folders",
    "summarize",
    "write_csv",
    "save_csv",
    "format_summary",
    "plot_distributions",
]

METRICS = ("iou", "mba", "boundary_f")
_TITLES = {"iou": "IoU", "mba": "mBA", "boundary_f": "boundary F"}


@dataclass(frozen=True)
class ImageScore:
    """Scores of one image; the columns of the CSV table.

    Attributes
    ----------
    name : str
        File name stem shared by prediction and ground truth.
    height, width : int
        Image size in pixels.
    iou, mba, boundary_f : float
        In [0, 1].
    intersection, union : int
        Pixel counts, for the pooled IoU.
    missing : bool
        True if there was no prediction (scored as empty).
    """

    name: str
    height: int
    width: int
    iou: float
    mba: float
    boundary_f: float
    intersection: int
    union: int
    missing: bool = False


@dataclass
class EvaluationReport:
    """Per-image rows, the summary, and ``(name, message)`` for unusable pairs.

    ``unmatched`` names the predictions that have no ground truth (not
    scored); ``matched`` counts the ground truths that have a prediction.
    """

    rows: list[ImageScore]
    summary: dict
    errors: list[tuple[str, str]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    matched: int = 0


def score_masks(name: str, pred: np.ndarray, gt: np.ndarray, *, missing: bool = False) -> ImageScore:
    """Score one prediction against its ground truth (non-zero = foreground).

    Parameters
    ----------
    name : str
        Row name.
    pred, gt : (H, W) ndarray
        Masks or label images of the same shape.
    missing : bool, optional
        Mark the row as scored without a prediction. Default False.

    Returns
    -------
    ImageScore
    """
    pred = np.asarray(pred) != 0
    gt = np.asarray(gt) != 0
    inter, union = intersection_union(pred, gt)
    return ImageScore(
        name=name,
        height=int(gt.shape[0]),
        width=int(gt.shape[1]),
        iou=1.0 if union == 0 else inter / union,
        mba=boundary_accuracy(pred, gt),
        boundary_f=boundary_f(pred, gt),
        intersection=inter,
        union=union,
        missing=missing,
    )


def _label_files(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.suffix.lower() in files.LABEL_SUFFIXES and not f.name.startswith("."):
            found.setdefault(f.stem, f)
    return found


def evaluate_folders(
    pred_dir: str | os.PathLike, gt_dir: str | os.PathLike, *, only_predicted: bool = False
) -> EvaluationReport:
    """Score every ground truth in ``gt_dir`` against its prediction in ``pred_dir``.

    Parameters
    ----------
    pred_dir : str or os.PathLike
        Predicted masks or label images (PNG/TIFF). The output folder of
        ``boostseg segment`` works too: its ``labels`` sub-folder is used
        (also when the photos lie beside it).
    gt_dir : str or os.PathLike
        Ground-truth masks or label images with the same names.
    only_predicted : bool, optional
        Score only ground truths that have a prediction; the summary's
        ``skipped_without_prediction`` counts the others. Default False:
        a missing prediction scores as an empty one.

    Returns
    -------
    EvaluationReport
        Rows sorted by name. Pairs that cannot be compared (different sizes,
        unreadable files) are left out of the rows and listed in ``errors``.

    Raises
    ------
    FileNotFoundError
        If ``gt_dir`` holds no PNG or TIFF files.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    # The output folder of ``boostseg segment`` (with its records) may hold
    # the photos too: its label images are in ``labels``.
    segmented = (pred_dir / "labels").is_dir() and (pred_dir / "manifests").is_dir()
    preds = {} if segmented else _label_files(pred_dir)
    if not preds and (pred_dir / "labels").is_dir():
        preds = _label_files(pred_dir / "labels")
    truths = _label_files(gt_dir)
    if not truths:
        swapped = (gt_dir / "labels").is_dir() and (gt_dir / "manifests").is_dir()
        raise FileNotFoundError(
            f"no ground-truth masks (.png, .tif) in {gt_dir}"
            + ("; it is the output folder of 'boostseg segment': give it first, as PRED_DIR, and the "
               "ground truth second" if swapped else "")
        )
    rows: list[ImageScore] = []
    errors: list[tuple[str, str]] = []
    skipped = 0
    for name, gt_path in truths.items():
        if only_predicted and name not in preds:
            skipped += 1
            continue
        try:
            gt = files.read_labels(gt_path)
            if name in preds:
                pred = files.read_labels(preds[name])
                if pred.shape != gt.shape:
                    raise ValueError(
                        f"prediction is {pred.shape[1]}x{pred.shape[0]} px but the ground "
                        f"truth {gt.shape[1]}x{gt.shape[0]} px"
                    )
                rows.append(score_masks(name, pred, gt))
            else:
                rows.append(score_masks(name, np.zeros_like(gt), gt, missing=True))
        except (OSError, ValueError) as exc:
            errors.append((name, str(exc)))
    unmatched = sorted(set(preds) - set(truths))
    summary = summarize(rows)
    summary["unmatched_predictions"] = len(unmatched)
    summary["skipped_without_prediction"] = skipped
    summary["errors"] = len(errors)
    return EvaluationReport(rows, summary, errors, unmatched, len(set(preds) & set(truths)))


def summarize(rows: Sequence[ImageScore]) -> dict:
    """Means of the per-image scores, pooled IoU, and counts.

    Returns
    -------
    dict
        ``images``, ``missing_predictions``, ``iou_mean``, ``iou_pooled``,
        ``mba_mean``, ``boundary_f_mean`` and the medians ``*_median``.
        Scores are NaN when there are no rows.
    """
    n = len(rows)
    out: dict = {"images": n, "missing_predictions": sum(r.missing for r in rows)}
    for metric in METRICS:
        values = np.array([getattr(r, metric) for r in rows], dtype=float)
        out[f"{metric}_mean"] = float(values.mean()) if n else math.nan
        out[f"{metric}_median"] = float(np.median(values)) if n else math.nan
    union = sum(r.union for r in rows)
    out["iou_pooled"] = (sum(r.intersection for r in rows) / union if union else 1.0) if n else math.nan
    return out


def write_csv(stream: IO[str], rows: Sequence[ImageScore]) -> None:
    """Write the per-image table as CSV to an open text stream."""
    names = [f.name for f in fields(ImageScore)]
    writer = csv.DictWriter(stream, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        record = asdict(row)
        for metric in METRICS:
            # Six decimals: far below any difference worth reporting, and diffable.
            record[metric] = f"{record[metric]:.6f}"
        writer.writerow(record)


def save_csv(path: str | os.PathLike, rows: Sequence[ImageScore], *, overwrite: bool = False) -> Path:
    """Write the per-image table to ``path`` atomically; see :func:`write_csv`."""
    buffer = io.StringIO()
    write_csv(buffer, rows)
    text = buffer.getvalue()
    return files.atomic_write_text(path, text, overwrite=overwrite)


def format_summary(summary: dict) -> str:
    """The summary as a few aligned lines of text."""
    lines = [f"images              {summary['images']}"]
    if summary.get("missing_predictions"):
        lines.append(f"missing predictions {summary['missing_predictions']} (scored as empty)")
    if summary.get("skipped_without_prediction"):
        lines.append(f"without prediction  {summary['skipped_without_prediction']} (not scored: --only-predicted)")
    if summary.get("unmatched_predictions"):
        n = summary["unmatched_predictions"]
        lines.append(f"without truth       {n} prediction{'' if n == 1 else 's'} (not scored)")
    if summary.get("errors"):
        lines.append(f"unusable pairs      {summary['errors']} (not scored)")
    lines.append(f"IoU mean            {summary['iou_mean']:.4f}")
    lines.append(f"IoU pooled          {summary['iou_pooled']:.4f}")
    lines.append(f"mBA mean            {summary['mba_mean']:.4f}")
    lines.append(f"boundary F mean     {summary['boundary_f_mean']:.4f}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- #
# Plot, drawn with Pillow so that no plotting library is needed


def _histogram_panel(values: np.ndarray, title: str, size: tuple[int, int]):
    from PIL import Image, ImageDraw

    w, h = size
    panel = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(panel)
    left, right, top, bottom = 40, w - 15, 30, h - 35
    # Scores crowd near 1; start the axis at the first tenth below the minimum.
    lo = min(0.9, math.floor(float(values.min()) * 10) / 10) if values.size else 0.0
    bins = 20
    counts, edges = np.histogram(values, bins=bins, range=(lo, 1.0))
    peak = max(int(counts.max()) if counts.size else 0, 1)
    draw.text((left, 8), f"{title}  (n={values.size})", fill="black")
    draw.line([(left, bottom), (right, bottom)], fill="black")
    draw.line([(left, top), (left, bottom)], fill="black")
    span = right - left
    for i, c in enumerate(counts):
        x0 = left + span * i / bins
        x1 = left + span * (i + 1) / bins
        y0 = bottom - (bottom - top) * c / peak
        if c:
            draw.rectangle([x0 + 1, y0, x1 - 1, bottom - 1], fill=(70, 110, 180))
    for v in np.linspace(lo, 1.0, 6):
        x = left + span * (v - lo) / (1.0 - lo)
        draw.line([(x, bottom), (x, bottom + 4)], fill="black")
        draw.text((x - 10, bottom + 8), f"{v:.2f}", fill="black")
    draw.text((4, top - 4), str(peak), fill="black")
    draw.text((4, bottom - 10), "0", fill="black")
    if values.size:
        for stat, colour in ((float(values.mean()), (200, 40, 40)), (float(np.median(values)), (40, 150, 40))):
            x = left + span * (stat - lo) / (1.0 - lo)
            draw.line([(x, top), (x, bottom)], fill=colour, width=2)
        draw.text(
            (left + 5, bottom + 20),
            f"mean {values.mean():.3f} (red)  median {np.median(values):.3f} (green)",
            fill="black",
        )
    return panel


def plot_distributions(
    rows: Sequence[ImageScore], path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write a PNG with one histogram per metric (IoU, mBA, boundary F).

    Each panel shows the per-image values with their mean (red) and median
    (green). The horizontal axis starts at the tenth below the lowest score.

    Parameters
    ----------
    rows : sequence of ImageScore
    path : str or os.PathLike
        ``.png`` file.
    overwrite : bool, optional
        Replace an existing file. Default False.

    Returns
    -------
    pathlib.Path
    """
    from PIL import Image

    panel_size = (360, 260)
    canvas = Image.new("RGB", (panel_size[0] * len(METRICS), panel_size[1]), "white")
    for i, metric in enumerate(METRICS):
        values = np.array([getattr(r, metric) for r in rows], dtype=float)
        canvas.paste(_histogram_panel(values, _TITLES[metric], panel_size), (i * panel_size[0], 0))
    return files.write_image(path, np.asarray(canvas), overwrite=overwrite)
