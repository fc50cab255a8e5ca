"""How closely CCP's annotated outlines follow the photo's edges, beside the coarse and refined ones.

For each instance (garments or people of CCP photos), the mean normalised edge
strength along three outlines: the annotation's, its oracle-28 coarse mask's
and the refined one's. The edge strength is the colour gradient magnitude
(sigma 1 px) divided by its 98th percentile in a band of 4 px around the
photo's coarse outlines, capped at 1, as the refinement normalises it. An
annotation that follows the photo's edges lies on stronger edges than a
28x28 mask does; where it does not, an outline that snaps to the edges moves
away from it, and refinement can only lose IoU against it.

    python benchmarks/bench_outline_edges.py                   # training photos, every 16th
    python benchmarks/bench_outline_edges.py --first 801 --last 900 --step 1
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_quality import COARSE, ccp_garments
from scipy import ndimage as ndi

from napari_boostseg import refine
from napari_boostseg.edges import gradient_magnitude


def outline(mask: np.ndarray) -> np.ndarray:
    """The mask's pixels with a 4-neighbour outside it (the frame's border is no outline)."""
    return mask & ~ndi.binary_erosion(mask, border_value=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kind", choices=("garments", "person"), action="append")
    parser.add_argument("--first", type=int, default=1)
    parser.add_argument("--last", type=int, default=800)
    parser.add_argument("--step", type=int, default=16)
    args = parser.parse_args()
    for kind in args.kind or ["garments", "person"]:
        strength = {"annotation": [], "coarse": [], "refined": []}
        for photo_id, image, masks in ccp_garments(range(args.first, args.last + 1, args.step), kind == "person"):
            coarse = np.zeros(image.shape[:2], np.int32)
            for label, (key, mask) in enumerate(masks, start=1):
                coarse[COARSE["oracle-28"](mask, 1000 * photo_id + key) & (coarse == 0)] = label
            gradient = gradient_magnitude(image.astype(np.float32) / 255, 1.0)
            near = ndi.binary_dilation(coarse > 0, iterations=4) & ~ndi.binary_erosion(coarse > 0, iterations=4)
            edges = np.minimum(gradient / max(float(np.percentile(gradient[near], 98)), 1e-6), 1)
            refined = refine(image, coarse)
            for label, (_, mask) in enumerate(masks, start=1):
                for name, m in (("annotation", mask), ("coarse", coarse == label), ("refined", refined == label)):
                    if m.any():
                        strength[name].append(float(edges[outline(m)].mean()))
        n = len(strength["annotation"])
        means = ", ".join(f"{name} {np.mean(v):.3f}" for name, v in strength.items())
        print(f"{kind} ({n} instances, CCP {args.first:04d}-{args.last:04d} every {args.step}): "
              f"mean edge strength along the outline: {means}")


if __name__ == "__main__":
    main()
