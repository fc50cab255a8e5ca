"""Quality and speed of the default garment model on the CCP development split.

For every development photo (ids 0801-0900, never trained on) it runs the
model, matches detections to the ground-truth instances of
``scripts/ccp_instances.py`` by mask IoU, and reports:

- AP50 per class (mask IoU >= 0.5, all-point interpolation; detections down
  to a score of 0.05 are ranked);
- the mean mask IoU of the matched instances (score >= the model's own
  threshold) before and after our refinement. The person and the garments are
  refined in two passes, since a person's mask holds their garments;
- the median time to detect in a 2400x1600 photo (a development photo enlarged),
  and to detect and refine it;
- with ``--compare CHECKPOINT``: how far the float16 weights' detections are
  from the float32 checkpoint they came from.

Usage::

    python benchmarks/bench_default_model.py
    python benchmarks/bench_default_model.py --weights runs/garments.../mask_rcnn_garments_0026.h5 --limit 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import ccp_instances  # noqa: E402

from _data import CCP, require  # noqa: E402


def _labels_and_ids(dets, keep: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Label image of the kept detections and detection index -> label id."""
    chosen = np.flatnonzero(keep)
    order = chosen[np.argsort(-dets.scores[chosen], kind="stable")]
    labels = np.zeros(dets.image_shape, np.int32)
    ids = {}
    for rank, i in enumerate(order, start=1):
        labels[dets.masks[i] & (labels == 0)] = rank
        ids[int(i)] = rank
    return labels, ids


def quality(model, ids) -> dict:
    from napari_boostseg import refine
    from napari_boostseg.mrcnn.evaluation import APAccumulator

    threshold = model.config.detection_min_confidence
    low = model.config.replace(detection_min_confidence=0.05)
    from napari_boostseg.mrcnn import load_model

    ranking_model = load_model(model.weights_path, config=low)
    data = ccp_instances.CCPInstances(CCP, ids)
    names = ccp_instances.CLASS_NAMES
    acc = APAccumulator(names)
    before: dict[str, list[float]] = {n: [] for n in names[1:]}
    after: dict[str, list[float]] = {n: [] for n in names[1:]}
    for i in range(len(data)):
        image, truth, truth_classes = data.load(i)
        dets = ranking_model.detect([image])[0]
        pred = np.moveaxis(dets.masks, 0, 2)
        pairs = acc.add(pred, dets.class_ids, dets.scores, truth, truth_classes)
        confident = dets.scores >= threshold
        is_person = np.array([n == "person" for n in dets.class_names], bool)
        for group in (is_person, ~is_person):
            coarse, label_of = _labels_and_ids(dets, confident & group)
            if not label_of:
                continue
            refined = refine(image, coarse)
            for d, t in pairs:
                if d in label_of:
                    k = label_of[d]
                    name = names[int(truth_classes[t])]
                    gt = truth[:, :, t]
                    before[name].append(_iou(coarse == k, gt))
                    after[name].append(_iou(refined == k, gt))
    return {"ap": acc.per_class(), "truth": acc.truth_counts(), "before": before, "after": after}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def speed(model, repeats: int) -> dict:
    from PIL import Image

    from napari_boostseg import refine
    from napari_boostseg.models import default_classes

    # A development photo enlarged to 1600x2400 (portrait, as CCP): 2400x1600
    # pixels with the detections of a real photo, whose unmolding costs time too.
    photo = np.asarray(Image.open(CCP / "images" / "0801.jpg").convert("RGB").resize((1600, 2400), Image.BICUBIC))
    model.detect([photo])  # the first call traces the graph
    detect_s, total_s, found = [], [], 0
    classes = default_classes(model.weights_path, model.config.class_names)
    for _ in range(repeats):
        t0 = time.perf_counter()
        dets = model.detect([photo])[0]
        t1 = time.perf_counter()
        labels = dets.select(classes).to_labels()
        if labels.any():
            refine(photo, labels)
        t2 = time.perf_counter()
        detect_s.append(t1 - t0)
        total_s.append(t2 - t0)
        found = len(dets)
    return {"detect_s": statistics.median(detect_s), "total_s": statistics.median(total_s), "found": found}


def compare(model, checkpoint: Path, ids) -> dict:
    """Score and mask differences between the float16 weights and their float32 source."""
    from napari_boostseg.mrcnn import load_model

    reference = load_model(checkpoint, config=model.config)
    data = ccp_instances.CCPInstances(CCP, ids)
    score_diff, mask_iou, count_diff = [], [], 0
    for i in range(len(data)):
        image = data.load(i)[0]
        a, b = reference.detect([image])[0], model.detect([image])[0]
        count_diff += abs(len(a) - len(b))
        # Pair each float16 detection with the float32 one of its class it overlaps most
        # (near-equal scores may swap places in the ranking).
        for j in range(len(b)):
            same = [i for i in range(len(a)) if a.class_ids[i] == b.class_ids[j]]
            if not same:
                continue
            best = max(same, key=lambda i: _iou(a.masks[i], b.masks[j]))
            score_diff.append(abs(float(a.scores[best]) - float(b.scores[j])))
            mask_iou.append(_iou(a.masks[best], b.masks[j]))
    return {
        "max_score_diff": max(score_diff, default=0.0),
        "median_mask_iou": float(np.median(mask_iou)) if mask_iou else 1.0,
        "pairs": len(mask_iou),
        "below_095": sum(v < 0.95 for v in mask_iou),
        "min_mask_iou": min(mask_iou, default=1.0),
        "count_diff": count_diff,
    }


def main(argv=None) -> int:
    from napari_boostseg.models import default_weights
    from napari_boostseg.mrcnn import load_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, help="weights to measure (default: the shipped model)")
    parser.add_argument("--limit", type=int, help="only the first N development photos")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs for the speed figures")
    parser.add_argument("--compare", type=Path, help="float32 checkpoint the shipped weights came from")
    args = parser.parse_args(argv)
    weights = args.weights or default_weights()
    if weights is None:
        raise SystemExit("no weights: give --weights or ship a model first")
    require(CCP)
    ids = list(ccp_instances.DEV_IDS)[: args.limit]
    model = load_model(weights)
    print(f"weights {weights} ({Path(weights).stat().st_size / 1e6:.1f} MB), {len(ids)} development photos")

    q = quality(model, ids)
    print(f"\n{'class':<10} {'true':>5} {'AP50':>6} {'matched':>8} {'IoU coarse':>11} {'IoU refined':>12}")
    aps = []
    for name in ccp_instances.CLASS_NAMES[1:]:
        b, a = q["before"][name], q["after"][name]
        ap = q["ap"][name]
        aps.append(ap)
        mb = f"{np.mean(b):.3f}" if b else "-"
        ma = f"{np.mean(a):.3f}" if a else "-"
        print(f"{name:<10} {q['truth'][name]:>5} {ap:>6.3f} {len(b):>8} {mb:>11} {ma:>12}")
    garments = [x for n in ccp_instances.GARMENT_GROUPS for x in q["before"][n]]
    garments_after = [x for n in ccp_instances.GARMENT_GROUPS for x in q["after"][n]]
    print(f"{'mean':<10} {'':>5} {np.nanmean(aps):>6.3f}")
    if garments:
        print(f"garments: {len(garments)} matched, IoU {np.mean(garments):.3f} -> {np.mean(garments_after):.3f}")

    s = speed(model, args.repeats)
    print(f"\n2400x1600 photo: detect {s['detect_s']:.2f} s, detect + refine {s['total_s']:.2f} s "
          f"(median of {args.repeats}; {s['found']} detections)")
    if args.compare is not None:
        c = compare(model, args.compare, ids[:20])
        print(f"float16 vs float32 on {min(20, len(ids))} photos: max score difference {c['max_score_diff']:.4f}; "
              f"mask IoU median {c['median_mask_iou']:.4f} over {c['pairs']} detections, "
              f"{c['below_095']} below 0.95 (least {c['min_mask_iou']:.3f}); "
              f"detections gained or lost {c['count_diff']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
