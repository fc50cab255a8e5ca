"""Cut-out edges: hard 0/1 alpha against the soft edge, on studio photos with a true matte.

Generated studio photos (:mod:`napari_boostseg.synthetic.studio`) know how much
of each pixel is product (``matte``) and what a perfect cut-out shows
(``premultiplied``). Each photo is cut out from its true label image and from
the refined labels of the default coarse-mask source; for both, hard and soft
cut-outs (:func:`napari_boostseg.cutouts.product_cutouts`) are compared near
the true outline (within 3 px of it, and wherever the true matte is partial):

* alpha error: mean |alpha - true matte|;
* on a page: mean error, in levels of 255, of the cut-out laid on a page of
  the contrasting colour (black for a light backdrop, white for a dark one)
  against the perfect cut-out on that page; a halo of backdrop colour shows here;
* time: the soft cut-outs' time as a ratio to the hard ones', same process.

    python benchmarks/bench_edges.py                  # development photos
    python benchmarks/bench_edges.py --split train    # training seeds (for choosing parameters)

Development photos use products of CCP photos 0701-0800 and seeds from
2_500_000; training photos products of 0001-0700 and seeds from 1_500_000.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage as ndi

from napari_boostseg import refine
from napari_boostseg.coarse_masks import coarse_masks
from napari_boostseg.cutouts import product_cutouts
from napari_boostseg.synthetic import studio

from _data import CCP, require

SEEDS = {"train": 1_500_000, "dev": 2_500_000}
CUTOUT_IDS = {"train": studio.TRAIN_CUTOUT_IDS, "dev": studio.DEV_CUTOUT_IDS}


def _compose(image: np.ndarray, labels: np.ndarray, soft: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Alpha and premultiplied colour (0-1) of all cut-outs laid back on the frame; seconds."""
    alpha = np.zeros(labels.shape, np.float32)
    colour = np.zeros(labels.shape + (3,), np.float32)
    start = time.perf_counter()
    products = list(product_cutouts(image, labels, soft_edge=soft))
    seconds = time.perf_counter() - start
    for p in products:
        h, w = p.rgba.shape[:2]
        window = (slice(p.offset[0], p.offset[0] + h), slice(p.offset[1], p.offset[1] + w))
        a = p.rgba[..., 3].astype(np.float32) / 255
        alpha[window] += a
        colour[window] += a[..., None] * p.rgba[..., :3].astype(np.float32) / 255
    return np.clip(alpha, 0, 1), colour, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=sorted(SEEDS), default="dev")
    parser.add_argument("--photos", type=int, default=20, help="photos (default 20)")
    parser.add_argument("--size", type=int, default=2400, help="long side in pixels (default 2400)")
    args = parser.parse_args()

    cutouts = studio.ccp_cutouts(require(CCP), CUTOUT_IDS[args.split])
    groups = [(layout, None) for layout in studio.LAYOUTS] + [("single", h) for h in studio.FIRST_HARD_CASES]
    rows = {(masks, edge): [] for masks in ("true", "refined") for edge in ("hard", "soft")}
    seconds = {"hard": [], "soft": []}
    for i in range(args.photos):
        layout, hard = groups[i % len(groups)]
        photo = studio.render(cutouts, SEEDS[args.split] + i, layout=layout, hard=hard, size=args.size)
        truth = photo.truth > 0
        near = ndi.binary_dilation(truth, iterations=3) & ~ndi.binary_erosion(truth, iterations=3, border_value=1)
        near |= (photo.matte > 0.02) & (photo.matte < 0.98)
        page = np.zeros(3, np.float32) if photo.image[~truth].mean() > 128 else np.ones(3, np.float32)
        ideal = photo.premultiplied + (1 - photo.matte)[..., None] * page
        refined = refine(photo.image, coarse_masks(photo.image).labels)
        line = []
        for masks, labels in (("true", photo.truth), ("refined", refined)):
            for edge in ("hard", "soft"):
                alpha, colour, s = _compose(photo.image, labels, edge == "soft")
                seconds[edge].append(s)
                on_page = colour + (1 - alpha)[..., None] * page
                rows[masks, edge].append(
                    (np.abs(alpha - photo.matte)[near].mean(), 255 * np.abs(on_page - ideal)[near].mean())
                )
                line.append(f"{masks} {edge} {rows[masks, edge][-1][0]:.3f}")
        print(f"{photo.name:48s} alpha error: " + ", ".join(line), flush=True)

    print(f"\nsplit {args.split}, {args.photos} photos, {args.size} px long side\n")
    print("| label image | edge | alpha error near the outline | error on a contrasting page (levels) |")
    print("|---|---|---|---|")
    for (masks, edge), values in rows.items():
        alpha_error, page_error = np.mean(values, axis=0)
        print(f"| {masks} | {edge} | {alpha_error:.3f} | {page_error:.1f} |")
    ratio = np.sum(seconds["soft"]) / np.sum(seconds["hard"])
    print(f"\nsoft cut-outs take {ratio:.2f}x the time of hard ones "
          f"({1000 * np.median(seconds['hard']):.0f} ms -> {1000 * np.median(seconds['soft']):.0f} ms "
          "per photo, median)")


if __name__ == "__main__":
    main()
