"""Training Mask R-CNN on a folder of images and instance labels.

Follows the reference training: SGD with momentum, gradient clipping, L2
weight decay on kernels and biases, frozen BatchNorm, a choice of trainable
layers, checkpoints ``<out_dir>/<name><YYYYMMDDTHHMMSS>/mask_rcnn_<name>_<epoch:04d>.h5``
(each with its JSON config beside it) and a loss log ``loss_log.csv`` in the
same folder. ``epochs`` is the epoch number to train up to, so a resumed run
continues where its last checkpoint stopped.
"""

from __future__ import annotations

import csv
import datetime
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import MaskRCNNConfig
from .dataset import InstanceDataset, Sample, prepare_sample

__all__ = [
    "train",
    "TrainProgress",
    "TrainResult",
    "LOSS_NAMES",
    "learning_rate_at",
    "find_last_checkpoint",
    "new_run_folder",
]

LOSS_NAMES = ("rpn_class_loss", "rpn_bbox_loss", "mrcnn_class_loss", "mrcnn_bbox_loss", "mrcnn_mask_loss")
_CHECKPOINT_RE = re.compile(r"^mask_rcnn_(?P<name>.+)_(?P<epoch>\d{4})\.h5$")
_SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class TrainProgress:
    """What a progress callback receives.

    Attributes
    ----------
    phase : {"train", "val", "epoch"}
        "train" after each training step, "val" after each validation step,
        "epoch" at the end of an epoch (``losses`` then holds epoch means,
        with ``val_`` keys when there is validation data).
    epoch : int
        1-based epoch number.
    epochs : int
        Last epoch of this run.
    step, steps : int
        1-based step within the phase and the number of steps of the phase.
    losses : dict of str to float
        ``loss`` (weighted total) and the five parts (see ``LOSS_NAMES``).
    learning_rate : float
    checkpoint : Path or None
        The checkpoint written at the end of the epoch ("epoch" phase only).
    """

    phase: str
    epoch: int
    epochs: int
    step: int
    steps: int
    losses: dict
    learning_rate: float
    checkpoint: Path | None = None


@dataclass
class TrainResult:
    """Outcome of :func:`train`."""

    log_dir: Path
    checkpoints: list[Path] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    model: object = None


def learning_rate_at(epoch: int, epochs: int, base: float, schedule: str | Callable[[int], float]) -> float:
    """Learning rate of a 0-based ``epoch``.

    Parameters
    ----------
    schedule : {"constant", "step", "cosine"} or callable
        "step" divides by 10 for the last third of the epochs; "cosine" decays
        from ``base`` towards 0 over ``epochs``; a callable gets the epoch and
        returns the rate.
    """
    if callable(schedule):
        return float(schedule(epoch))
    if schedule == "constant":
        return base
    if schedule == "step":
        return base * (0.1 if epoch >= math.ceil(2 * epochs / 3) else 1.0)
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * epoch / max(epochs, 1)))
    raise ValueError(f"lr_schedule must be one of {_SCHEDULES} or a callable, got {schedule!r}.")


def new_run_folder(out_dir: str | Path, name: str) -> Path:
    """Create the folder of a new training run: ``out_dir/<name><YYYYMMDDTHHMMSS>``.

    The folder is created here and must not exist: a run never writes into
    another's. Two runs started in the same second get ``-2``, ``-3``, ...
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    for n in range(1, 10_000):
        folder = out / (f"{name}{stamp}" if n == 1 else f"{name}{stamp}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"cannot find a free name for a new run folder in {out}")


def find_last_checkpoint(out_dir: str | Path, name: str) -> Path | None:
    """Newest checkpoint of the newest run folder ``<name><YYYYMMDDTHHMMSS>[-N]`` in ``out_dir``.

    Run folders named to the minute (``<name><YYYYMMDDTHHMM>``, by earlier
    versions) are found too.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    run_re = re.compile(re.escape(name) + r"(\d{8}T\d{4}(?:\d{2})?)(?:-(\d+))?$")

    def age(folder: Path) -> tuple[str, int]:
        stamp, n = run_re.match(folder.name).groups()
        return stamp.ljust(15, "0"), int(n or 1)

    runs = [d for d in out_dir.iterdir() if d.is_dir() and run_re.match(d.name)]
    for run in sorted(runs, key=age, reverse=True):
        ckpts = sorted(p for p in run.glob(f"mask_rcnn_{name}_*.h5") if _CHECKPOINT_RE.match(p.name))
        if ckpts:
            return ckpts[-1]
    return None


def _epoch_of(checkpoint: Path) -> int:
    m = _CHECKPOINT_RE.match(checkpoint.name)
    if not m:
        raise ValueError(
            f"Cannot resume from {str(checkpoint)!r}: checkpoint names look like mask_rcnn_<name>_0003.h5."
        )
    return int(m.group("epoch"))


def _batch(samples: list[Sample]) -> dict[str, np.ndarray]:
    return {
        "images": np.stack([s.image for s in samples]),
        "gt_class_ids": np.stack([s.gt_class_ids for s in samples]),
        "gt_boxes": np.stack([s.gt_boxes for s in samples]),
        "gt_masks": np.stack([s.gt_masks for s in samples]),
        "rpn_match": np.stack([s.rpn_match for s in samples]),
        "rpn_deltas": np.stack([s.rpn_deltas for s in samples]),
    }


class _Trainer:
    """The compiled training and validation steps for one model."""

    def __init__(self, model, regex: str, optimizer: str):
        import tensorflow as tf
        import tf_keras as keras

        self.tf = tf
        self.model = model
        self.net = model.net
        self.config = model.config
        self.net.set_trainable(regex)
        self.variables = self.net.trainable_variables()
        if not self.variables:
            raise ValueError(f"No layer matches the trainable-layer pattern {regex!r}.")
        bn = keras.layers.BatchNormalization
        decayed = {id(v) for layer in self.net.all_layers if layer.trainable and not isinstance(layer, bn)
                   for v in layer.trainable_weights}
        self.decayed = [v for v in self.variables if id(v) in decayed]
        self.lr = tf.Variable(self.config.learning_rate, trainable=False, dtype=tf.float32)
        if optimizer == "sgd":
            self.optimizer = keras.optimizers.SGD(learning_rate=self.lr, momentum=self.config.learning_momentum)
        elif optimizer == "adam":
            self.optimizer = keras.optimizers.Adam(learning_rate=self.lr)
        else:
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
        self.train_step = tf.function(self._train_step, reduce_retracing=True)
        self.val_step = tf.function(self._losses, reduce_retracing=True)

    def _losses(self, batch, anchors, training=False):
        tf = self.tf
        from . import losses as L
        from . import ops
        from .targets import detection_targets

        cfg = self.config
        images = batch["images"]
        image_shape = tf.shape(images)[1:3]
        pyramid, rpn_logits, rpn_probs, rpn_deltas = self.net.features(images, training=training)
        rois = ops.proposals(
            tf.stop_gradient(rpn_probs), tf.stop_gradient(rpn_deltas), anchors,
            count=cfg.post_nms_rois_training, pre_nms_limit=cfg.pre_nms_limit,
            nms_threshold=cfg.rpn_nms_threshold, rpn_bbox_std_dev=cfg.rpn_bbox_std_dev,
        )
        targets = [
            detection_targets(
                rois[i], batch["gt_class_ids"][i], batch["gt_boxes"][i], batch["gt_masks"][i], cfg
            )
            for i in range(images.shape[0])
        ]
        t_rois, t_ids, t_deltas, t_masks = (tf.stop_gradient(tf.stack(x)) for x in zip(*targets))
        logits, _, deltas = self.net.classifier(t_rois, pyramid, image_shape, training=training)
        # Only positive ROIs carry a mask loss and they come first in each
        # image's targets: running the (costly) mask head on that prefix gives
        # the same loss and gradients as running it on every ROI.
        # At least one ROI: oneDNN's convolution gradient fails on empty batches.
        n_pos = tf.maximum(tf.reduce_max(tf.reduce_sum(tf.cast(t_ids > 0, tf.int32), axis=1)), 1)
        masks = self.net.mask_head(t_rois[:, :n_pos], pyramid, image_shape, training=training)
        parts = [
            L.rpn_class_loss(batch["rpn_match"], rpn_logits),
            L.rpn_bbox_loss(batch["rpn_deltas"], batch["rpn_match"], rpn_deltas),
            L.mrcnn_class_loss(t_ids, logits),
            L.mrcnn_bbox_loss(t_deltas, t_ids, deltas),
            L.mrcnn_mask_loss(t_masks[:, :n_pos], t_ids[:, :n_pos], masks),
        ]
        total = tf.add_n([w * p for w, p in zip(cfg.loss_weights, parts)])
        return total, tf.stack(parts)

    def _train_step(self, batch, anchors):
        tf = self.tf
        cfg = self.config
        with tf.GradientTape() as tape:
            total, parts = self._losses(batch, anchors, training=True)
            # L2 decay normalised by tensor size, as the reference.
            decay = 0.0
            if self.decayed:
                decay = tf.add_n(
                    [tf.reduce_sum(tf.square(v)) / tf.cast(tf.size(v), tf.float32) for v in self.decayed]
                )
            objective = total + cfg.weight_decay * decay
        grads = tape.gradient(objective, self.variables)
        grads, _ = tf.clip_by_global_norm(grads, cfg.gradient_clip_norm)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return total, parts


def train(
    config: MaskRCNNConfig,
    data_dir: str | Path,
    out_dir: str | Path,
    epochs: int = 30,
    layers: str = "heads",
    *,
    init_weights: str | Path | None = None,
    exclude: Iterable[str] = (),
    resume: bool | str | Path = False,
    learning_rate: float | None = None,
    lr_schedule: str | Callable[[int], float] = "constant",
    optimizer: str = "sgd",
    steps_per_epoch: int | None = None,
    validation_steps: int | None = None,
    val_fraction: float = 0.2,
    augment: bool | str = True,
    progress: Callable[[TrainProgress], None] | None = None,
    verbose: bool = True,
    seed: int = 0,
    model=None,
) -> TrainResult:
    """Train a model on a folder of images and instance labels.

    Parameters
    ----------
    config : MaskRCNNConfig
    data_dir : path-like or dataset
        Training folder (layout: :mod:`napari_boostseg.mrcnn.dataset`), or an
        object like :class:`~napari_boostseg.mrcnn.dataset.InstanceDataset`
        (``len()`` and ``load(i) -> (image, masks, class_ids)``), for data
        whose instances overlap or that lives in another layout.
    out_dir : path-like
        Where the run folder ``<name><YYYYMMDDTHHMMSS>`` is created (a new one,
        never an existing one; see :func:`new_run_folder`).
    epochs : int, default 30
        Train up to this epoch number (1-based, inclusive).
    layers : {"heads", "3+", "4+", "5+", "all"} or str, default "heads"
        Layers to train: the heads (RPN, FPN, classifier, mask), ResNet
        stages from 3, 4 or 5 up plus the heads, or everything. Any other
        string is used as a regular expression on layer names.
    init_weights : path-like, optional
        ``.h5`` file to start from (e.g. weights trained on other data).
    exclude : iterable of str, default ()
        Layers of ``init_weights`` not to load; pass
        :data:`~napari_boostseg.mrcnn.weights.CLASS_SPECIFIC_LAYERS` when the
        file has another number of classes.
    resume : bool or path-like, default False
        True continues from the newest checkpoint of ``config.name`` in
        ``out_dir``; a path continues from that checkpoint. The run folder and
        its loss log are reused. (Optimizer momentum restarts from zero.)
    learning_rate : float, optional
        Base rate; ``config.learning_rate`` if omitted.
    lr_schedule : {"constant", "step", "cosine"} or callable, default "constant"
        See :func:`learning_rate_at`.
    optimizer : {"sgd", "adam"}, default "sgd"
        "sgd" (with ``config.learning_momentum``) is the reference choice.
    steps_per_epoch, validation_steps : int, optional
        Defaults from the config. Validation uses at most one pass over the
        held-out images.
    val_fraction : float, default 0.2
        Share of images held out for the validation loss (at least one image
        when there are two or more; none with a single image).
    augment : bool or {"horizontal"}, default True
        True: random horizontal and vertical flips; "horizontal": left-right
        flips only (for upright subjects such as people); False: none.
    progress : callable, optional
        Called with a :class:`TrainProgress` after every step and epoch.
    verbose : bool, default True
        Show a tqdm progress bar.
    seed : int, default 0
        Seeds the split, sampling and flips (TensorFlow ops stay nondeterministic).
    model : MaskRCNN, optional
        Continue training this in-memory model instead of building one.

    Returns
    -------
    TrainResult
        Run folder, written checkpoints, per-epoch loss history, trained model.
    """
    import tensorflow as tf

    from .anchors import anchors_for_shape
    from .graph import LAYER_REGEX
    from .model import MaskRCNN

    if not isinstance(config, MaskRCNNConfig):
        raise ValueError(f"config must be a MaskRCNNConfig, got {type(config).__name__}.")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}.")
    if not isinstance(layers, str) or not layers:
        raise ValueError(f"layers must be one of {sorted(LAYER_REGEX)} or a regular expression, got {layers!r}.")
    regex = LAYER_REGEX.get(layers, layers)
    try:
        re.compile(regex)
    except re.error as exc:
        raise ValueError(
            f"layers={layers!r} is neither {sorted(LAYER_REGEX)} nor a valid regular expression ({exc})."
        ) from None
    steps = steps_per_epoch or config.steps_per_epoch
    base_lr = float(learning_rate if learning_rate is not None else config.learning_rate)
    learning_rate_at(0, epochs, base_lr, lr_schedule)  # validate the schedule early

    if hasattr(data_dir, "load") and hasattr(data_dir, "__len__"):
        dataset = data_dir  # an InstanceDataset-like object built by the caller
    else:
        dataset = InstanceDataset(data_dir, config.class_names)
    if len(dataset) == 0:
        raise ValueError("The training data holds no image.")
    rng = np.random.default_rng(seed)
    tf.random.set_seed(seed)
    order = rng.permutation(len(dataset))
    n_val = 0 if len(dataset) < 2 or val_fraction == 0 else max(1, round(len(dataset) * val_fraction))
    val_ids, train_ids = order[:n_val].tolist(), order[n_val:].tolist()

    start_epoch = 0
    checkpoint = None
    if resume:
        checkpoint = find_last_checkpoint(out_dir, config.name) if resume is True else Path(resume)
        if checkpoint is None:
            raise FileNotFoundError(f"resume=True but {str(out_dir)!r} holds no checkpoint of {config.name!r}.")
        start_epoch = _epoch_of(checkpoint)
        log_dir = checkpoint.parent
    else:
        log_dir = new_run_folder(out_dir, config.name)

    if model is None:
        model = MaskRCNN(config, mode="training")
    elif model.config != config:
        raise ValueError("model.config differs from config; pass the model's own config.")
    if checkpoint is not None:
        model.load_weights(checkpoint)
    elif init_weights is not None:
        model.load_weights(init_weights, exclude=exclude)

    trainer = _Trainer(model, regex, optimizer)
    result = TrainResult(log_dir=log_dir, model=model)
    log_path = log_dir / "loss_log.csv"
    columns = ["epoch", "learning_rate", "loss", *LOSS_NAMES, "val_loss", *(f"val_{n}" for n in LOSS_NAMES)]
    if not log_path.exists():
        with open(log_path, "w", newline="") as fh:
            csv.writer(fh).writerow(columns)

    def batches(ids: list[int], count: int, shuffle: bool, aug: bool):
        pool: list[int] = []
        for _ in range(count):
            chosen = []
            for _ in range(config.images_per_batch):
                if not pool:
                    pool = list(rng.permutation(ids)) if shuffle else list(ids)
                chosen.append(pool.pop(0))
            samples = [prepare_sample(*dataset.load(i), config, rng, augment=aug) for i in chosen]
            yield _batch(samples)

    def to_tensors(batch):
        return {k: tf.convert_to_tensor(v) for k, v in batch.items()}

    for epoch in range(start_epoch, epochs):
        lr = learning_rate_at(epoch, epochs, base_lr, lr_schedule)
        trainer.lr.assign(lr)
        bar = None
        if verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=steps, desc=f"epoch {epoch + 1}/{epochs}", unit="step")
        sums = np.zeros(len(LOSS_NAMES) + 1)
        for step, batch in enumerate(batches(train_ids, steps, True, augment), start=1):
            anchors = anchors_for_shape(config, batch["images"].shape[1:3])
            total, parts = trainer.train_step(to_tensors(batch), tf.constant(anchors))
            values = np.concatenate([[float(total)], parts.numpy()])
            if not np.all(np.isfinite(values)):
                raise FloatingPointError(
                    f"Training diverged at epoch {epoch + 1}, step {step} (losses {values.tolist()}); "
                    "lower the learning rate."
                )
            sums += values
            losses = dict(zip(("loss", *LOSS_NAMES), values.tolist()))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{values[0]:.3f}")
            if progress is not None:
                progress(TrainProgress("train", epoch + 1, epochs, step, steps, losses, lr))
        if bar is not None:
            bar.close()
        record = {"epoch": epoch + 1, "learning_rate": lr}
        record.update(zip(("loss", *LOSS_NAMES), (sums / steps).tolist()))
        if val_ids:
            n_val_steps = min(
                validation_steps or config.validation_steps,
                math.ceil(len(val_ids) / config.images_per_batch),
            )
            vsums = np.zeros(len(LOSS_NAMES) + 1)
            for step, batch in enumerate(batches(val_ids, n_val_steps, False, False), start=1):
                anchors = anchors_for_shape(config, batch["images"].shape[1:3])
                total, parts = trainer.val_step(to_tensors(batch), tf.constant(anchors))
                values = np.concatenate([[float(total)], parts.numpy()])
                vsums += values
                if progress is not None:
                    progress(TrainProgress("val", epoch + 1, epochs, step, n_val_steps,
                                           dict(zip(("loss", *LOSS_NAMES), values.tolist())), lr))
            record.update(zip((f"val_{n}" for n in ("loss", *LOSS_NAMES)), (vsums / n_val_steps).tolist()))
        ckpt = model.save_weights(log_dir / f"mask_rcnn_{config.name}_{epoch + 1:04d}.h5")
        result.checkpoints.append(ckpt)
        result.history.append(record)
        with open(log_path, "a", newline="") as fh:
            csv.writer(fh).writerow([record.get(c, "") for c in columns])
        if progress is not None:
            progress(TrainProgress("epoch", epoch + 1, epochs, steps, steps, dict(record), lr, ckpt))
    return result
