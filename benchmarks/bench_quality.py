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

``--photos studio`` scores the products of generated studio photos at
2400 px (:mod:`napari_boostseg.synthetic.studio`: products cut out of CCP
training photos, pasted with their true masks, so the truth follows the
photo's edges exactly), per instance as ``--kinds garments`` does;
``--first``/``--last`` are seeds, the layouts and hard cases taking turns
(``--split dev``, the default: products of CCP 0701-0800, seeds 2000000-2000059;
``--split train``: products of 0001-0700, for choosing parameters).

    python benchmarks/bench_quality.py --photos studio
    python benchmarks/bench_quality.py --photos studio --split train --first 1900000 --last 1900059
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
from napari_boostseg.metrics import boundary_accuracy, boundary_f, boundary_tolerance, intersection_union, mba_radii
from napari_boostseg.objects import object_boxes
from napari_boostseg.params import GRID_CELLS
from napari_boostseg.refine import refine_with_report
from napari_boostseg.synthetic.thin_objects import thin_object_photo

from _data import CCP, ccp_pair, require
from original import refine_original

COARSE = {
    "oracle-28": lambda truth, i: oracle28(truth),
    "jittered": lambda truth, i: jittered28(truth, seed=i),
    "harsh": lambda truth, i: jittered28(truth, seed=i, footprint="square"),
}


def score(stats: dict, pred: np.ndarray, truth: np.ndarray) -> None:
    """Add one mask's IoU, intersection, union, mBA and boundary F to ``stats``.

    The boundary scores are computed on the crop around both masks, with the
    radii and tolerance of the whole photo: the same figures, far quicker on
    a small object in a large photo.
    """
    inter, union = intersection_union(pred, truth)
    stats["iou"].append(inter / union if union else 1.0)
    stats["inter"].append(inter)
    stats["union"].append(union)
    margin = max(mba_radii(truth.shape)) + boundary_tolerance(truth.shape) + 2
    crop = _around(pred | truth, margin, margin)
    stats["mba"].append(boundary_accuracy(pred[crop], truth[crop], shape=truth.shape))
    stats["bf"].append(boundary_f(pred[crop], truth[crop], shape=truth.shape))


def _around(mask: np.ndarray, grow_y: int, grow_x: int) -> tuple[slice, slice]:
    """The box around ``mask`` grown by ``grow_y`` and ``grow_x`` pixels, clipped to the photo
    (all of it when ``mask`` is empty)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return (slice(None), slice(None))
    return (
        slice(max(rows[0] - grow_y, 0), rows[-1] + 1 + grow_y),
        slice(max(cols[0] - grow_x, 0), cols[-1] + 1 + grow_x),
    )


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


def ccp_garments(ids, people: bool = False):
    """(photo id, image, [(key, mask), ...]) of the garment instances of CCP photos ``ids``
    (with ``people``, of the person instances instead).

    ``key`` is the instance's index in the photo, which seeds its jitter."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import ccp_instances

    data = ccp_instances.CCPInstances(CCP, ids)
    person = ccp_instances.CLASS_NAMES.index("person")
    for n, photo_id in enumerate(data.ids):
        image, masks, classes = data.load(n)
        chosen = np.flatnonzero((classes == person) if people else (classes != person))
        if chosen.size:
            yield photo_id, image, [(int(k), masks[..., k]) for k in chosen]


def studio_products(seeds, split: str):
    """(seed, image, [(key, mask), ...]) of the products of generated studio photos, at 2400 px.

    The layouts and hard cases take turns by seed (seed modulo 10), so any
    run of ten seeds holds each once; products come from the CCP photos of
    ``split`` (``train``: 0001-0700, ``dev``: 0701-0800).
    """
    from napari_boostseg.synthetic import studio

    ids = studio.TRAIN_CUTOUT_IDS if split == "train" else studio.DEV_CUTOUT_IDS
    cutouts = studio.ccp_cutouts(require(CCP), ids)
    # The README's figures were measured on these (hard_shadow and knit are in bench_studio.py).
    groups = [(layout, None) for layout in studio.LAYOUTS] + [("single", hard) for hard in studio.FIRST_HARD_CASES]
    for seed in seeds:
        layout, hard = groups[seed % len(groups)]
        photo = studio.render(cutouts, seed, layout=layout, hard=hard)
        yield seed, photo.image, [(k, photo.truth == k) for k in range(1, photo.truth.max() + 1)]


def instance_stats(photos, make, params: RefineParams, methods=("coarse", "ours")) -> dict:
    """Per-instance scores of the coarse masks (from ``make``, one of :data:`COARSE`)
    and of ``refine`` on every instance of each photo of ``photos`` (from
    :func:`ccp_garments` or :func:`studio_products`); with ``grabcut`` in
    ``methods``, of grabCut on each instance alone too (:func:`grabcut_around`)."""
    stats = defaultdict(lambda: defaultdict(list))
    for photo_id, image, masks in photos:
        coarse = np.zeros(image.shape[:2], np.int32)
        for label, (key, mask) in enumerate(masks, start=1):
            # A seed per instance, so each gets its own jitter.
            coarse[make(mask, 1000 * photo_id + key) & (coarse == 0)] = label
        t0 = time.perf_counter()
        refined, objects = refine_with_report(image, coarse, params)
        stats["ours"]["t"].append(time.perf_counter() - t0)
        count(stats["ours"], objects)
        for label, (_, mask) in enumerate(masks, start=1):
            rows, cols = np.nonzero(mask)
            side = max(np.ptp(rows), np.ptp(cols)) + 1  # the box's long side, px
            preds = {"coarse": coarse == label, "ours": refined == label}
            if "grabcut" in methods:
                t0 = time.perf_counter()
                preds["grabcut"] = grabcut_around(image, coarse == label, params.band)
                stats["grabcut"]["t"].append(time.perf_counter() - t0)
            for method, pred in preds.items():
                score(stats[method], pred, mask)
                stats[method]["side"].append(side)
    return stats


def grabcut_around(image: np.ndarray, coarse: np.ndarray, band: float) -> np.ndarray:
    """:func:`grabcut` of one instance on the crop around its band (two bands and
    10 pixels beyond its box): its colour models are those of its surroundings,
    as a tool cutting out one object of a large photo would have them."""
    boxes = object_boxes(coarse.astype(np.int32))
    if not boxes:
        return coarse
    sy, sx = boxes[0]
    grow_y = int(2 * band * (sy.stop - sy.start) / GRID_CELLS) + 10
    grow_x = int(2 * band * (sx.stop - sx.start) / GRID_CELLS) + 10
    crop = _around(coarse, grow_y, grow_x)
    out = np.zeros_like(coarse)
    out[crop] = grabcut(image[crop], coarse[crop], band)
    return out


#: Default first and last photo ids (CCP) or seeds (generated photos).
FIRST_LAST = {
    "ccp": (801, 900),
    "thin": (1000, 1099),
    "studio dev": (2_000_000, 2_000_059),
    "studio train": (1_900_000, 1_900_059),
}

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
    parser.add_argument("--first", type=int, help="first photo id or seed (default: see above)")
    parser.add_argument("--last", type=int, help="last photo id or seed")
    parser.add_argument("--step", type=int, default=1)
    parser.add_argument("--kinds", default="person,clothing")
    parser.add_argument("--photos", choices=("ccp", "thin", "studio"), default="ccp",
                        help="CCP photos, generated thin objects or generated studio photos (--first/--last: seeds)")
    parser.add_argument("--split", choices=("train", "dev"), default="dev",
                        help="studio photos: products of CCP 0001-0700 (train) or 0701-0800 (dev)")
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
    first, last = FIRST_LAST[args.photos if args.photos != "studio" else f"studio {args.split}"]
    args.first = first if args.first is None else args.first
    args.last = last if args.last is None else args.last
    ids = range(args.first, args.last + 1, args.step)
    if args.photos == "thin":
        args.kinds = "thin"
        print(f"thin objects, seeds {args.first}-{args.last} step {args.step} ({len(ids)} photos); ours: {params}")
    elif args.photos == "studio":
        args.kinds = "studio"
        print(
            f"studio photos ({args.split} products), seeds {args.first}-{args.last} step {args.step} "
            f"({len(ids)} photos); ours: {params}"
        )
        rendered = list(studio_products(ids, args.split))  # rendered once for every kind of coarse mask
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
                stats = instance_stats(ccp_garments(ids), make, params, methods)
            elif kind == "studio":
                stats = instance_stats(rendered, make, params, methods)
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
