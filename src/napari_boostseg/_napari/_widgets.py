"""The napari widgets: Detect, Refine and Export cut-outs.

Each widget is a thin shell over :mod:`napari_boostseg`: it reads layers,
calls the core in a thread worker and shows the result as layers. The Mask
R-CNN runs in a separate process (:mod:`._detector`), so TensorFlow is never
imported into napari and opening napari with the plugin installed costs
nothing.

Marker colours (the ``<photo> markers`` layer, which a person paints on) are
faint tints, so the photo stays visible under them:

* undecided (0): clear; the watershed decides here;
* background (1): a faint blue;
* object ``k`` (marker ``k + 1``): a faint, darker shade of object ``k``'s
  colour in the ``<photo> segmentation`` layer, so a marker and the
  segmentation it gives can be told apart.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import re
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FileEdit,
    FloatSpinBox,
    Label,
    LineEdit,
    ProgressBar,
    PushButton,
    Select,
)
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info, show_warning

from .._text import counted
from ..models import default_classes, default_weights
from ..strokes import changed_window, stroke_markers, stroke_reach
from ._detector import STEPS

if TYPE_CHECKING:
    import napari

# --------------------------------------------------------------------------- #
# Shared pieces

#: Object colours; object ``k`` gets ``PALETTE[(k - 1) % len(PALETTE)]``.
PALETTE = np.array(
    [
        (1.00, 0.60, 0.00),  # orange
        (0.10, 0.85, 0.25),  # green
        (1.00, 0.10, 0.75),  # magenta
        (1.00, 0.90, 0.00),  # yellow
        (0.00, 0.85, 0.95),  # cyan
        (0.95, 0.20, 0.15),  # red
        (0.65, 0.35, 1.00),  # violet
        (0.60, 1.00, 0.55),  # light green
    ]
)
BACKGROUND_COLOUR = (0.15, 0.35, 1.00)
#: Opacity of the background marker's tint and of object markers' tints.
BACKGROUND_MARKER_ALPHA = 0.22
OBJECT_MARKER_ALPHA = 0.45
#: Object markers are the object's colour darkened by this factor.
MARKER_SHADE = 0.45
_N_COLOURS = 256
#: Widest a status line grows before it wraps, in characters.
STATUS_CHARACTERS = 60


def object_colour(k: int) -> np.ndarray:
    """RGBA colour of object ``k`` (k >= 1) in the segmentation."""
    return np.append(PALETTE[(k - 1) % len(PALETTE)], 1.0)


def marker_colour(marker: int) -> np.ndarray:
    """RGBA colour of a marker value (0 undecided, 1 background, ``k + 1`` object ``k``)."""
    if marker == 0:
        return np.zeros(4)
    if marker == 1:
        return np.array([*BACKGROUND_COLOUR, BACKGROUND_MARKER_ALPHA])
    return np.append(PALETTE[(marker - 2) % len(PALETTE)] * MARKER_SHADE, OBJECT_MARKER_ALPHA)


def _colormap(markers: bool):
    """Direct colormap for the segmentation (``markers=False``) or the markers."""
    from napari.utils.colormaps import DirectLabelColormap

    colours: dict[int | None, Any] = {None: (0, 0, 0, 0), 0: (0, 0, 0, 0)}
    if markers:
        colours.update({m: marker_colour(m) for m in range(1, _N_COLOURS + 1)})
    else:
        colours.update({k: object_colour(k) for k in range(1, _N_COLOURS)})
    return DirectLabelColormap(color_dict=colours)


def _layer_choices(viewer: napari.Viewer, kind: type) -> Callable[[Any], list]:
    def choices(_widget: Any) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in viewer.layers if isinstance(layer, kind)]

    return choices


def same_viewer(a, b) -> bool:
    """Whether two widgets' viewers are one (napari hands plugin widgets each their own proxy of it)."""
    return getattr(a, "__wrapped__", a) is getattr(b, "__wrapped__", b)


def _photo(layer: Image | None) -> np.ndarray:
    """The 2-D photo (grayscale or RGB/RGBA) of an Image layer, or ValueError saying why not."""
    if layer is None:
        raise ValueError("Open a photo first (File > Open, or File > Open Sample > BoostSeg).")
    data = layer.data[0] if layer.multiscale else layer.data
    data = np.asarray(data)
    planes = data.ndim - (1 if layer.rgb else 0)
    if planes != 2:
        raise ValueError(
            f"'{layer.name}' has {planes} dimensions ({data.shape}); BoostSeg works on one "
            "2-D photo. Open a single photo, or split the stack (right-click > Split Stack)."
        )
    return data


def _label_image(layer: Labels | None, what: str) -> np.ndarray:
    if layer is None:
        raise ValueError(
            f"Choose a {what} Labels layer: run Detect, or add a new Labels layer and "
            "paint each product with its own label."
        )
    data = np.asarray(layer.data[0] if layer.multiscale else layer.data)
    if data.ndim != 2:
        raise ValueError(f"'{layer.name}' must be a 2-D label image, got shape {data.shape}.")
    return data


def _start(
    work: Callable[[], Iterator],
    *,
    yielded: Callable[[Any], None],
    returned: Callable[[Any], None],
    errored: Callable[[BaseException], None],
    finished: Callable[[], None],
    synchronous: bool,
):
    """Run a generator function in a napari thread worker (or here, when synchronous).

    The generator yields progress messages and returns its result. Returns the
    worker (None when synchronous).
    """
    if synchronous:
        gen = work()
        try:
            while True:
                yielded(next(gen))
        except StopIteration as stop:
            returned(stop.value)
        except Exception as exc:  # shown as a notification, like the worker's errors
            errored(exc)
        finally:
            finished()
        return None
    from napari.qt.threading import create_worker

    connect = {"yielded": yielded, "returned": returned, "errored": errored, "finished": finished}
    return create_worker(work, _connect=connect, _start_thread=True)


def _status_label() -> Label:
    """A status line that wraps, so a long message is shown whole.

    It wraps at about :data:`STATUS_CHARACTERS` characters: a long message
    makes it taller, never the dock wider (which would squeeze the canvas).
    """
    label = Label(label="", value="")
    label.native.setWordWrap(True)
    label.native.setMaximumWidth(label.native.fontMetrics().averageCharWidth() * STATUS_CHARACTERS)
    return label


def _add_full_width(container: Container, *labels: Label) -> None:
    """Put ``labels`` (status lines, help) at the end of ``container``, across its whole width:
    in the field column beside an empty label they would wrap twice as often."""
    for label in labels:
        container.native.layout().addWidget(label.native)


def _note_colour(photo) -> str:
    """Dark blue for the look-at notes over a light photo, yellow over a dark one.

    The notes run over the object and the backdrop beside it; a studio photo
    is mostly backdrop, so its median brightness (of every 8th pixel) decides.
    """
    if photo is None:
        return "yellow"
    from napari_boostseg.inputs import image_to_float

    sample = image_to_float(np.asarray(photo)[::8, ::8])
    return "#1030c0" if float(np.median(sample.mean(axis=-1))) > 0.55 else "yellow"


def _report_error(status: Label, message: str) -> None:
    """Show an error as a notification and, whole, in the widget's status line.

    napari's notifications show one line; the status line keeps the full
    message (and replaces whatever the last run said).
    """
    status.value = message
    show_error(message)


def _follow_new_layers(viewer, widget: Container, pick: Callable[[Any], None]) -> None:
    """Call ``pick(layer)`` for each layer added to the viewer, choices refreshed first."""

    def inserted(event) -> None:
        widget.reset_choices()
        pick(event.value)

    viewer.layers.events.inserted.connect(inserted)


def _photo_of(viewer, layer, suffix: str):
    """The Image layer ``<photo>`` of a layer named ``<photo> <suffix>``, or None."""
    name = layer.name
    if not name.endswith(" " + suffix):
        return None
    photo = name[: -len(suffix) - 1]
    if photo in viewer.layers and isinstance(viewer.layers[photo], Image):
        return viewer.layers[photo]
    return None


def outline_width(shape: tuple[int, ...]) -> int:
    """Width in pixels of the segmentation's outline: 1-2 screen pixels when the whole photo is in view."""
    return max(1, round(min(shape[:2]) / 400))


def _place_layer(viewer, existing, data, name: str, kind: str, **kwargs):
    """Update ``existing`` in place if it is still in the viewer, else add a new layer."""
    if existing is not None and existing in viewer.layers and existing.data.shape == data.shape:
        existing.data = data
        existing.name = name
        return existing
    add = viewer.add_labels if kind == "labels" else viewer.add_image
    return add(data, name=name, **kwargs)


# --------------------------------------------------------------------------- #
# Detect


#: Where Detect's coarse masks come from: (label shown, source).
SOURCE_CHOICES = (
    ("auto: backdrop, else model", "auto"),
    ("backdrop (no model)", "backdrop"),
    ("model (Mask R-CNN)", "model"),
)


def split_touching_box(source: ComboBox) -> CheckBox:
    """The "split touching products" choice of Detect and Shoot review (on by default).

    It works on the backdrop, so it is enabled only while ``source`` (where
    the products are found) is "auto" or "backdrop".
    """
    box = CheckBox(
        text="split touching products", value=True,
        tooltip="On the backdrop, give products that touch one object each where the "
        "product model finds each of them (parts of one colour that share a long border stay one "
        "product); the same model "
        "makes whole a product the backdrop found only in part (white on white paper). Untick to keep "
        "products that touch as one object and run no model.",
    )

    def follow() -> None:
        box.enabled = source.value in ("auto", "backdrop")

    source.changed.connect(follow)
    follow()
    return box


class DetectWidget(Container):
    """Products found in a photo, on its backdrop or by a Mask R-CNN, as a coarse Labels layer."""

    #: The open Detect widgets (the Train widget offers them its new weights).
    instances: weakref.WeakSet[DetectWidget] = weakref.WeakSet()

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__(labels=True)
        DetectWidget.instances.add(self)
        self.viewer = napari_viewer
        self.synchronous = False
        self.worker = None
        self._run_id = 0
        weights = default_weights()
        self.image = ComboBox(label="photo", choices=_layer_choices(napari_viewer, Image))
        self.source = ComboBox(
            label="find products", choices=SOURCE_CHOICES, value="auto",
            tooltip="auto: on the photo's backdrop where it has a plain one (studio photos, "
            "no model needed), else by the Mask R-CNN. backdrop: the backdrop only. "
            "model: the Mask R-CNN only.",
        )
        self.split_touching = split_touching_box(self.source)
        self.weights = FileEdit(
            label="weights",
            mode="r",
            filter="*.h5",
            value=weights or "",
            tooltip="Mask R-CNN weights (.h5) with their config (.json, same name) beside them.",
        )
        self.min_score = FloatSpinBox(
            label="min score", value=0.7, min=0.0, max=1.0, step=0.05,
            tooltip="Detections scoring lower are dropped.",
        )
        self.nms = FloatSpinBox(
            label="overlap (NMS)", value=0.3, min=0.05, max=1.0, step=0.05,
            tooltip="Of two detections overlapping more than this (IoU), the weaker is dropped.",
        )
        self._class_names: list[str] = []  # of the chosen model; layer events re-read it
        self._default_classes: list[str] = []  # the chosen model's default classes
        self._classes_of_photo: list[str] = []  # the classes a photo chose (see _photo_chosen)
        self.classes = Select(
            label="classes", choices=lambda _widget: self._class_names, value=[],
            tooltip="Classes to keep. A person and the garments they wear overlap and each pixel "
            "goes to one object: pick either the person or the garments.",
        )
        self.run_button = PushButton(text="Detect")
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=len(STEPS), value=0, visible=False)
        self.status = _status_label()
        self.extend([
            self.image, self.source, self.split_touching, self.weights, self.min_score, self.nms,
            self.classes,
            Container(
                widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False
            ),
            self.progress,
        ])
        _add_full_width(self, self.status)
        self.run_button.changed.connect(self.run)
        self.cancel_button.changed.connect(self.cancel)
        self.weights.changed.connect(self._weights_chosen)
        self.native.layout().addStretch(1)  # the fields packed at the top of a tall dock
        self._fit_class_list()
        self._weights_chosen()
        self.image.changed.connect(self._photo_chosen)
        self._photo_chosen()
        self.source.changed.connect(self._source_chosen)
        self._source_chosen()
        _follow_new_layers(napari_viewer, self, self._layer_added)

    def _layer_added(self, layer) -> None:
        """A photo just opened becomes the one to detect on (not Refine's soft mask or edges)."""
        if not isinstance(layer, Image) or self.worker is not None:
            return
        if any(_photo_of(self.viewer, layer, suffix) is not None for suffix in ("soft-masked", "edges")):
            return
        self.image.value = layer

    def _photo_chosen(self) -> None:
        """A photo that names its classes (the street sample: a person) gets them; the next
        photo gets the model's default classes back, unless the person chose others since."""
        from ._sample_data import PHOTO_CLASSES

        layer = self.image.value
        wanted = list(getattr(layer, "metadata", {}).get(PHOTO_CLASSES, [])) if layer is not None else []
        if wanted and set(wanted) <= set(self._class_names):
            self.classes.value = self._classes_of_photo = wanted
        elif self._classes_of_photo:
            if list(self.classes.value) == self._classes_of_photo:  # not changed by hand since
                self.classes.value = self._default_classes
            self._classes_of_photo = []

    def _source_chosen(self) -> None:
        """The model's settings are greyed out while the backdrop alone finds products."""
        uses_model = self.source.value != "backdrop"
        for widget in (self.weights, self.min_score, self.nms, self.classes):
            widget.enabled = uses_model

    def _weights_chosen(self) -> None:
        """Start from the thresholds the model was configured with."""
        from napari_boostseg.mrcnn import MaskRCNNConfig

        weights = Path(str(self.weights.value))
        if weights.suffix.lower() != ".h5":
            return
        try:
            loaded = MaskRCNNConfig.from_json(weights.with_suffix(".json"))
        except (OSError, ValueError, KeyError, TypeError):
            return  # no or unreadable config: Detect says what to do
        self.min_score.value = loaded.detection_min_confidence
        self.nms.value = max(loaded.detection_nms_threshold, self.nms.min)
        # Emptied first: the list then shows the new model's classes in its order.
        self._class_names = []
        self.classes.reset_choices()
        self._class_names = list(loaded.class_names[1:])
        self.classes.reset_choices()
        self._default_classes = list(default_classes(weights, loaded.class_names))
        self.classes.value = self._default_classes
        self._classes_of_photo = []
        self._fit_class_list()

    def _fit_class_list(self) -> None:
        """The class list as tall as the model's classes (3 to 12 rows), not a fixed tall box."""
        view = self.classes.native
        row = view.sizeHintForRow(0) if self._class_names else -1
        row = row if row > 0 else view.fontMetrics().height() + 2
        rows = min(max(len(self._class_names), 3), 12)
        view.setFixedHeight(rows * row + 2 * view.frameWidth() + 2)

    def _check(self) -> tuple[np.ndarray, str, Path | None, Path | None]:
        layer = self.image.value
        photo = _photo(layer)
        weights = Path(self.weights.value) if str(self.weights.value) not in ("", ".") else None
        if self.source.value == "backdrop":
            return photo, layer.name, None, None
        if weights is None or weights.is_dir():
            raise ValueError(
                "Choose a Mask R-CNN weights file (.h5). No weights? Paint a coarse mask in a "
                "new Labels layer, or try File > Open Sample > BoostSeg, then use Refine."
            )
        if not weights.is_file():
            raise ValueError(
                f"Weights not found: {weights}. Choose an existing .h5 file (the bundled "
                "garment model is napari_boostseg/models/garments.h5)."
            )
        config = weights.with_suffix(".json")
        if not config.is_file():
            raise ValueError(
                f"No config beside the weights: expected {config.name} in {config.parent}. "
                "Save it with MaskRCNNConfig.to_json()."
            )
        return photo, layer.name, weights, config

    def run(self) -> None:
        """Start a detection on the chosen photo."""
        if self.worker is not None:
            show_warning("A detection is running; wait for it or press Cancel.")
            return
        try:
            photo, name, weights, config_path = self._check()
        except ValueError as exc:
            _report_error(self.status, str(exc))
            return
        min_score, nms = float(self.min_score.value), float(self.nms.value)
        classes = tuple(self.classes.value) if self.classes.choices else None
        if classes == ():
            _report_error(self.status, "Choose at least one class to detect.")
            return
        self._run_id += 1
        run_id = self._run_id

        source = self.source.value
        split = bool(self.split_touching.value)

        def work():
            from ._detector import child_product_splitter, shared_detector

            why = ""
            if source != "model":
                from napari_boostseg.coarse_masks import try_backdrop

                # The product model that splits runs in the detection process, like the
                # model; its steps are shown while the backdrop's masks are made beside.
                steps: queue.SimpleQueue[int] = queue.SimpleQueue()
                splitter = child_product_splitter(steps.put) if split else None
                with ThreadPoolExecutor(1) as pool:
                    job = pool.submit(try_backdrop, photo, source, split=split, splitter=splitter)
                    while not (job.done() and steps.empty()):
                        with contextlib.suppress(queue.Empty):
                            yield steps.get(timeout=0.1)
                found, why = job.result()  # raises without a plain backdrop
                if found is not None:
                    n = found.count
                    note = f"on the {why}" if n else "on the plain backdrop: nothing stands out from it"
                    split_note = found.note.partition("; ")[2]  # how touching products were split
                    note += f"; {split_note}" if n and split_note else ""
                    # The backdrop says where products are, not what they are, nor how sure.
                    return {"labels": found.labels, "scores": np.full(n, np.nan), "class_names": ["product"] * n,
                            "note": note}
            result = yield from shared_detector().detect(photo, weights, min_score, nms, classes)
            result["note"] = f"by the model ({why})" if why else "by the model"
            return result

        self._busy(True)
        self.worker = _start(
            work,
            yielded=lambda step: self._progress(run_id, step),
            returned=lambda result: self._add(run_id, result, name),
            errored=lambda exc: self._failed(run_id, exc),
            finished=lambda: self._finished(run_id),
            synchronous=self.synchronous,
        )

    def cancel(self) -> None:
        """Stop the running detection; its result, if it still comes, is dropped."""
        if self.worker is None:
            return
        from ._detector import shared_detector

        self.worker.quit()
        shared_detector().stop()  # ends the detection process, and TensorFlow's work with it
        self._run_id += 1
        self.worker = None
        self._busy(False)
        self.status.value = "Cancelled."

    def _busy(self, busy: bool) -> None:
        self.run_button.enabled = not busy
        self.cancel_button.enabled = busy
        self.progress.visible = busy
        self.progress.value = 0

    def _progress(self, run_id: int, step: int) -> None:
        if run_id == self._run_id:
            self.progress.value = step
            text = STEPS[step]
            self.status.value = text[:1].upper() + text[1:] + "…"  # "TensorFlow" keeps its capitals

    def _failed(self, run_id: int, exc: BaseException) -> None:
        if run_id == self._run_id:
            _report_error(self.status, f"Detection failed: {exc}")

    def _finished(self, run_id: int) -> None:
        if run_id == self._run_id:
            self.worker = None
            self._busy(False)

    def _add(self, run_id: int, result: dict, name: str) -> None:
        if run_id != self._run_id:
            return
        import pandas as pd

        n = len(result["scores"])
        features = pd.DataFrame({
            "index": np.arange(n + 1),
            "class_name": ["", *result["class_names"]],
            "score": np.concatenate([[np.nan], result["scores"]]),
        })
        # A new detection of the same photo replaces its coarse layer.
        target = f"{name} coarse"
        existing = self.viewer.layers[target] if target in self.viewer.layers else None
        if not isinstance(existing, Labels):
            existing = None
        layer = _place_layer(
            self.viewer, existing, result["labels"], target, "labels", opacity=0.4,
            features=features,
        )
        layer.features = features
        found = f"{counted(n, 'object')} found {result.get('note', '')}".strip() + "."
        them = "it" if n == 1 else "them"
        self.status.value = f"{found} Next: Refine snaps {them} to the photo's edges." if n else found
        if not n:
            show_info(
                "No object found. Lower 'min score', or paint a coarse mask into "
                f"'{layer.name}' by hand."
            )


# --------------------------------------------------------------------------- #
# Refine: soft mask, markers, watershed

#: How far a stroke over sure markers re-marks, in grid cells (the widget's default).
STROKE_REACH_CELLS = 3.0


def _summary(doc: str) -> str:
    """A parameter's first sentence and its default: what a tooltip has room for (the
    measurements behind each default stay in RefineParams' documentation)."""
    first = re.split(r"(?<=[.)])\s+(?=[A-Z])", doc, maxsplit=1)[0]
    default = re.search(r"Default [^ ]+\.?$", doc)
    return first if default is None or first.endswith(default.group(0)) else f"{first} {default.group(0)}"


def _param_widgets() -> dict[str, Any]:
    """A spin box per RefineParams field: its default, its range, its documentation."""
    from napari_boostseg import RefineParams

    docs = RefineParams.field_help()
    ranges = RefineParams.ranges()
    units = RefineParams.units()
    widgets: dict[str, Any] = {}
    for field in dataclasses.fields(RefineParams):
        label, unit = field.name.replace("_", " "), units[field.name]
        if unit and unit not in label:
            label = f"{label} ({unit})"
        common = dict(label=label, tooltip=_summary(docs.get(field.name, "")))
        widgets[field.name] = FloatSpinBox(value=field.default, **ranges[field.name].spin_box(), **common)
    return widgets


class RefineWidget(Container):
    """Soft mask, markers and watershed, with live re-flooding as markers are painted."""

    #: Calm after a parameter change before recomputing, in milliseconds.
    PARAM_DELAY_MS = 300
    #: Calm after the last marker edit (stroke, undo, redo) before re-flooding, in ms.
    PAINT_DELAY_MS = 30
    #: Tallest the box of the refinement's parameters grows before it scrolls, in pixels.
    PARAMS_HEIGHT = 320

    def __init__(self, napari_viewer: napari.Viewer):
        from qtpy.QtCore import QTimer

        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.synchronous = False
        self.worker = None
        self.refinement = None
        self.layers: dict[str, Any] = {}
        self._painted: np.ndarray | None = None  # the markers layer as last flooded
        self._flooded: np.ndarray | None = None  # the markers the segmentation comes from
        self._segmentation: np.ndarray | None = None  # the segmentation those markers gave
        self._source: tuple[str, str] | None = None  # (photo, coarse) layer names
        self._pending = False
        self.image = ComboBox(label="photo", choices=_layer_choices(napari_viewer, Image))
        self.coarse = ComboBox(label="coarse", choices=_layer_choices(napari_viewer, Labels))
        self.params = _param_widgets()
        self.live = CheckBox(text="update as parameters change", value=True)
        self.reach = FloatSpinBox(
            label="stroke reach", value=STROKE_REACH_CELLS, min=0.0, max=20.0, step=0.5,
            tooltip="A stroke painted over what the markers call sure background (or sure "
            "object) hands this many grid cells around it back to the watershed, so the "
            "region floods up to the photo's edge. 0: a stroke claims only its own pixels.",
        )
        self.run_button = PushButton(text="Refine")
        self.status = _status_label()
        self.help = Label(
            label="",
            value="Paint on the markers layer: 1 background,\nk+1 object k, 0 (eraser) "
            "undecided.\nA stroke over a missed part claims it\nup to the photo's edge. "
            "Ctrl+Z undoes a stroke.",
        )
        self.show_params = CheckBox(
            text="show the refinement's parameters", value=False,
            tooltip="The defaults suit studio and street photos; change them to study the method.",
        )
        self.extend([self.image, self.coarse, self.show_params, self.reach, self.run_button])
        # The parameters scroll in a box of their own, under the tick box that shows them:
        # all of them at once would make the dock taller than most screens.
        self.param_box = Container(widgets=[*self.params.values(), self.live], scrollable=True)
        box = self.param_box.root_native_widget
        box.setMinimumHeight(self.PARAMS_HEIGHT // 3)
        box.setMaximumHeight(self.PARAMS_HEIGHT)
        box.setFrameShape(box.Shape.NoFrame)
        self.native.layout().insertWidget(3, box)
        _add_full_width(self, self.status, self.help)
        self.native.layout().addStretch(1)  # the fields packed at the top of a tall dock
        self.show_params.changed.connect(self._show_params)
        self._show_params()
        self.reach.changed.connect(self._reach_changed)
        self.run_button.changed.connect(self.run)
        for widget in self.params.values():
            widget.changed.connect(self._params_changed)
        # Children of the widget: they die with it, and never fire into a closed one.
        self._param_timer = QTimer(self.native, singleShot=True, interval=self.PARAM_DELAY_MS)
        self._param_timer.timeout.connect(self.run)
        self._paint_timer = QTimer(self.native, singleShot=True, interval=self.PAINT_DELAY_MS)
        self._paint_timer.timeout.connect(self.follow_markers)
        _follow_new_layers(napari_viewer, self, self._layer_added)
        napari_viewer.layers.events.removed.connect(self._layer_removed)
        self._watched = None  # the coarse layer whose new data re-runs the refinement
        self.coarse.changed.connect(self._watch_coarse)
        self._watch_coarse()

    def _watch_coarse(self) -> None:
        """Follow the chosen coarse layer: new coarse masks (Detect run again) are refined anew."""
        if self._watched is not None:
            with contextlib.suppress(TypeError, ValueError, RuntimeError):
                self._watched.events.data.disconnect(self._coarse_replaced)
        self._watched = self.coarse.value
        if self._watched is not None:
            self._watched.events.data.connect(self._coarse_replaced)

    def _coarse_replaced(self, _event=None) -> None:
        image, coarse = self.image.value, self.coarse.value
        if self.refinement is None or image is None or coarse is None or coarse not in self.viewer.layers:
            return
        if self._source == (image.name, coarse.name):
            # Other objects: marker strokes painted on the old ones are not carried over.
            self._source = None
            self.status.value = f"New coarse masks in '{coarse.name}': refining them…"
            self._param_timer.start()

    def _layer_added(self, layer) -> None:
        """A new ``<photo> coarse`` layer (from Detect) becomes the one to refine."""
        if isinstance(layer, Labels) and layer.name.endswith(" coarse"):
            self.coarse.value = layer
            photo = _photo_of(self.viewer, layer, "coarse")
            if photo is not None:
                self.image.value = photo

    def _show_params(self) -> None:
        self.param_box.root_native_widget.setVisible(bool(self.show_params.value))

    def _layer_removed(self, event) -> None:
        if any(event.value is layer for layer in self.layers.values()):
            self.status.value = "Press Refine to show the markers and segmentation again."

    # -- parameters ------------------------------------------------------- #

    def refine_params(self):
        """The parameters as set in the widget (ValueError if out of range)."""
        from napari_boostseg import RefineParams

        return RefineParams(**{name: w.value for name, w in self.params.items()})

    def _params_changed(self) -> None:
        if self.live.value and self.refinement is not None:
            self._param_timer.start()

    # -- computing -------------------------------------------------------- #

    def run(self) -> None:
        """Refine the chosen coarse layer on the chosen photo and show every step."""
        if self.worker is not None:
            self._pending = True  # run again with the newest settings when this one ends
            return
        try:
            params = self.refine_params()
            photo = _photo(self.image.value)
            coarse = _label_image(self.coarse.value, "coarse").copy()
            if photo.shape[:2] != coarse.shape:
                raise ValueError(
                    f"The photo is {photo.shape[1]}x{photo.shape[0]} pixels but "
                    f"'{self.coarse.value.name}' is {coarse.shape[1]}x{coarse.shape[0]}; "
                    "choose the coarse layer made for this photo."
                )
            if not coarse.any():
                raise ValueError(
                    f"'{self.coarse.value.name}' is empty: paint at least one product into it "
                    "(label 1, 2, ... one per product) or run Detect."
                )
        except ValueError as exc:
            _report_error(self.status, str(exc))
            return
        name = self.image.value.name
        source = (name, self.coarse.value.name)
        features = getattr(self.coarse.value, "features", None)

        def work():
            from napari_boostseg import refine

            yield "Refining…"
            return refine(photo, coarse, params, return_intermediates=True)

        self.status.value = "Refining…"
        self.run_button.enabled = False
        self.worker = _start(
            work,
            yielded=lambda message: None,
            returned=lambda result: self._show(result, source, features),
            errored=self._failed,
            finished=self._finished,
            synchronous=self.synchronous,
        )

    def _failed(self, exc: BaseException) -> None:
        _report_error(self.status, f"Refinement failed: {exc}")

    def _finished(self) -> None:
        self.worker = None
        self.run_button.enabled = True
        if self._pending:
            self._pending = False
            self.run()

    def _show(self, result, source: tuple[str, str], features) -> None:
        """Show a new refinement; marker edits made by hand on the same input are kept."""
        from napari_boostseg import reflood

        markers = result.markers.copy()
        old = self.layers.get("markers")
        if (
            self.refinement is not None
            and source == self._source
            and old is not None
            and old in self.viewer.layers
            and old.data.shape == markers.shape
        ):
            edited = old.data != self.refinement.markers
            markers[edited] = old.data[edited]
        effective = stroke_markers(
            result.markers, markers, result.labels, self._reach_pixels(result)
        )
        labels = reflood(result, effective) if (effective != result.markers).any() else result.labels
        self.refinement, self._source = result, source
        self._painted = markers.copy()
        self._flooded = effective
        self._segmentation = labels
        self._set_layers(source[0], result, markers, labels, features)
        markers_name = self.layers["markers"].name
        from napari_boostseg.safety import DOUBTFUL, doubtful_objects

        doubtful = doubtful_objects(result.objects)
        several = sum(report.fallback in DOUBTFUL for report in result.objects) > 1
        look = (
            f" Look at {'objects' if several else 'object'} {doubtful}, marked on the photo: "
            "paint the markers where an outline is wrong."
        ) if doubtful else ""
        self.status.value = (
            f"{counted(int(labels.max()), 'object')} refined. To correct an outline, paint on "
            f"'{markers_name}'; Export cut-outs (or Shoot review's Accept) saves them.{look}"
        )
        self._flag(source[0], result.objects, labels)

    def _flag(self, name: str, objects, labels: np.ndarray) -> None:
        """A point with its reason on each object whose refinement fell back to a safer mask (none: no layer)."""
        from napari_boostseg.safety import DOUBTFUL

        old = self.layers.pop("flags", None)
        if old is not None and old in self.viewer.layers:
            self.viewer.layers.remove(old)
        points, notes = [], []
        for report in objects:
            if report.fallback not in DOUBTFUL:
                continue
            ys, xs = np.nonzero(labels == report.label_id)
            if not ys.size:
                continue
            # The object's pixel nearest its centroid: on the object even when it has a hole.
            i = int(np.argmin((ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2))
            points.append((ys[i], xs[i]))
            notes.append(f"look at {report.label_id}: {report.fallback}")
        if not points:
            return
        markers = self.viewer.layers.selection.active
        photo = self.image.value
        colour = _note_colour(photo.data if photo is not None else None)
        # The notes run away from the nearer side of the photo, so they stay on the canvas.
        right = np.mean([x for _, x in points]) > labels.shape[1] / 2
        anchor = "upper_right" if right else "upper_left"
        self.layers["flags"] = self.viewer.add_points(
            np.array(points, float), name=f"{name} look at", features={"note": notes},
            text={"string": "{note}", "color": colour, "anchor": anchor, "size": 12},
            symbol="x", face_color=colour, size=max(9, min(labels.shape) // 40),
        )
        self.viewer.layers.selection.active = markers  # painting goes on where it was

    def _set_layers(self, name, result, markers, labels, features) -> None:
        viewer, layers = self.viewer, self.layers
        layers["soft"] = _place_layer(
            viewer, layers.get("soft"), result.soft_masked, f"{name} soft-masked", "image",
            visible=False,
        )
        layers["edges"] = _place_layer(
            viewer, layers.get("edges"), result.edges, f"{name} edges", "image",
            colormap="magma", visible=False,
        )
        marker_layer = layers.get("markers")
        if marker_layer is not None and marker_layer in viewer.layers:
            marker_layer.events.paint.disconnect(self._markers_edited)
            marker_layer.events.set_data.disconnect(self._markers_edited)
        # The markers tint the photo; the segmentation, drawn over them as an
        # outline, shows where the refined edge runs (its contour 0 fills it).
        placed = _place_layer(
            viewer, marker_layer, markers, f"{name} markers", "labels",
            colormap=_colormap(markers=True), opacity=0.5,
        )
        added, marker_layer = placed is not marker_layer, placed
        segmentation = _place_layer(
            viewer, layers.get("segmentation"), labels, f"{name} segmentation", "labels",
            colormap=_colormap(markers=False), opacity=1.0,
        )
        if segmentation is not layers.get("segmentation"):  # a user's later choice stays
            segmentation.contour = outline_width(labels.shape)
        layers["segmentation"] = segmentation
        if features is not None and len(features):
            layers["segmentation"].features = features
        layers["markers"] = marker_layer
        marker_layer.events.paint.connect(self._markers_edited)
        marker_layer.events.set_data.connect(self._markers_edited)
        if added:  # ready to paint on
            coarse = self.coarse.value
            if coarse is not None and coarse in viewer.layers:
                coarse.visible = False  # the markers and the outline say more; one click shows it again
            marker_layer.selected_label = 1
            marker_layer.brush_size = max(5, min(markers.shape) // 60)
            viewer.layers.selection.active = marker_layer
            marker_layer.mode = "paint"

    # -- live marker editing ---------------------------------------------- #

    def _reach_pixels(self, refinement) -> float:
        return stroke_reach(refinement.coarse, float(self.reach.value))

    def _reach_changed(self) -> None:
        """Re-mark every stroke with the new reach and flood the whole band again."""
        from napari_boostseg import reflood

        segmentation = self.layers.get("segmentation")
        if self.refinement is None or self._painted is None:
            return
        result = self.refinement
        self._flooded = stroke_markers(
            result.markers, self._painted, result.labels, self._reach_pixels(result)
        )
        self._segmentation = reflood(result, self._flooded)
        if segmentation is not None and segmentation in self.viewer.layers:
            segmentation.data = self._segmentation

    def _markers_edited(self, _event=None) -> None:
        # A stroke, an undo or a redo: re-flood once the events settle.
        self._paint_timer.start()

    def follow_markers(self) -> bool:
        """Re-flood the segmentation from the markers layer if it changed.

        Returns True when the segmentation was updated. Called by itself after
        painting, erasing, undo and redo; reuses the cached edge map.
        """
        from napari_boostseg import reflood

        markers_layer = self.layers.get("markers")
        segmentation = self.layers.get("segmentation")
        if self.refinement is None or markers_layer is None or segmentation is None:
            return False
        painted = np.asarray(markers_layer.data)
        if painted.shape != self.refinement.edges.shape or np.array_equal(painted, self._painted):
            return False
        try:
            # Strokes re-mark the band around them (stroke reach); only a
            # window around what changed is re-marked and flooded again.
            reach = self._reach_pixels(self.refinement)
            window = changed_window(self._painted, painted, reach)
            markers = self._flooded.copy()
            markers[window] = stroke_markers(
                self.refinement.markers, painted, self.refinement.labels, reach, window=window
            )
            labels = reflood(
                self.refinement,
                markers,
                previous_markers=self._flooded,
                previous_labels=self._segmentation,
            )
        except ValueError as exc:
            _report_error(self.status, f"Cannot use these markers: {exc}")
            return False
        self._painted = painted.copy()
        self._flooded = markers
        self._segmentation = labels
        if segmentation in self.viewer.layers:
            segmentation.data = labels
        return True


# --------------------------------------------------------------------------- #
# Export cut-outs


def confirm_overwrite(paths: list[Path]) -> bool:
    """Ask whether existing files may be replaced."""
    from qtpy.QtWidgets import QMessageBox

    shown = "\n".join(p.name for p in paths[:8]) + ("\n…" if len(paths) > 8 else "")
    answer = QMessageBox.question(
        None,
        "Replace files?",
        f"{counted(len(paths), 'file')} already {'exists' if len(paths) == 1 else 'exist'} in "
        f"{paths[0].parent}:\n{shown}\n\nReplace {'it' if len(paths) == 1 else 'them'}?",
    )
    return answer == QMessageBox.StandardButton.Yes


class ExportWidget(Container):
    """Each product as a full-resolution RGBA PNG with a transparent background."""

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.image = ComboBox(label="photo", choices=_layer_choices(napari_viewer, Image))
        self.segmentation = ComboBox(
            label="segmentation", choices=_layer_choices(napari_viewer, Labels)
        )
        # A photo without a file (a sample) writes into a folder of its own, not loose in home.
        self.folder = FileEdit(label="folder", mode="d", value=Path.home() / "boostseg-cutouts")
        self.prefix = LineEdit(
            label="name", value="", tooltip="File names: <name>-<id>.png; empty: the photo's name."
        )
        self.prefix.native.setPlaceholderText("the photo's name")
        # Cropped by default, as `boostseg segment` writes them.
        self.crop = CheckBox(text="crop to each product", value=True)
        self.soft_edge = CheckBox(
            text="soft edges",
            value=True,
            tooltip="Anti-alias the outline and take the backdrop's colour out of its rim "
            "(untick for the segmentation's hard edge, as segment --hard-edges).",
        )
        self.export_button = PushButton(text="Export cut-outs")
        self.status = _status_label()
        self.extend([
            self.image, self.segmentation, self.folder, self.prefix, self.crop, self.soft_edge,
            self.export_button,
        ])
        _add_full_width(self, self.status)
        self.export_button.changed.connect(self.export)
        # The folder follows the photo (a 'cutouts' folder beside its file, as segment
        # writes OUT/cutouts) until one is chosen by hand.
        self._folder_by_hand = False
        self._placing_folder = False
        self.folder.changed.connect(self._folder_changed)
        self.image.changed.connect(self._photo_chosen)
        # Start from the newest segmentation, and follow Refine as it makes one.
        for layer in napari_viewer.layers:
            self._layer_added(layer)
        _follow_new_layers(napari_viewer, self, self._layer_added)
        self._photo_chosen()

    def _folder_changed(self) -> None:
        if not self._placing_folder:
            self._folder_by_hand = True

    def _photo_chosen(self) -> None:
        layer = self.image.value
        path = getattr(getattr(layer, "source", None), "path", None)
        if self._folder_by_hand or not path:
            return
        self._placing_folder = True
        try:
            self.folder.value = Path(path).parent / "cutouts"
        finally:
            self._placing_folder = False

    def _layer_added(self, layer) -> None:
        if isinstance(layer, Labels) and layer.name.endswith(" segmentation"):
            self.segmentation.value = layer
            photo = _photo_of(self.viewer, layer, "segmentation")
            if photo is not None:
                self.image.value = photo

    def export(self) -> list[Path]:
        """Write ``<name>-<id>.png`` per object; returns the files written."""
        from napari_boostseg import cutouts

        try:
            photo = _photo(self.image.value)
            labels = _label_image(self.segmentation.value, "segmentation")
            if photo.shape[:2] != labels.shape:
                raise ValueError(
                    f"'{self.segmentation.value.name}' ({labels.shape[1]}x{labels.shape[0]}) does not "
                    f"match the photo ({photo.shape[1]}x{photo.shape[0]}); choose its segmentation."
                )
            ids = [int(i) for i in np.unique(labels) if i != 0]
            if not ids:
                raise ValueError(f"'{self.segmentation.value.name}' has no products to cut out.")
        except ValueError as exc:
            _report_error(self.status, str(exc))
            return []
        folder = Path(self.folder.value)
        # As `boostseg segment` names them (spaces kept); only what no file name may hold is replaced.
        stem = re.sub(r'[\\/:*?"<>|\x00-\x1f]+', "_", self.prefix.value.strip() or self.image.value.name)
        existing = [p for k in ids if (p := folder / cutouts.cutout_name(stem, k)).exists()]
        if existing and not confirm_overwrite(existing):
            self.status.value = "Nothing exported; choose another folder or name."
            show_info(self.status.value)
            return []
        written = []
        try:
            for product in cutouts.product_cutouts(
                photo, labels, crop=self.crop.value, soft_edge=self.soft_edge.value
            ):
                path = folder / cutouts.cutout_name(stem, product.label)
                written.append(cutouts.write_cutout(path, product.rgba, overwrite=True))
        except (OSError, ValueError) as exc:
            _report_error(self.status, f"Export stopped after {counted(len(written), 'file')}: {exc}")
            return written
        self.status.value = f"Saved {counted(len(written), 'cut-out')} to {folder}."
        show_info(self.status.value)
        return written
