"""The Train widget: fine-tune the Mask R-CNN on accepted photos.

A thin shell over :func:`napari_boostseg.mrcnn.training.train`, which runs
in a child process (:mod:`._trainer`), so TensorFlow stays out of napari and
Cancel stops at once, keeping the checkpoints of the finished epochs. The
newest checkpoint is offered to every Detect widget of the viewer as soon as
it is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import ComboBox, Container, FileEdit, ProgressBar, PushButton, SpinBox
from napari.utils.notifications import show_warning

from .. import files
from ..coarse_masks import config_classes
from ..models import default_weights
from ._widgets import DetectWidget, _add_full_width, _report_error, _start, _status_label, same_viewer

if TYPE_CHECKING:
    import napari

LEARNING_RATES = (0.001, 0.0003, 0.0001, 0.00003)


def _loss_plot():
    """A small Qt widget that draws the training loss, step by step."""
    from qtpy.QtCore import QPointF, Qt
    from qtpy.QtGui import QColor, QPainter, QPen
    from qtpy.QtWidgets import QWidget

    class LossPlot(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.losses: list[float] = []
            self.setMinimumHeight(90)
            self.setToolTip("Training loss, one point per step")

        def set_losses(self, losses: list[float]) -> None:
            self.losses = list(losses)
            self.update()

        def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
            painter = QPainter(self)
            painter.fillRect(self.rect(), QColor(38, 41, 48))
            finite = [v for v in self.losses if v == v]
            if len(finite) < 2:
                painter.setPen(QColor(150, 150, 150))
                painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "loss")
                return
            lo, hi = min(finite), max(finite)
            span = hi - lo or 1.0
            w, h, pad = self.width(), self.height(), 6
            points = [
                QPointF(pad + i * (w - 2 * pad) / (len(finite) - 1), h - pad - (v - lo) / span * (h - 2 * pad))
                for i, v in enumerate(finite)
            ]
            painter.setPen(QPen(QColor(255, 160, 40), 2))
            for a, b in zip(points, points[1:]):
                painter.drawLine(a, b)
            painter.setPen(QColor(200, 200, 200))
            painter.drawText(pad, pad + 10, f"{hi:.3f}")
            painter.drawText(pad, h - pad, f"{lo:.3f}")

    return LossPlot()


def _model_classes(weights: Path) -> tuple[str, ...]:
    try:
        return config_classes(weights)
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None


def check_training_data(data: Path, class_names: tuple[str, ...]) -> int:
    """Number of photos with labels in ``data``; ValueError saying what is wrong otherwise."""
    from napari_boostseg.mrcnn.dataset import InstanceDataset

    try:
        dataset = InstanceDataset(data, class_names)
    except FileNotFoundError as exc:
        raise ValueError(f"{exc} Accept photos in Shoot review first.") from None
    for _image, labels in dataset.items:
        names = (files.read_classes(labels) or {}).values()
        unknown = sorted({n for n in names if isinstance(n, str) and n not in class_names[1:]})
        if unknown:
            raise ValueError(
                f"{files.sidecar_path(labels).name} has classes {unknown} that the model does not know "
                f"(it knows {list(class_names[1:])}); change them or start from another model."
            )
    return len(dataset)


def _new_folder(runs: Path) -> Path:
    """A folder in ``runs`` that no earlier run used (named by the time, to the second)."""
    import datetime

    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    out, n = runs / stamp, 1
    while out.exists():
        n += 1
        out = runs / f"{stamp}-{n}"
    return out


class TrainWidget(Container):
    """Fine-tune a Mask R-CNN on a folder of accepted photos."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.synchronous = False
        self.worker = None
        self.trainer = None
        self.losses: list[float] = []
        self.checkpoint: Path | None = None
        self._run_id = 0
        self.data = FileEdit(
            label="training data", mode="d", value="",
            tooltip="A folder with images/ and labels/: the Shoot review folder.",
        )
        self.weights = FileEdit(
            label="start from", mode="r", filter="*.h5", value=default_weights() or "",
            tooltip="Weights to fine-tune (.h5 with its .json config); the bundled model by default.",
        )
        self.out = FileEdit(
            label="runs folder", mode="d", value="",
            tooltip="Each run gets a new folder here for its checkpoints. Empty: <training data>/runs.",
        )
        self.epochs = SpinBox(label="epochs", value=3, min=1, max=1000)
        self.steps = SpinBox(label="steps per epoch", value=20, min=1, max=100_000)
        self.layers = ComboBox(
            label="layers", choices=["heads", "all"], value="heads",
            tooltip="heads: only the detection and mask heads learn (fast, few photos); all: every layer.",
        )
        self.learning_rate = ComboBox(
            label="learning rate", choices=[(f"{lr:g}", lr) for lr in LEARNING_RATES], value=0.0001,
            tooltip="Of the Adam optimizer. 0.0001 taught the bundled model a missed product "
            "from 12 photos in 60 steps (benchmarks/bench_finetune.py).",
        )
        self.train_button = PushButton(text="Train")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=1, value=0, visible=False)
        self.status = _status_label()
        self.plot = _loss_plot()
        self.extend([
            self.data, self.weights, self.out, self.epochs, self.steps, self.layers,
            self.learning_rate,
            Container(widgets=[self.train_button, self.cancel_button], layout="horizontal", labels=False),
            self.progress,
        ])
        _add_full_width(self, self.status)
        self.native.layout().addWidget(self.plot)
        self.train_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)

    def _request(self) -> dict:
        data = Path(str(self.data.value))
        if str(self.data.value) in ("", ".") or not data.is_dir():
            raise ValueError(
                "Choose the training data: a folder with images/ and labels/ (the Shoot review folder)."
            )
        weights = Path(str(self.weights.value))
        if str(self.weights.value) in ("", ".") or not weights.is_file():
            raise ValueError(f"Weights to start from not found: {weights}. Choose a .h5 file.")
        n = check_training_data(data, _model_classes(weights))
        runs = Path(str(self.out.value)) if str(self.out.value) not in ("", ".") else data / "runs"
        out = _new_folder(runs)
        return {
            "data": str(data), "weights": str(weights), "out": str(out), "photos": n,
            "epochs": int(self.epochs.value), "layers": self.layers.value,
            "learning_rate": float(self.learning_rate.value), "steps_per_epoch": int(self.steps.value),
            "optimizer": "adam",
        }

    def run(self) -> None:
        """Start fine-tuning in a child process."""
        from ._trainer import Trainer

        if self.worker is not None:
            show_warning("Training is running; wait for it or press Cancel.")
            return
        try:
            request = self._request()
        except (ValueError, OSError) as exc:
            _report_error(self.status, str(exc))
            return
        self._run_id += 1
        run_id = self._run_id
        self.losses, self.checkpoint = [], None
        self.plot.set_losses([])
        self.trainer = trainer = Trainer()

        def work():
            return (yield from trainer.train(request))

        self._busy(True, request["epochs"] * request["steps_per_epoch"])
        self.status.value = f"Starting TensorFlow; training on {request['photos']} photo(s)…"
        self.worker = _start(
            work,
            yielded=lambda p: self._progress(run_id, p),
            returned=lambda result: self._done(run_id, result),
            errored=lambda exc: self._failed(run_id, exc),
            finished=lambda: self._finished(run_id),
            synchronous=self.synchronous,
        )

    def cancel(self) -> None:
        """Stop training now; the checkpoints of finished epochs stay."""
        if self.worker is None:
            return
        self.worker.quit()
        self.trainer.stop()
        self._run_id += 1
        self.worker = None
        self._busy(False)
        if self.checkpoint is not None:
            self.status.value = f"Cancelled; the last checkpoint is kept and Detect uses it: {self.checkpoint}"
        else:
            self.status.value = "Cancelled before the first epoch ended; no checkpoint."

    def _busy(self, busy: bool, steps: int = 1) -> None:
        self.train_button.enabled = not busy
        self.cancel_button.enabled = busy
        self.progress.visible = busy
        if busy:
            self.progress.max = max(steps, 1)
            self.progress.value = 0

    def _progress(self, run_id: int, p: dict) -> None:
        if run_id != self._run_id:
            return
        if p["phase"] == "train":
            self.losses.append(p["loss"])
            self.plot.set_losses(self.losses)
            self.progress.value = min((p["epoch"] - 1) * p["steps"] + p["step"], self.progress.max)
            self.status.value = (
                f"Epoch {p['epoch']}/{p['epochs']}, step {p['step']}/{p['steps']}: loss {p['loss']:.3f}"
            )
        elif p["phase"] == "epoch" and p.get("checkpoint"):
            self.checkpoint = Path(p["checkpoint"])
            self._offer(self.checkpoint)

    def _offer(self, checkpoint: Path) -> None:
        """Make ``checkpoint`` the weights of every Detect widget in this viewer."""
        for widget in list(DetectWidget.instances):
            if same_viewer(widget.viewer, self.viewer):
                # A fine-tuned model keeps its classes: keep the ones chosen in Detect.
                try:
                    chosen = list(widget.classes.value)
                except RuntimeError:  # its dock was closed: the Qt widget is gone
                    continue
                widget.weights.value = checkpoint
                if chosen and set(chosen) <= set(widget.classes.choices):
                    widget.classes.value = chosen

    def _done(self, run_id: int, result: dict) -> None:
        if run_id != self._run_id:
            return
        if result.get("checkpoint"):
            self.checkpoint = Path(result["checkpoint"])
            self._offer(self.checkpoint)
            self.status.value = f"Trained; Detect now uses {self.checkpoint}"

    def _failed(self, run_id: int, exc: BaseException) -> None:
        if run_id == self._run_id:
            _report_error(self.status, f"Training failed: {exc}")

    def _finished(self, run_id: int) -> None:
        if run_id == self._run_id:
            self.worker = None
            self._busy(False)
