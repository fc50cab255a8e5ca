"""Speed and memory of the refinement at 2400x1600, measured in one run.

Two inputs: the shared 3492x2328 photo with its coarse mask, resized to
2400x1600 (skipped when ../shared is absent), and a generated photo of the
same size. For each it times, as medians over repeated runs:

* the original soft-mask watershed at full resolution (the baseline);
* ``refine`` (labels only), the same without its last step, the shadow
  trim (``shadow_depth=0``), and without the trim nor the safety checks
  (``min_core=0, min_support=0, keep_edge=2``: the refinement as it was
  before either);
* ``refine`` with all intermediates (what the napari widget asks for);
* a re-flood of the whole band after a marker edit (a background stroke
  right across the object), and a local re-flood after a brush stroke of
  40x40 pixels on the outline (what the napari widget does per stroke);

and the peak extra memory of ``refine`` (tracemalloc, NumPy allocations),
as a multiple of the photo's size in bytes.

    python benchmarks/bench_speed.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
from PIL import Image

from napari_boostseg import RefineParams, refine, reflood
from napari_boostseg.markers import BACKGROUND

from _data import HIRES
from original import refine_original
from samples import load_sample

SIZE = (2400, 1600)  # width, height


def _inputs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    if (HIRES / "aeroplane.jpg").exists():
        photo = Image.open(HIRES / "aeroplane.jpg").convert("RGB").resize(SIZE, Image.BILINEAR)
        mask = Image.open(HIRES / "aeroplane.png").convert("L").resize(SIZE, Image.NEAREST)
        out.append(("hires photo", np.asarray(photo), np.asarray(mask) > 127))
    else:
        print("../shared/data/hires is absent: timing the generated photo only")
    sample = load_sample("tshirt")
    photo = Image.fromarray(sample.image).resize(SIZE, Image.BILINEAR)
    coarse = Image.fromarray(sample.coarse.astype(np.uint8)).resize(SIZE, Image.NEAREST)
    out.append(("generated t-shirt", np.asarray(photo), np.asarray(coarse).astype(np.int32)))
    return out


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def backdrop_table(repeat: int) -> None:
    """The backdrop source on the shipped studio photos enlarged to 2400 px, beside refine."""
    from napari_boostseg.backdrop import backdrop_labels
    from napari_boostseg.sample_photos import sample_photos

    print("\n| studio photo | backdrop source ms | with the colour split of touching products ms "
          "| refine of its masks ms | source / refine |")
    print("|---|---|---|---|---|")
    for sample in filter(lambda s: s.studio, sample_photos()):
        h, w = sample.image.shape[:2]
        size = (2400, 1600) if w > h else (1600, 2400)
        image = np.asarray(Image.fromarray(sample.image).resize(size, Image.BILINEAR))
        coarse = backdrop_labels(image).labels  # warm caches
        source = _median_ms(lambda: backdrop_labels(image), repeat)
        whole = _median_ms(lambda: backdrop_labels(image, split=True), repeat)
        fast = _median_ms(lambda: refine(image, coarse), repeat)
        print(f"| {sample.name} {size[0]}x{size[1]} | {source:.0f} | {whole:.0f} | {fast:.0f} | {source / fast:.2f} |",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--backdrop-only", action="store_true", help="time the backdrop source only")
    args = parser.parse_args()
    if args.backdrop_only:
        backdrop_table(args.repeat)
        return
    print(
        "| input | original ms | refine ms | speed-up | without the shadow trim ms "
        "| without the trim and the checks ms | with intermediates ms "
        "| full re-flood ms | stroke re-flood ms | peak extra memory / photo bytes |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    untrimmed = RefineParams(shadow_depth=0)
    unchecked = RefineParams(shadow_depth=0, min_core=0, min_support=0, keep_edge=2)
    for name, image, coarse in _inputs():
        refine(image, coarse)  # warm caches and imports
        original = _median_ms(lambda: refine_original(image, coarse), max(1, args.repeat // 3))
        fast = _median_ms(lambda: refine(image, coarse), args.repeat)
        plain = _median_ms(lambda: refine(image, coarse, untrimmed), args.repeat)
        bare = _median_ms(lambda: refine(image, coarse, unchecked), args.repeat)
        full = refine(image, coarse, return_intermediates=True)
        inter = _median_ms(lambda: refine(image, coarse, return_intermediates=True), max(1, args.repeat // 2))
        edited = full.markers.copy()
        rows = np.flatnonzero((full.labels > 0).any(axis=1))
        mid = (rows[0] + rows[-1]) // 2
        edited[mid - 10 : mid + 10, :] = BACKGROUND  # a stroke right across the object
        again = _median_ms(lambda: reflood(full, edited), args.repeat)
        stroke = full.markers.copy()
        ys, xs = np.nonzero(full.markers == 0)
        y, x = ys[len(ys) // 2], xs[len(xs) // 2]  # a point of the undecided band
        stroke[y - 20 : y + 20, x - 20 : x + 20] = BACKGROUND
        local = _median_ms(
            lambda: reflood(full, stroke, previous_markers=full.markers, previous_labels=full.labels),
            args.repeat,
        )
        tracemalloc.start()
        refine(image, coarse)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"| {name} {image.shape[1]}x{image.shape[0]} | {original:.0f} | {fast:.0f} | "
            f"{original / fast:.1f}x | {plain:.0f} | {bare:.0f} | {inter:.0f} | {again:.0f} | {local:.0f} | "
            f"{peak / image.nbytes:.2f} |",
            flush=True,
        )
    backdrop_table(args.repeat)


if __name__ == "__main__":
    main()
