"""Train the default garment model that ships with the package.

    python scripts/train_default_model.py --ccp ../shared/data/ccp --out runs
    python scripts/train_default_model.py --studio --init bundled --layers heads --epochs 4 --lr 1e-4

The first trains from scratch on CCP photos 0001-0800 (never on the
development split 0801-0900). The second fine-tunes the bundled model on CCP
photos mixed one to one with generated studio photos
(:mod:`napari_boostseg.synthetic.studio`, products cut out of CCP photos
0001-0700 and laid on rendered backdrops, training seeds), so that it also
finds whole products on a backdrop. Either holds 5 % of the images out for the
validation loss and writes a checkpoint and its JSON config after every epoch
to ``runs/garments<YYYYMMDDTHHMMSS>/``. The run is resumable: ``--resume``
continues from the newest checkpoint with the same learning-rate schedule.
``--studio-every N`` mixes one generated photo in every N instead, and
``--freeze-bn`` keeps the BatchNorm layers as they are (both for fine-tuning
the shipped model, so that it keeps what it learnt from street photos).
``--ship CHECKPOINT`` copies a checkpoint into the package as the default
model (float16 storage, see :func:`napari_boostseg.mrcnn.weights.save_weights`).

``--studio-only`` trains on generated studio photos alone, most of them of
touching products, and ``--with-people`` adds people standing on a backdrop
(one "person" object each): that is how the product model, which splits
touching products on a backdrop, is fine-tuned from the default model (see
README); ``--ship-products CHECKPOINT`` copies it into the package.

The network is built to train from scratch on a 2-core CPU in about two hours
(no pre-trained weights can be downloaded here): a ResNet-50 at half width,
128-channel FPN and mask head, 384 px input, 64 sampled ROIs per image, trained
BatchNorm, Adam with a cosine schedule.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_boostseg.mrcnn import MaskRCNNConfig
from napari_boostseg.synthetic import ccp as ccp_instances

EPOCHS = 21
STEPS_PER_EPOCH = 150
#: First seed of the generated training photos (development photos use others).
STUDIO_TRAIN_SEED = 1_000_000
#: Layouts of the generated training photos: a person's garments are not
#: labelled in a generated photo, so people come from CCP only.
STUDIO_LAYOUTS = ("single", "set", "touching", "cut")
#: Layouts of ``--studio-only``: two photos in five of touching products.
PRODUCT_LAYOUTS = ("touching", "touching", "set", "single", "cut")
#: Layouts of ``--studio-only --with-people``: a person in every six photos.
PRODUCT_LAYOUTS_WITH_PEOPLE = ("touching", "person", "touching", "set", "single", "cut")


def default_config() -> MaskRCNNConfig:
    """The configuration of the default garment model."""
    return MaskRCNNConfig(
        name="garments",
        class_names=ccp_instances.CLASS_NAMES,
        backbone="resnet50",
        backbone_width=0.5,
        image_min_dim=256,
        image_max_dim=384,
        rpn_anchor_scales=(16, 32, 64, 128, 256),
        top_down_pyramid_size=128,
        fpn_classif_fc_layers_size=512,
        train_rois_per_image=64,
        post_nms_rois_training=500,
        post_nms_rois_inference=300,
        pre_nms_limit=2000,
        rpn_train_anchors_per_image=128,
        max_gt_instances=20,
        detection_max_instances=30,
        detection_min_confidence=0.5,
        images_per_batch=4,
        steps_per_epoch=STEPS_PER_EPOCH,
        validation_steps=5,
        train_bn=True,
        learning_rate=1e-3,
    )


class StudioInstances:
    """Generated studio photos as a training dataset (``len()`` and ``load(i)``).

    Photo ``i`` is rendered anew on each load from seed ``seed + i``: one in
    four is a hard case. Each product is one instance of its garment group.
    """

    def __init__(
        self, ccp_dir, count: int = 4000, seed: int = STUDIO_TRAIN_SEED, size: int = 576,
        layouts: tuple[str, ...] = STUDIO_LAYOUTS,
    ):
        from napari_boostseg.synthetic import studio

        self.studio = studio
        people = "person" in layouts
        self.cutouts = [c for c in studio.ccp_cutouts(ccp_dir, studio.TRAIN_CUTOUT_IDS) if people or c.kind != "person"]
        self.count, self.seed, self.size, self.layouts = count, seed, size, layouts

    def __len__(self) -> int:
        return self.count

    def load(self, index: int):
        import numpy as np

        rng = np.random.default_rng(self.seed + index)
        layout = self.layouts[index % len(self.layouts)]
        hard = None if rng.random() < 0.75 else str(rng.choice(self.studio.FIRST_HARD_CASES))
        photo = self.studio.render(self.cutouts, self.seed + index, layout=layout, hard=hard, size=self.size)
        n = int(photo.truth.max())
        masks = np.stack([photo.truth == k for k in range(1, n + 1)], axis=2)
        classes = np.array([ccp_instances.CLASS_NAMES.index(kind) for kind in photo.kinds], np.int32)
        return photo.image, masks, classes


class Mixed:
    """Two datasets interleaved: one of ``second`` after every ``every - 1`` of ``first``.

    ``every=2`` mixes them one to one; the shorter one repeats.
    """

    def __init__(self, first, second, every: int = 2):
        if every < 2:
            raise ValueError(f"every must be 2 or more, got {every}.")
        self.first, self.second, self.every = first, second, every

    def __len__(self) -> int:
        return self.every * max(-(-len(self.first) // (self.every - 1)), len(self.second))

    def load(self, index: int):
        turn, slot = divmod(index, self.every)
        if slot == self.every - 1:
            return self.second.load(turn % len(self.second))
        return self.first.load((turn * (self.every - 1) + slot) % len(self.first))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ccp", type=Path, default=Path("../shared/data/ccp"), help="CCP folder")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="folder of the run folders")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="train up to this epoch")
    parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    parser.add_argument("--ship", type=Path, help="copy this checkpoint into the package and stop")
    parser.add_argument(
        "--ship-products", type=Path, metavar="CHECKPOINT",
        help="copy this checkpoint into the package as the product model and stop",
    )
    parser.add_argument(
        "--studio-only", action="store_true",
        help="train on generated studio photos only, mostly touching products (the product model)",
    )
    parser.add_argument("--with-people", action="store_true", help="with --studio-only: add people on a backdrop")
    parser.add_argument(
        "--studio", action="store_true", help="mix in generated studio photos (one to one unless --studio-every)"
    )
    parser.add_argument(
        "--studio-every", type=int, default=2, metavar="N",
        help="with --studio: one generated photo in every N (default 2: one to one)",
    )
    parser.add_argument(
        "--freeze-bn", action="store_true",
        help="keep BatchNorm statistics and scales as they are (for fine-tuning a trained model)",
    )
    parser.add_argument("--init", help="start from these weights ('bundled': the shipped model)")
    parser.add_argument("--lr", type=float, help="base learning rate (default: the config's)")
    parser.add_argument(
        "--layers", default="all", choices=("heads", "4+", "3+", "all"),
        help="layers to train: 'heads' keeps the backbone as it is (fine-tuning), default 'all'",
    )
    args = parser.parse_args(argv)
    if args.studio_every < 2:
        parser.error(f"--studio-every must be 2 or more (one generated photo in every N), got {args.studio_every}")
    if args.studio_every != 2 and not args.studio:
        parser.error("--studio-every needs --studio")
    if args.with_people and not args.studio_only:
        parser.error("--with-people needs --studio-only")
    if args.studio_only and args.studio:
        parser.error("--studio mixes studio photos into CCP; --studio-only trains on studio photos alone")

    if args.ship_products is not None:
        from napari_boostseg.models import PRODUCT_WEIGHTS

        out = ship(args.ship_products, PRODUCT_WEIGHTS)
        print(f"product model written to {out} ({out.stat().st_size / 1e6:.1f} MB) and {out.with_suffix('.json')}")
        return 0

    if args.ship is not None:
        out = ship(args.ship)
        print(f"default model written to {out} ({out.stat().st_size / 1e6:.1f} MB) and {out.with_suffix('.json')}")
        return 0

    from napari_boostseg.mrcnn.training import train

    config = default_config()
    if args.freeze_bn:
        config = config.replace(train_bn=False)
    if args.studio_only:
        layouts = PRODUCT_LAYOUTS_WITH_PEOPLE if args.with_people else PRODUCT_LAYOUTS
        data = StudioInstances(args.ccp, layouts=layouts)
    else:
        data = ccp_instances.CCPInstances(args.ccp, ccp_instances.TRAIN_IDS)
        if args.studio:
            data = Mixed(data, StudioInstances(args.ccp), every=args.studio_every)
    init = args.init
    if init == "bundled":
        from napari_boostseg.models import DEFAULT_WEIGHTS

        init = DEFAULT_WEIGHTS
    result = train(
        config,
        data,
        args.out,
        epochs=args.epochs,
        layers=args.layers,
        init_weights=init,
        learning_rate=args.lr,
        resume=args.resume,
        lr_schedule="cosine",
        optimizer="adam",
        val_fraction=0.05,
        augment="horizontal",
        verbose=False,
        progress=_print_epoch,
    )
    print(f"checkpoints in {result.log_dir}")
    return 0


def ship(checkpoint: Path, target: Path | None = None) -> Path:
    """Copy a checkpoint into the package (default: as the default model), stored as float16."""
    from napari_boostseg.models import DEFAULT_WEIGHTS
    from napari_boostseg.mrcnn import MaskRCNN, MaskRCNNConfig
    from napari_boostseg.mrcnn.model import config_path_for

    config = MaskRCNNConfig.from_json(config_path_for(checkpoint))
    # Frozen or trained BatchNorm is a choice of the training, not of the network.
    if config.replace(train_bn=True) != default_config():
        raise SystemExit(f"{checkpoint} was not trained with this script's configuration")
    model = MaskRCNN(config)
    model.load_weights(checkpoint)
    return model.save_weights(target or DEFAULT_WEIGHTS, dtype="float16")


def _print_epoch(p) -> None:
    if p.phase == "epoch":
        parts = " ".join(f"{k}={v:.3f}" for k, v in p.losses.items() if k not in ("epoch", "learning_rate"))
        print(f"epoch {p.epoch}/{p.epochs} lr={p.learning_rate:.2e} {parts} -> {p.checkpoint}", flush=True)
    elif p.phase == "train" and p.step % 25 == 0:
        print(f"  epoch {p.epoch} step {p.step}/{p.steps} loss={p.losses['loss']:.3f}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
