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
import sys
from pathlib import Path

import numpy as np
from bench_quality import COARSE
from scipy import ndimage as ndi

from napari_boostseg import refine
from napari_boostseg.edges import gradient_magnitude

from _data import CCP, require


def instances(ids, kind: str):
    """(photo id, image, [(key, mask), ...]) of the garment or person instances of CCP photos ``ids``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import ccp_instances

    data = ccp_instances.CCPInstances(require(CCP), ids)
    person = ccp_instances.CLASS_NAMES.index("person")
    for n, photo_id in enumerate(data.ids):
        image, masks, classes = data.load(n)
        chosen = np.flatnonzero((classes == person) if kind == "person" else (classes != person))
        if chosen.size:
            yield photo_id, image, [(int(k), masks[..., k]) for k in chosen]


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
        for photo_id, image, masks in instances(range(args.first, args.last + 1, args.step), kind):
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
