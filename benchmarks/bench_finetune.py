"""Does the review-and-train loop teach the bundled model a product it misses?

The bundled garment model learnt from street photos. On a studio photo of a
single product on a backdrop it often finds fragments or the wrong garment
group (see the README's *Bundled garment model*); of the four garment groups
a single-product photo shows, it misses bottoms (trousers, shorts, skirts)
most (``--survey``, on training-seed photos). This benchmark plays a studio's
loop on generated studio photos (:mod:`napari_boostseg.synthetic.studio`) of
one bottom each:

1. 12 photos of training seeds (bottoms cut out of CCP training photos
   0001-0700) are accepted in a :class:`~napari_boostseg.shoot.Shoot` with
   their true masks, as a person's corrections would leave them;
2. the bundled model is fine-tuned on that review folder as the Train widget
   does it (:func:`napari_boostseg.mrcnn.training.train`, heads only, Adam,
   the bundled model's 384 px input), for a few minutes on the CPU;
3. the bundled and the fine-tuned model are measured on held-out photos of
   development seeds (bottoms of CCP photos 0701-0800, never trained on):

   * AP50 of class ``bottom`` (mask IoU >= 0.5; detections down to a score of
     0.05 are ranked);
   * products found: true bottoms with a confident detection (score >= the
     model's threshold) of any garment class at IoU >= 0.5;
   * refined IoU: each true bottom's IoU with the object refinement makes from
     the confident garment detections (0 for one nothing covers), as
     Detect with *find products: model* and Refine would give it.

It prints the wall time of each part. Usage::

    python benchmarks/bench_finetune.py                   # 12 photos, 4 x 15 steps, ~9 min
    python benchmarks/bench_finetune.py --steps 10 --epochs 2 --dev 8   # quicker
    python benchmarks/bench_finetune.py --survey --train 8              # which kind it misses
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _data import CCP, require  # noqa: E402

#: The product kind the bundled model misses on a studio backdrop (``--survey`` measures each).
KIND = "bottom"
TRAIN_SEED = 1_300_000
DEV_SEED = 2_300_000


def kind_photos(ids, seed: int, count: int, size: int, kind: str = KIND):
    """``count`` studio photos of one product of ``kind`` each, cut out of CCP photos ``ids``."""
    from napari_boostseg.synthetic import studio

    cutouts = [c for c in studio.ccp_cutouts(CCP, ids) if c.kind == kind]
    return [studio.render(cutouts, seed + i, layout="single", size=size) for i in range(count)]


def measure(weights, photos, kind: str = KIND) -> dict:
    """AP50 of the kind, products found and refined IoU of ``weights`` on ``photos``."""
    from napari_boostseg import refine
    from napari_boostseg.metrics import match_instances
    from napari_boostseg.models import GARMENT_CLASSES
    from napari_boostseg.mrcnn import MaskRCNNConfig, load_model
    from napari_boostseg.mrcnn.evaluation import APAccumulator
    from napari_boostseg.mrcnn.model import config_path_for

    config = MaskRCNNConfig.from_json(config_path_for(weights))
    threshold = config.detection_min_confidence
    model = load_model(weights, config=config.replace(detection_min_confidence=0.05))
    names = tuple(config.class_names)
    acc = APAccumulator(names)
    found, refined_iou, coarse_iou = 0, [], []
    for photo in photos:
        dets = model.detect([photo.image])[0]
        n_true = int(photo.truth.max())
        true_masks = np.stack([photo.truth == k for k in range(1, n_true + 1)], axis=2)
        true_classes = np.array([names.index(kind) for kind in photo.kinds])
        acc.add(np.moveaxis(dets.masks, 0, 2), dets.class_ids, dets.scores, true_masks, true_classes)
        garments = tuple(c for c in GARMENT_CLASSES if c in names)
        confident = dets.select(garments)
        keep = confident.scores >= threshold
        coarse = np.zeros(photo.truth.shape, np.int32)
        for rank, i in enumerate(np.flatnonzero(keep)[np.argsort(-confident.scores[keep], kind="stable")], 1):
            coarse[confident.masks[i] & (coarse == 0)] = rank
        refined = refine(photo.image, coarse) if coarse.any() else coarse
        for iou_c, _ in match_instances(coarse, photo.truth):
            coarse_iou.append(iou_c)
            found += iou_c >= 0.5
        refined_iou.extend(iou for iou, _ in match_instances(refined, photo.truth))
    return {
        "ap50": acc.per_class()[kind],
        "found": found,
        "products": len(refined_iou),
        "coarse_iou": float(np.mean(coarse_iou)),
        "refined_iou": float(np.mean(refined_iou)),
    }


def accept_all(photos, folder: Path) -> Path:
    """Accept every photo with its true masks in a shoot review, as corrections would."""
    from PIL import Image

    from napari_boostseg.shoot import Shoot

    shoot_dir = folder / "shoot"
    shoot_dir.mkdir(parents=True)
    for photo in photos:
        Image.fromarray(photo.image).save(shoot_dir / f"{photo.name}.png", compress_level=1)
    shoot = Shoot(shoot_dir, folder / "review")
    for photo in photos:
        shoot.accept(photo.name, photo.truth, {k: kind for k, kind in enumerate(photo.kinds, 1)},
                     pixels=photo.image)
    return folder / "review"


def line(label: str, m: dict) -> str:
    return (f"{label:<12} {m['ap50']:>6.3f} {m['found']:>4}/{m['products']:<4} "
            f"{m['coarse_iou']:>11.3f} {m['refined_iou']:>12.3f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train", type=int, default=12, help="accepted photos to fine-tune on")
    parser.add_argument("--dev", type=int, default=12, help="held-out photos to measure on")
    parser.add_argument("--size", type=int, default=960, help="long side of the photos, px")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=15, help="steps per epoch")
    parser.add_argument("--batch", type=int, default=2, help="photos per step")
    parser.add_argument("--lr", type=float, default=0.0001, help="learning rate")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="adam",
                        help="adam: as the Train widget trains")
    parser.add_argument("--check", type=int, default=0,
                        help="also measure on this many other training-seed photos (to choose settings on)")
    parser.add_argument("--keep", type=Path, help="keep the review folder and checkpoints here")
    parser.add_argument("--survey", action="store_true",
                        help="only measure the bundled model on training-seed photos of each garment kind")
    args = parser.parse_args(argv)

    from napari_boostseg.models import default_weights
    from napari_boostseg.mrcnn import MaskRCNNConfig
    from napari_boostseg.mrcnn.model import config_path_for
    from napari_boostseg.mrcnn.training import train
    from napari_boostseg.synthetic.studio import DEV_CUTOUT_IDS, TRAIN_CUTOUT_IDS

    require(CCP)
    bundled = default_weights()
    if args.survey:  # which kind does it miss? Asked of training photos only
        print(f"bundled model, {args.train} training-seed photos of one product each")
        print(f"{'kind':<12} {'AP50':>6} {'found':>9} {'IoU coarse':>11} {'IoU refined':>12}")
        for kind in ("top", "outerwear", "bottom", "dress"):  # the kinds a single-product photo shows
            photos = kind_photos(TRAIN_CUTOUT_IDS, TRAIN_SEED, args.train, args.size, kind)
            print(line(kind, measure(bundled, photos, kind)), flush=True)
        return 0
    t0 = time.perf_counter()
    train_photos = kind_photos(TRAIN_CUTOUT_IDS, TRAIN_SEED, args.train, args.size)
    dev_photos = kind_photos(DEV_CUTOUT_IDS, DEV_SEED, args.dev, args.size)
    check_photos = kind_photos(TRAIN_CUTOUT_IDS, TRAIN_SEED + 1000, args.check, args.size) if args.check else []
    t_render = time.perf_counter() - t0
    print(f"{args.train} training and {args.dev} held-out photos of one {KIND} each, "
          f"{args.size} px, rendered in {t_render:.0f} s", flush=True)

    t0 = time.perf_counter()
    before = measure(bundled, dev_photos)
    check_before = measure(bundled, check_photos) if check_photos else None
    t_before = time.perf_counter() - t0
    print(f"bundled model measured in {t_before:.0f} s", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        review = accept_all(train_photos, folder)
        config = MaskRCNNConfig.from_json(config_path_for(bundled)).replace(
            images_per_batch=args.batch, name="finetune"
        )

        def progress(p) -> None:
            if p.phase == "epoch":
                print(f"  epoch {p.epoch}/{p.epochs}: loss {p.losses['loss']:.3f}", flush=True)

        t0 = time.perf_counter()
        result = train(
            config, review, folder / "runs", epochs=args.epochs, layers="heads",
            init_weights=bundled, learning_rate=args.lr, steps_per_epoch=args.steps,
            val_fraction=0.0, augment="horizontal", progress=progress, verbose=False,
            optimizer=args.optimizer,
        )
        t_train = time.perf_counter() - t0
        print(f"fine-tuned on {args.train} accepted photos: {args.epochs} x {args.steps} steps of "
              f"{args.batch} photos in {t_train:.0f} s ({t_train / (args.epochs * args.steps):.2f} s a step)",
              flush=True)
        t0 = time.perf_counter()
        after = measure(result.checkpoints[-1], dev_photos)
        t_after = time.perf_counter() - t0
        check_after = measure(result.checkpoints[-1], check_photos) if check_photos else None

    print(f"\n{'model':<12} {'AP50':>6} {'found':>9} {'IoU coarse':>11} {'IoU refined':>12}")
    print(line("bundled", before))
    print(line("fine-tuned", after))
    if check_photos:
        print(f"on {args.check} other training-seed photos (for choosing settings):")
        print(line("bundled", check_before))
        print(line("fine-tuned", check_after))
    print(f"\nwall time: rendering {t_render:.0f} s, measuring {t_before:.0f} + {t_after:.0f} s, "
          f"fine-tuning {t_train:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
