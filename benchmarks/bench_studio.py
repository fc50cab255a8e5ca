"""Studio photos end to end: photo file -> coarse masks -> refinement -> cut-out file.

Generated studio photos (:mod:`napari_boostseg.synthetic.studio`; products cut
out of CCP training photos and laid on rendered backdrops, with true masks)
are written as JPEG files, then each is read back, given coarse masks by the
chosen source, refined, and its RGBA cut-out written, as ``boostseg segment``
does. Per layout and per hard case it reports:

* found: true products matched by an object with IoU >= 0.5 (each object
  matches at most one product);
* mean IoU and mBA of each true product against its best object (0 for a
  product not found), coarse and refined;
* objects per photo beside products per photo (a split product or a speck
  shows here);
* median milliseconds per photo, from reading the file to writing the cut-out.

    python benchmarks/bench_studio.py                    # development photos, auto source (the default)
    python benchmarks/bench_studio.py --source model     # the bundled Mask R-CNN only
    python benchmarks/bench_studio.py --split train      # training seeds (for choosing parameters)
    python benchmarks/bench_studio.py --only touching    # one layout (or hard case), same seeds
    python benchmarks/bench_studio.py --no-split-touching  # touching products kept whole (split_touching=False)

Development photos use products of CCP photos 0701-0800 and seeds from
2_000_000; training photos products of 0001-0700 and seeds from 1_000_000.
The product model was trained on photos of seeds 1_000_000-1_003_999, so it
sees the training photos better than photos it has not seen; ``--first-seed``
renders others:

    python benchmarks/bench_studio.py --split train --first-seed 1899880 --per-layout 60 --only touching
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from napari_boostseg import RefineParams, cutouts, files, refine
from napari_boostseg.coarse_masks import coarse_masks, load_detector
from napari_boostseg.metrics import boundary_accuracy
from napari_boostseg.metrics import match_instances as match
from napari_boostseg.synthetic import studio

from _data import CCP, require

SEEDS = {"train": 1_000_000, "dev": 2_000_000}
CUTOUT_IDS = {"train": studio.TRAIN_CUTOUT_IDS, "dev": studio.DEV_CUTOUT_IDS}


def photos(split: str, per_layout: int, per_hard: int, size: int, groups=None, first_seed: int | None = None):
    cutouts = studio.ccp_cutouts(require(CCP), CUTOUT_IDS[split])
    seed = SEEDS[split] if first_seed is None else first_seed
    # Every photo keeps its seed whichever groups are chosen.
    for layout in studio.LAYOUTS:
        for i in range(per_layout):
            if not groups or layout in groups:
                yield layout, studio.render(cutouts, seed, layout=layout, size=size)
            seed += 1
    for hard in studio.HARD_CASES:
        for i in range(per_hard):
            if not groups or hard in groups:
                yield hard, studio.render(cutouts, seed, layout="single", hard=hard, size=size)
            seed += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=sorted(SEEDS), default="dev")
    parser.add_argument("--per-layout", type=int, default=12, help="photos per layout (default 12)")
    parser.add_argument("--per-hard", type=int, default=8, help="photos per hard case (default 8)")
    parser.add_argument("--size", type=int, default=2400, help="long side in pixels (default 2400)")
    parser.add_argument(
        "--first-seed", type=int, metavar="N",
        help="seed of the first photo, the others following layout by layout (default 1000000 for "
        "train, 2000000 for dev; the product model was trained on seeds 1000000-1003999)",
    )
    parser.add_argument("--source", choices=("auto", "backdrop", "model"), default="auto")
    parser.add_argument("--weights", type=Path, help="Mask R-CNN weights (default: the bundled model)")
    parser.add_argument("--only", action="append", choices=studio.LAYOUTS + studio.HARD_CASES,
                        help="measure only this layout or hard case (repeat for more; default all)")
    parser.add_argument("--no-split-touching", dest="split_touching", action="store_false",
                        help="keep touching products found on the backdrop as one object "
                        "(coarse_masks split_touching=False; default: split them)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a RefineParams field, e.g. --set align=0")
    args = parser.parse_args()
    params = RefineParams(**{k: float(v) for k, v in (s.split("=", 1) for s in args.set)})
    model = (lambda: load_detector(args.weights)) if args.source != "backdrop" else None

    stats = defaultdict(lambda: defaultdict(list))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for group, photo in photos(args.split, args.per_layout, args.per_hard, args.size, args.only, args.first_seed):
            src = folder / f"{photo.name}.jpg"
            files.write_image(src, photo.image, quality=95)
            start = time.perf_counter()
            read = files.read_image(src)
            found = coarse_masks(read.pixels, args.source, model=model, split_touching=args.split_touching)
            labels = refine(read.pixels, found.labels, params)
            cutouts.write_cutout(folder / f"{photo.name}.png", cutouts.cutout(read.pixels, labels))
            ms = 1000 * (time.perf_counter() - start)
            s = stats[group]
            s["ms"].append(ms)
            s["sources"].append(found.source)
            s["objects"].append(int(labels.max()))
            s["products"].append(int(photo.truth.max()))
            coarse_match = match(found.labels, photo.truth)
            for k, ((r_iou, obj), (c_iou, cobj)) in enumerate(zip(match(labels, photo.truth), coarse_match), 1):
                truth = photo.truth == k
                s["found"].append(r_iou >= 0.5)
                s["iou"].append(r_iou)
                s["coarse_iou"].append(c_iou)
                s["mba"].append(boundary_accuracy(labels == obj, truth) if obj else 0.0)
                s["coarse_mba"].append(boundary_accuracy(found.labels == cobj, truth) if cobj else 0.0)
                s["holes_open"] += _holes_open(truth, photo.truth, labels)
            print(f"{photo.name:48s} {found.note[:70]:70s} objects {labels.max()}/{photo.truth.max()} "
                  f"IoU {np.mean([m[0] for m in coarse_match] or [1]):.3f} -> "
                  f"{np.mean([m for m in s['iou'][-photo.truth.max():]] or [1]):.3f} {ms:.0f} ms", flush=True)

    whole = "" if args.split_touching else " (touching products not split)"
    print(f"\nsplit {args.split}, source {args.source}{whole}, {args.size} px long side\n")
    print("| photos | n | products found | coarse IoU / mBA | refined IoU / mBA | objects / products | "
          "backdrop source | ms per photo |")
    print("|---|---|---|---|---|---|---|---|")
    groups = list(studio.LAYOUTS) + list(studio.HARD_CASES)
    for name in groups + ["all layouts"]:
        if name == "all layouts":
            s = defaultdict(list)
            for g in studio.LAYOUTS:
                for k, v in stats[g].items():
                    s[k] += v
        else:
            s = stats[name]
        if not s["ms"]:
            continue
        print(
            f"| {name} | {len(s['ms'])} | {np.mean(s['found']):.1%} | "
            f"{np.mean(s['coarse_iou']):.3f} / {np.mean(s['coarse_mba']):.3f} | "
            f"{np.mean(s['iou']):.3f} / {np.mean(s['mba']):.3f} | "
            f"{np.sum(s['objects'])} / {np.sum(s['products'])} | "
            f"{np.mean([x == 'backdrop' for x in s['sources']]):.0%} | {np.median(s['ms']):.0f} |"
        )
    print(f"\nHoles open (at least {OPEN:.0%} of a true hole's pixels backdrop after refinement; holes of "
          f"{HOLE_AREA:.2%} of the frame or more):")
    for name in groups:
        if stats[name]["holes_open"]:
            opened = stats[name]["holes_open"]
            print(f"- {name}: {sum(opened)} of {len(opened)}")


#: Least share of the frame a true hole in a product covers to be counted, and the share of
#: its pixels that must be backdrop in the refined labels for it to count as open.
HOLE_AREA = 0.0002
OPEN = 0.9


def _holes_open(product: np.ndarray, truth: np.ndarray, labels: np.ndarray) -> list[bool]:
    """For each hole of ``product`` (backdrop it encloses, a handle's), whether ``labels`` left it open."""
    holes, n = ndi.label(ndi.binary_fill_holes(product) & (truth == 0))
    if not n:
        return []
    area = np.bincount(holes.ravel(), minlength=n + 1)
    backdrop = np.bincount(holes.ravel(), weights=(labels == 0).ravel(), minlength=n + 1)
    return [bool(backdrop[i] >= OPEN * area[i]) for i in range(1, n + 1) if area[i] >= HOLE_AREA * truth.size]


if __name__ == "__main__":
    main()
