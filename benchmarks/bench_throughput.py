"""Throughput of ``boostseg segment`` at 2400x1600: photos per minute and memory.

Measures, in one run and on the same photos:

* ``io only`` -- the baseline: decode the JPEG, read the mask, make the
  cut-out and encode the label PNG and the RGBA PNG, no refinement;
* ``segment`` with masks given (refinement only), one process, as the command
  line runs it (interpreter start-up included);
* the same with ``--workers 2`` (a local Dask cluster; cluster start-up
  included), with the peak memory of each worker;
* with ``--mrcnn``: a ResNet-50 Mask R-CNN at IMAGE_MAX_DIM 512 (random
  weights: the speed does not depend on them), its detection time per photo
  against the refinement time of the same photo, and ``segment --weights``
  in one process and with ``--workers 2``.

Photos: the high-resolution photo and coarse mask in ``../shared/data/hires``
resized to 2400x1600 and varied by flips and brightness; without that
folder, the bundled samples resized instead. Ratios are against the baseline
of this run. When other programs share the machine, wall-clock rates drop;
the CPU seconds per photo (start-up included) do not, and the last column
projects them onto CPUs that are free: ``60 * min(processes, CPUs) / CPU s``.

Run from the repository root::

    python benchmarks/bench_throughput.py                # refinement only
    python benchmarks/bench_throughput.py --mrcnn        # also Mask R-CNN
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

# Before TensorFlow is imported here or in a child process: keep its log quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def source_pair(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, str]:
    """An RGB photo and a coarse 0/1 mask at ``size`` (width, height)."""
    photo, mask = SHARED / "data" / "hires" / "aeroplane.jpg", SHARED / "data" / "hires" / "aeroplane.png"
    if photo.is_file() and mask.is_file():
        with Image.open(photo) as im:
            rgb = np.asarray(im.convert("RGB").resize(size, Image.Resampling.LANCZOS))
        with Image.open(mask) as im:
            m = np.asarray(im.convert("L").resize(size, Image.Resampling.NEAREST)) > 0
        return rgb, m.astype(np.uint8), "hires/aeroplane resized"
    from samples import load_samples

    s = load_samples()[0]
    rgb = np.asarray(Image.fromarray(s.image).resize(size, Image.Resampling.LANCZOS))
    m = np.asarray(Image.fromarray((s.coarse > 0).astype(np.uint8)).resize(size, Image.Resampling.NEAREST))
    return rgb, m, f"bundled sample {s.name} resized"


def make_photos(folder: Path, n: int, size: tuple[int, int]) -> str:
    """``n`` JPEG photos in ``folder/images`` and 0/255 masks in ``folder/masks``."""
    rgb, mask, origin = source_pair(size)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(n):
        img, m = rgb, mask
        if i % 2:
            img, m = img[:, ::-1], m[:, ::-1]
        if (i // 2) % 2:
            img, m = img[::-1], m[::-1]
        gain = 0.9 + 0.2 * ((i * 7) % 11) / 10
        img = np.clip(img.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        Image.fromarray(np.ascontiguousarray(img)).save(folder / "images" / f"p{i:03d}.jpg", quality=92)
        Image.fromarray(np.ascontiguousarray(m) * 255).save(folder / "masks" / f"p{i:03d}.png")
    return origin


def io_only(folder: Path, out: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds to decode and encode every photo as ``segment`` does, without refinement."""
    from napari_boostseg import cutouts, files
    from napari_boostseg.batch import coarse_from_mask

    photos = sorted((folder / "images").iterdir())
    start, cpu = time.perf_counter(), time.process_time()
    for p in photos:
        photo = files.read_image(p)
        labels = coarse_from_mask(files.read_labels(folder / "masks" / f"{p.stem}.png"), photo.shape)
        files.write_labels(out / "labels" / f"{p.stem}.png", labels)
        cutouts.write_product_cutouts(out / "cutouts", p.stem, photo.pixels, labels, icc_profile=photo.icc_profile)
    return time.perf_counter() - start, time.process_time() - cpu


def peak_mib() -> float:
    """Peak resident memory of this process in MiB (Linux ``VmHWM``).

    Unlike ``getrusage``'s ``ru_maxrss``, which survives ``exec`` and so
    reports a parent's peak in a child, this is the process's own.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


# The command line, reporting its own peak memory on exit.
_CLI = f"""
import atexit, sys
{__import__("inspect").getsource(peak_mib)}
atexit.register(lambda: print("PEAK_MIB", peak_mib(), file=sys.stderr))
from napari_boostseg.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(args: list[str]) -> tuple[float, float, float]:
    """Wall-clock and CPU seconds of ``boostseg ARGS`` and its peak memory (MiB)."""
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run([sys.executable, "-c", _CLI, *args], capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu
    # 3: every photo went through, some with no object (random Mask R-CNN weights).
    if done.returncode not in (0, 3):
        raise RuntimeError(f"boostseg {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    peaks = [float(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK_MIB")]
    return seconds, cpu, peaks[-1] if peaks else float("nan")


def run_dask(photos: list[Path], options, workers: int) -> tuple[float, float, float, list[float]]:
    """Seconds on a local cluster with and without its start-up, the workers' CPU seconds
    (start-up included) and each worker's peak MiB."""
    from napari_boostseg.batch import run_batch
    from napari_boostseg.distributed import dask_client, iter_dask

    start = time.perf_counter()
    with dask_client(workers=workers) as client:
        summary = run_batch(photos, options, results=iter_dask(photos, options, client), progress=False)
        peaks = sorted(client.run(peak_mib).values())
        cpu = sum(client.run(time.process_time).values())
    seconds = time.perf_counter() - start
    if summary.failed:
        raise RuntimeError(f"{summary.failed} photos failed: {summary.failures[:2]}")
    return seconds, summary.seconds, cpu, peaks


def mrcnn_weights(folder: Path) -> Path:
    """Random-weight ResNet-50 Mask R-CNN at IMAGE_MAX_DIM 512, saved with its config."""
    from napari_boostseg.mrcnn import MaskRCNN, MaskRCNNConfig

    config = MaskRCNNConfig(
        name="bench",
        class_names=("BG", "garment"),
        backbone="resnet50",
        image_min_dim=512,
        image_max_dim=512,
    )
    path = folder / "mask_rcnn_bench.h5"
    MaskRCNN(config).save_weights(path, write_config=True)
    return path


def detect_vs_refine(folder: Path, weights: Path, n: int) -> tuple[float, float]:
    """Median seconds per photo of detection and of refinement (same photos)."""
    from napari_boostseg import files, refine
    from napari_boostseg.batch import coarse_from_mask
    from napari_boostseg.mrcnn import load_model

    model = load_model(weights)
    photos = sorted((folder / "images").iterdir())[:n]
    model.detect([files.read_image(photos[0]).pixels])  # warm-up: graph tracing
    t_det, t_ref = [], []
    for p in photos:
        photo = files.read_image(p)
        coarse = coarse_from_mask(files.read_labels(folder / "masks" / f"{p.stem}.png"), photo.shape)
        t = time.perf_counter()
        model.detect([photo.pixels])
        t_det.append(time.perf_counter() - t)
        t = time.perf_counter()
        refine(photo.pixels, coarse)
        t_ref.append(time.perf_counter() - t)
    return float(np.median(t_det)), float(np.median(t_ref))


def per_min(n: int, seconds: float) -> float:
    return 60.0 * n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=40, help="photos per run (default 40)")
    parser.add_argument("--size", default="2400x1600", help="WIDTHxHEIGHT (default 2400x1600)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers (default 2)")
    parser.add_argument("--mrcnn", action="store_true", help="also measure with a ResNet-50 Mask R-CNN")
    parser.add_argument("--mrcnn-photos", type=int, default=12, help="photos for the Mask R-CNN runs (default 12)")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    from napari_boostseg.batch import SegmentOptions, collect_photos

    rows: list[tuple] = []
    numbers: dict = {"size": [width, height], "photos": args.photos, "cpus": os.cpu_count()}
    cpus = os.cpu_count() or 1

    def add(name: str, key: str, count: int, seconds: float, cpu: float, mem: str, processes: int) -> None:
        # CPU seconds do not depend on what else runs on the machine; the
        # projection assumes the processes had their CPUs to themselves.
        per_photo = cpu / count
        idle = 60 * min(processes, cpus) / per_photo
        ratio = f"{seconds / (base * count / n):.2f}"
        rows.append((name, per_min(count, seconds), ratio, f"{per_photo:.2f}", f"{idle:.0f}", mem))
        numbers[key] = {
            "per_min": per_min(count, seconds), "cpu_s_per_photo": per_photo, "idle_per_min": idle, "peak_mib": mem
        }

    with tempfile.TemporaryDirectory(prefix="boostseg-bench-") as tmp:
        tmp = Path(tmp)
        origin = make_photos(tmp / "data", args.photos, (width, height))
        photos = collect_photos([tmp / "data" / "images"])
        n = len(photos)
        print(f"{n} photos of {width}x{height} ({origin}); {cpus} CPUs; load {os.getloadavg()[0]:.1f}")

        base, cpu = io_only(tmp / "data", tmp / "io")
        add("io only (decode + encode, no refinement)", "io_only", n, base, cpu, "-", 1)

        masks = ["--masks", str(tmp / "data" / "masks")]
        seconds, cpu, peak = run_cli(
            ["segment", str(tmp / "data" / "images"), *masks, "--out", str(tmp / "single"), "--no-progress"]
        )
        add("segment --masks, 1 process", "single", n, seconds, cpu, f"{peak:.0f}", 1)

        options = SegmentOptions(out_dir=tmp / "dask", masks_dir=tmp / "data" / "masks")
        seconds, running, cpu, peaks = run_dask(photos, options, args.workers)
        mem = " / ".join(f"{p:.0f}" for p in peaks)
        add(f"segment --masks --workers {args.workers}", "dask", n, seconds, cpu, mem, args.workers)
        add("  the same, cluster start-up excluded", "dask_running", n, running, cpu, "", args.workers)

        if args.mrcnn:
            weights = mrcnn_weights(tmp)
            m = min(args.mrcnn_photos, n)
            t_det, t_ref = detect_vs_refine(tmp / "data", weights, m)
            numbers.update(detect_median_s=t_det, refine_median_s=t_ref, refine_over_detect=t_ref / t_det)
            sub = photos[:m]
            (tmp / "sub").mkdir()
            for p in sub:
                os.symlink(p, tmp / "sub" / p.name)
            seconds, cpu, peak = run_cli(
                ["segment", str(tmp / "sub"), "--weights", str(weights), "--out", str(tmp / "mr1"), "--no-progress"]
            )
            add("segment --weights (R50, 512), 1 process", "mrcnn_single", m, seconds, cpu, f"{peak:.0f}", 1)
            options = SegmentOptions(out_dir=tmp / "mr2", weights=weights)
            seconds, running, cpu, peaks = run_dask(sub, options, args.workers)
            mem = " / ".join(f"{p:.0f}" for p in peaks)
            name = f"segment --weights (R50, 512) --workers {args.workers}"
            add(name, "mrcnn_dask", m, seconds, cpu, mem, args.workers)
            add("  the same, cluster start-up excluded", "mrcnn_dask_running", m, running, cpu, "", args.workers)

    print()
    print(
        "| run | photos/min | time vs io only | CPU s/photo | photos/min on idle CPUs (projected) "
        "| peak memory per process (MiB) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        name, rate, *rest = row
        print(f"| {name} | {rate:.1f} | " + " | ".join(rest) + " |")
    if args.mrcnn:
        print(
            f"\nMask R-CNN detection {numbers['detect_median_s']:.3f} s/photo, refinement "
            f"{numbers['refine_median_s']:.3f} s/photo (medians): refinement adds "
            f"{100 * numbers['refine_over_detect']:.0f} % to detection (target <= 10 %)."
        )
    best = max(numbers["single"]["per_min"], numbers["dask"]["per_min"])
    print(
        f"\nTarget refinement-only >= 120 photos/min: best measured here {best:.1f} "
        f"(load average {os.getloadavg()[0]:.1f} on {cpus} CPUs)."
    )
    if args.json:
        args.json.write_text(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
