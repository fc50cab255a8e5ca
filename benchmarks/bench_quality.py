"""Refinement quality on real photos with ground truth (CCP development split).

For person and clothing masks, from oracle-28 and jittered coarse masks, it
scores the coarse mask itself, the original soft-mask watershed, OpenCV's
grabCut (when opencv is installed) and ``refine``: mean and pooled IoU, mBA,
boundary F and the median time per photo.

``--kinds garments`` scores garment instances instead (the classes of the
bundled model, ``scripts/ccp_instances.py``): each instance gets its own
coarse mask and all of a photo's instances are refined together, touching
ones included, as a detector's output would be. Scores are per instance;
only the coarse mask and ``refine`` take label images.

    python benchmarks/bench_quality.py            # ids 0801-0900, all methods
    python benchmarks/bench_quality.py --step 4   # every 4th id, quicker
    python benchmarks/bench_quality.py --kinds garments
    python benchmarks/bench_quality.py --set band=1.2 --set prior=0.8
    python benchmarks/bench_quality.py --photos thin --first 1000 --last 1099

``--photos thin`` scores generated thin and holed objects on busy backdrops
(:mod:`napari_boostseg.synthetic.thin_objects`) instead, ``--first``/``--last`` being
their seeds (seeds 0-999 for choosing parameters, 1000 on for reporting).
*jittered* grows or shrinks the 28x28 mask by a cell with the cross,
*harsh* with the 3x3 square. For ``ours`` the last column counts the
objects that fell back to a safer choice, by kind (see
``napari_boostseg.safety``), and those whose move by alignment was kept.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from napari_boostseg import RefineParams
from napari_boostseg.coarse import jittered28, oracle28
from napari_boostseg.markers import BACKGROUND, UNDECIDED, band_geometry
from napari_boostseg.metrics import boundary_accuracy, boundary_f, intersection_union
from napari_boostseg.refine import refine_with_report
from napari_boostseg.synthetic.thin_objects import thin_object_photo

from _data import CCP, ccp_pair
from original import refine_original

COARSE = {
    "oracle-28": lambda truth, i: oracle28(truth),
    "jittered": lambda truth, i: jittered28(truth, seed=i),
    "harsh": lambda truth, i: jittered28(truth, seed=i, footprint="square"),
}


def score(stats: dict, pred: np.ndarray, truth: np.ndarray) -> None:
    """Add one mask's IoU, intersection, union, mBA and boundary F to ``stats``."""
    inter, union = intersection_union(pred, truth)
    stats["iou"].append(inter / union if union else 1.0)
    stats["inter"].append(inter)
    stats["union"].append(union)
    stats["mba"].append(boundary_accuracy(pred, truth))
    stats["bf"].append(boundary_f(pred, truth))


def count(stats: dict, objects) -> None:
    """Add the objects' fallbacks, kept moves and widened bands to ``stats``."""
    for report in objects:
        stats["objects"].append(1)
        if report.fallback:
            stats["fallback " + report.fallback].append(1)
        if report.moved:
            stats["moved"].append(1)
        if report.widened:
            stats["widened"].append(1)


def tally(s: dict) -> str:
    """``n=..., moved ..., widened ..., fallbacks by kind`` from the counts of :func:`count`."""
    if not s.get("objects"):
        return ""
    parts = [f"n={len(s['objects'])}", f"moved {len(s.get('moved', []))}", f"widened {len(s.get('widened', []))}"]
    parts += [f"{k.split()[1]} {len(v)}" for k, v in sorted(s.items()) if k.startswith("fallback ")]
    return ", ".join(parts)


def garment_stats(ids, make, params: RefineParams) -> dict:
    """Per-instance scores of the coarse masks (from ``make``, one of :data:`COARSE`)
    and of ``refine`` on every garment of each photo."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import ccp_instances

    data = ccp_instances.CCPInstances(CCP, ids)
    stats = defaultdict(lambda: defaultdict(list))
    for n, photo_id in enumerate(data.ids):
        image, masks, classes = data.load(n)
        garments = np.flatnonzero(classes != ccp_instances.CLASS_NAMES.index("person"))
        if not garments.size:
            continue
        coarse = np.zeros(image.shape[:2], np.int32)
        for label, k in enumerate(garments, start=1):
            # A seed per instance, so each gets its own jitter.
            mask = make(masks[..., k], 1000 * photo_id + int(k))
            coarse[mask & (coarse == 0)] = label
        t0 = time.perf_counter()
        refined, objects = refine_with_report(image, coarse, params)
        stats["ours"]["t"].append(time.perf_counter() - t0)
        count(stats["ours"], objects)
        for label, k in enumerate(garments, start=1):
            rows, cols = np.nonzero(masks[..., k])
            side = max(np.ptp(rows), np.ptp(cols)) + 1  # the box's long side, px
            for method, pred in (("coarse", coarse == label), ("ours", refined == label)):
                score(stats[method], pred, masks[..., k])
                stats[method]["side"].append(side)
    return stats


#: Instance sizes (long side of the box, px) the garment scores are split by.
SIZES = ((0, 56), (56, 150), (150, None))


def by_size(stats: dict) -> list[tuple[str, dict]]:
    """The garment scores of ``stats`` split by instance size: (name, stats) pairs."""
    out = []
    for lo, hi in SIZES:
        name = f"garments {lo}-{hi} px" if hi else f"garments >= {lo} px"
        part = {}
        for method, s in stats.items():
            side = np.array(s["side"])
            keep = (side >= lo) & (side < (hi or np.inf))
            scores = ("iou", "inter", "union", "mba", "bf")
            part[method] = {key: list(np.array(v)[keep]) for key, v in s.items() if key in scores}
        out.append((f"{name} (n={int(keep.sum())})", part))
    return out


def grabcut(image: np.ndarray, coarse: np.ndarray, band: float) -> np.ndarray:
    """cv2.grabCut seeded from the same band as ``refine``: sure parts fixed,
    the band split into probable object / probable background by the coarse mask."""
    import cv2

    markers = band_geometry(coarse, band, ridge=0.0).markers  # no ridge, as measured
    if not (markers > BACKGROUND).any() and not (coarse & (markers == UNDECIDED)).any():
        return coarse  # nothing of the object to model its colours on (an empty mask)
    gc = np.full(coarse.shape, cv2.GC_BGD, np.uint8)
    gc[markers > BACKGROUND] = cv2.GC_FGD
    undecided = markers == UNDECIDED
    gc[undecided & coarse] = cv2.GC_PR_FGD
    gc[undecided & ~coarse] = cv2.GC_PR_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(np.ascontiguousarray(image[..., ::-1]), gc, None, bgd, fgd, 5, cv2.GC_INIT_WITH_MASK)
    return (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--first", type=int, default=801)
    parser.add_argument("--last", type=int, default=900)
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--kinds", default="person,clothing")
    parser.add_argument("--photos", choices=("ccp", "thin"), default="ccp",
                        help="CCP photos, or generated thin objects (--first/--last: seeds)")
    parser.add_argument("--coarse", default="oracle-28,jittered,harsh")
    parser.add_argument("--methods", default="coarse,original,grabcut,ours")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a RefineParams field for 'ours'")
    args = parser.parse_args()
    params = RefineParams(**{k: float(v) for k, v in (s.split("=", 1) for s in args.set)})
    methods = args.methods.split(",")
    if "grabcut" in methods:
        try:
            import cv2  # noqa: F401
        except ImportError:
            print("opencv not installed: skipping grabcut (pip install 'napari-boostseg[grabcut]')")
            methods.remove("grabcut")
    run = {
        "coarse": lambda img, c: c,
        "original": lambda img, c: refine_original(img, c) > 0,
        "grabcut": lambda img, c: grabcut(img, c, params.band),
    }
    ids = range(args.first, args.last + 1, args.step)
    if args.photos == "thin":
        args.kinds = "thin"
        print(f"thin objects, seeds {args.first}-{args.last} step {args.step} ({len(ids)} photos); ours: {params}")
    else:
        print(f"CCP ids {args.first:04d}-{args.last:04d} step {args.step} ({len(ids)} photos); ours: {params}")
    header = (
        "| masks | coarse | method | mean IoU | pooled IoU | mBA | BF | worst IoU - coarse | median ms "
        "| ours: objects |"
    )
    print(header)
    print("|" + "---|" * 10)
    for kind in args.kinds.split(","):
        for coarse_name in args.coarse.split(","):
            make = COARSE[coarse_name]
            if kind == "garments":
                stats = garment_stats(ids, make, params)
            else:
                stats = defaultdict(lambda: defaultdict(list))
                for i in ids:
                    image, truth = thin_object_photo(i) if kind == "thin" else ccp_pair(i, kind)
                    coarse = make(truth, i)
                    for m in methods:
                        t0 = time.perf_counter()
                        if m == "ours":
                            labels, objects = refine_with_report(image, coarse, params)
                            pred = labels > 0
                            count(stats[m], objects)
                        else:
                            pred = run[m](image, coarse)
                        stats[m]["t"].append(time.perf_counter() - t0)
                        score(stats[m], pred, truth)
            groups = [(kind, stats)] + (by_size(stats) if kind == "garments" else [])
            for name, group in groups:
                for m in [m for m in methods if m in group]:
                    s = group[m]
                    ms = "-" if m == "coarse" or not s.get("t") else f"{1000 * np.median(s['t']):.0f}"
                    worst = "-"
                    if m != "coarse" and "coarse" in group:
                        worst = f"{np.min(np.array(s['iou']) - np.array(group['coarse']['iou'])):+.4f}"
                    print(
                        f"| {name} | {coarse_name} | {m} | {np.mean(s['iou']):.4f} | "
                        f"{np.sum(s['inter']) / np.sum(s['union']):.4f} | {np.mean(s['mba']):.4f} | "
                        f"{np.mean(s['bf']):.4f} | {worst} | {ms} | {tally(s) if m == 'ours' else ''} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
