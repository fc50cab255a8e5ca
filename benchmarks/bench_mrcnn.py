"""Benchmark of the Mask R-CNN subpackage on this machine.

Measures, per backbone and compute precision: model build time, time to load
a reference-layout ``.h5`` file, end-to-end ``detect`` time (molding, network,
unmolding) for a 2400x1600 RGB photo at IMAGE_MAX_DIM 512 and 1024, the
process's peak memory, and the time of one training step at 256x256.

Each case runs in its own subprocess so that peak memory (max RSS) belongs to
that case alone. Weights are random: timings do not depend on the values,
except that more detections mean more unmolding work, so the images are
detected with the default confidence threshold (random weights give few or no
detections; the "dets" column says how many).

Usage::

    python benchmarks/bench_mrcnn.py                       # full table
    python benchmarks/bench_mrcnn.py --backbones resnet50 --sizes 512 --repeats 2
    python benchmarks/bench_mrcnn.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _detect_case(backbone: str, size: int, precision: str, repeats: int) -> dict:
    import numpy as np

    from napari_boostseg.mrcnn import MaskRCNN, MaskRCNNConfig

    cfg = MaskRCNNConfig(
        name="bench", class_names=("BG", "object"), backbone=backbone,
        image_min_dim=min(800, size), image_max_dim=size,
    )
    t0 = time.perf_counter()
    model = MaskRCNN(cfg, precision=precision)
    build_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save_weights(Path(tmp) / "w.h5", write_config=False)
        size_mb = path.stat().st_size / 2**20
        t0 = time.perf_counter()
        model.load_weights(path)
        load_s = time.perf_counter() - t0
    image = np.random.default_rng(0).integers(0, 256, (1600, 2400, 3), dtype=np.uint8)
    t0 = time.perf_counter()
    dets = model.detect([image])[0]
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        dets = model.detect([image])[0]
        times.append(time.perf_counter() - t0)
    return {
        "case": "detect", "backbone": backbone, "size": size, "precision": precision,
        "build_s": build_s, "load_s": load_s, "file_mb": size_mb, "first_detect_s": first_s,
        "detect_s": statistics.median(times), "detect_min_s": min(times), "dets": len(dets),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _train_case(backbone: str, repeats: int, batch: int) -> dict:
    import numpy as np
    import tensorflow as tf

    from napari_boostseg.mrcnn import MaskRCNN, MaskRCNNConfig
    from napari_boostseg.mrcnn.anchors import anchors_for_shape
    from napari_boostseg.mrcnn.dataset import prepare_sample
    from napari_boostseg.mrcnn.training import _batch, _Trainer

    cfg = MaskRCNNConfig(
        name="bench", class_names=("BG", "object"), backbone=backbone,
        image_min_dim=256, image_max_dim=256, images_per_batch=batch,
    )
    model = MaskRCNN(cfg, mode="training")
    trainer = _Trainer(model, r".*", "sgd")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    masks = np.zeros((256, 256, 2), bool)
    masks[40:120, 30:150, 0] = True
    masks[150:230, 100:220, 1] = True
    samples = [prepare_sample(image, masks, np.array([1, 1]), cfg, rng) for _ in range(batch)]
    batch_t = {k: tf.convert_to_tensor(v) for k, v in _batch(samples).items()}
    anchors = tf.constant(anchors_for_shape(cfg, (256, 256)))
    t0 = time.perf_counter()
    trainer.train_step(batch_t, anchors)
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        total, _ = trainer.train_step(batch_t, anchors)
        float(total)
        times.append(time.perf_counter() - t0)
    return {
        "case": "train", "backbone": backbone, "size": 256, "batch": batch, "first_step_s": first_s,
        "step_s": statistics.median(times), "step_min_s": min(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _run_child(args: list[str]) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark case {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbones", nargs="+", default=["resnet50", "resnet101"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[512, 1024])
    parser.add_argument("--precisions", nargs="+", default=["float32", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after the first (median reported)")
    parser.add_argument("--train-batch", type=int, default=1, help="images per training step")
    parser.add_argument("--no-train", action="store_true", help="skip the training-step case")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind == "detect":
            result = _detect_case(rest[0], int(rest[1]), rest[2], int(rest[3]))
        else:
            result = _train_case(rest[0], int(rest[1]), int(rest[2]))
        print(json.dumps(result))
        return 0

    load = os.getloadavg()
    print(f"CPU cores: {os.cpu_count()}, load average before: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    results = []
    print(
        "| backbone | precision | IMAGE_MAX_DIM | build s | load .h5 s (MB) | first detect s "
        "| detect s (median) | dets | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for backbone in args.backbones:
        for precision in args.precisions:
            for size in args.sizes:
                r = _run_child(["detect", backbone, str(size), precision, str(args.repeats)])
                results.append(r)
                print(
                    f"| {backbone} | {precision} | {size} | {r['build_s']:.1f} | {r['load_s']:.2f} "
                    f"({r['file_mb']:.0f}) | {r['first_detect_s']:.1f} | {r['detect_s']:.2f} | {r['dets']} "
                    f"| {r['peak_rss_mb']:.0f} |",
                    flush=True,
                )
    if not args.no_train:
        print()
        print("| training step | backbone | size | batch | first step s | step s (median) | peak RSS MB |")
        print("|---|---|---|---|---|---|---|")
        r = _run_child(["train", "resnet50", str(args.repeats), str(args.train_batch)])
        results.append(r)
        print(f"| all layers, SGD | {r['backbone']} | 256x256 | {r['batch']} | {r['first_step_s']:.1f} "
              f"| {r['step_s']:.2f} | {r['peak_rss_mb']:.0f} |", flush=True)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
