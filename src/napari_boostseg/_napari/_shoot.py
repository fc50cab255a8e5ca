"""The Shoot review widget: step through a folder of photos, correct, accept.

A thin shell over :class:`napari_boostseg.shoot.Shoot` (the state on disk)
and the Refine widget (layers, strokes, live re-flooding). One photo's layers
are in the viewer at a time; the next photo is read, its products found (a
new photo's, by :func:`napari_boostseg.coarse_masks.coarse_masks`; the model,
where needed, in the detection child process) and refined in a thread worker
while the person works on this one. Strokes are saved a moment after each
edit and when leaving a photo, so nothing is lost; Accept writes in a thread
worker too, and a photo counts as corrected once its files are written.

Keys: PageDown next photo, PageUp previous photo.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import ComboBox, Container, FileEdit, Label, ProgressBar, PushButton

from .._text import counted
from ._widgets import (
    SOURCE_CHOICES,
    DetectWidget,
    RefineWidget,
    _add_full_width,
    _report_error,
    _start,
    _status_label,
    same_viewer,
    split_touching_box,
)

if TYPE_CHECKING:
    import napari

    from napari_boostseg.shoot import Shoot

#: Keys bound in the viewer while a shoot is open.
NEXT_KEY, PREVIOUS_KEY = "PageDown", "PageUp"
#: Where a new photo's products come from: Detect's sources, or nowhere.
FIND_CHOICES = (*SOURCE_CHOICES, ("no: paint or Detect", "none"))
#: Steps of preparing a photo, shown in the progress bar.
PREPARE_STEPS = ("reading", "finding products in", "refining")


@dataclass
class Prepared:
    """One photo, read and refined, ready to show."""

    index: int
    name: str
    pixels: np.ndarray
    coarse: np.ndarray | None
    refinement: Any  # napari_boostseg.Refinement or None
    strokes: np.ndarray | None
    classes: dict[int, str]  # class of each coarse mask, where a model named it
    note: str = ""  # where a new photo's coarse masks came from, or why none
    found_with: Path | None = None  # the weights that found them, where the model did


def _model_classes() -> list[str]:
    """The bundled model's classes, garments first (read from its config; no TensorFlow)."""
    from napari_boostseg.coarse_masks import config_classes
    from napari_boostseg.models import GARMENT_CLASSES, default_weights

    weights = default_weights()
    if weights is None:
        return ["garment"]
    names = config_classes(weights)[1:]
    return sorted(names, key=lambda n: n not in GARMENT_CLASSES)


def _find_products(pixels: np.ndarray, source: str, weights: Path | None, split: bool = False):
    """Coarse masks of a new photo: ``(labels or None, classes, note, weights used or None)``.

    Never raises for a photo: the note says what went wrong.

    The model, where the source needs it, detects in the detection child
    process (:class:`._detector.ChildModel`), never in napari's.
    """
    from napari_boostseg.coarse_masks import coarse_masks

    from ._detector import ChildModel, child_product_splitter

    used = []

    def model():
        if weights is None:
            raise RuntimeError("no Mask R-CNN weights: choose them in Detect")
        used.append(Path(weights))
        return ChildModel(weights)

    try:
        splitter = child_product_splitter() if split else None  # also in the child process
        found = coarse_masks(pixels, source, model=model, split_touching=split, splitter=splitter)
    except Exception as exc:  # no backdrop, no weights, the model failed: the photo opens anyway
        return None, {}, f"none found: {exc}", used[0] if used else None
    if not found.count:
        return None, {}, found.note, used[0] if used else None
    classes = {k: name for k, name in enumerate(found.class_names, start=1)}
    if found.source == "backdrop":  # "backdrop: 2 objects on a white backdrop (level 255 of 255)"
        where = "on a " + found.note.split(" on a ", 1)[-1]
    else:  # "model: top 0.91, bag 0.66 (no plain backdrop: ...)"
        where = "by the " + found.note
    return found.labels, classes, where, used[0] if used else None


class _ClassChoice(ComboBox):
    """A class to choose, which starts unchosen and says so (magicgui shows "-----")."""

    null_string = "(choose a class)"


def _folder(edit: FileEdit) -> Path | None:
    value = str(edit.value)
    return None if value in ("", ".") else Path(value)


class ShootWidget(Container):
    """A folder of photos with a status each; next and previous; accept or skip."""

    #: Calm after the last stroke before it is saved, in milliseconds.
    SAVE_DELAY_MS = 1000

    def __init__(self, napari_viewer: napari.Viewer):
        from qtpy.QtCore import QTimer
        from qtpy.QtWidgets import QListWidget

        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.synchronous = False
        self.shoot: Shoot | None = None
        self.current: int | None = None
        self.refine: RefineWidget | None = None
        self._prepared: dict[int, Prepared] = {}
        self._workers: dict[int, Any] = {}
        self._wanted: int | None = None
        self._shown_coarse: np.ndarray | None = None
        self._accepting: dict[str, Any] = {}  # photo -> its Accept worker
        self._verdict_note = ""  # what became of the photo left behind, until the next one is shown
        # Edits are written in workers, one write at a time per photo: photo ->
        # (set when its write is done, the newest edits waiting for it).
        self._writing: dict[str, tuple[threading.Event, dict | None]] = {}
        self.last_written: list[Path] = []
        self.found_with: Path | None = None  # weights that found the shown photo's products
        self.photos = FileEdit(label="photos", mode="d", value="", tooltip="The shoot's folder of photos.")
        self.segmented = FileEdit(
            label="segment output", mode="d", value="",
            tooltip="Optional: the --out folder of 'boostseg segment' over these photos; its "
            "label images are the photos' coarse masks.",
        )
        self.review = FileEdit(
            label="review folder", mode="d", value="",
            tooltip="Where statuses, strokes, training data (images/, labels/) and cut-outs "
            "go. Empty: '<photos>-review' beside the photo folder.",
        )
        self.find = ComboBox(
            label="find products", choices=FIND_CHOICES, value="auto",
            tooltip="In a photo without coarse masks: auto, on its backdrop where it has a plain "
            "one, else by the Mask R-CNN (the weights chosen in Detect, else the bundled "
            "model); or backdrop, model, or none.",
        )
        self.split_touching = split_touching_box(self.find)
        classes = _model_classes()
        self.class_name = _ClassChoice(
            label="class of unnamed objects", choices=classes, value=None, nullable=True,
            tooltip="Class saved for objects that have none (found on the backdrop, from segment "
            "outputs or painted by hand): one of the bundled model's classes, so the accepted "
            "photos can teach it. None is assumed: Accept asks for it where a photo has such objects.",
        )
        self.open_button = PushButton(text="Open shoot")
        self.count = Label(label="", value="")
        self.previous_button = PushButton(text=f"< Previous ({PREVIOUS_KEY})", enabled=False)
        self.next_button = PushButton(text=f"Next ({NEXT_KEY}) >", enabled=False)
        self.accept_button = PushButton(text="Accept", enabled=False)
        self.skip_button = PushButton(text="Skip", enabled=False)
        self.progress = ProgressBar(label="", min=0, max=len(PREPARE_STEPS), value=0, visible=False)
        self.status = _status_label()
        self.list = QListWidget()
        self.list.setMinimumHeight(160)
        self.extend([
            self.photos, self.segmented, self.review, self.find, self.split_touching, self.class_name,
            self.open_button,
            self.count,
            Container(widgets=[self.previous_button, self.next_button], layout="horizontal", labels=False),
            Container(widgets=[self.accept_button, self.skip_button], layout="horizontal", labels=False),
            self.progress,
        ])
        # The list of photos goes under their count.
        self.native.layout().insertWidget(self.index(self.count) + 1, self.list)
        _add_full_width(self, self.status)
        self.open_button.changed.connect(self.open)
        self.previous_button.changed.connect(self.previous)
        self.next_button.changed.connect(self.next)
        self.accept_button.changed.connect(self.accept)
        self.skip_button.changed.connect(self.skip)
        self.list.currentRowChanged.connect(self._row_chosen)
        self._save_timer = QTimer(singleShot=True, interval=self.SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save)
        self._closed = False  # the widget is gone: workers still running report to no one
        self.native.destroyed.connect(self._close)

    def _close(self, *_args) -> None:
        self._closed = True
        for worker in list(self._workers.values()):
            worker.quit()

    # -- opening ------------------------------------------------------------ #

    def open(self) -> None:
        """Open the chosen folders and show the first photo not yet reviewed."""
        from napari_boostseg.shoot import Shoot

        photos = _folder(self.photos)
        if photos is None:
            _report_error(self.status, "Choose the folder of photos.")
            return
        review = _folder(self.review) or photos.parent / f"{photos.name}-review"
        try:
            shoot = Shoot(photos, review, segmented=_folder(self.segmented))
        except (OSError, ValueError) as exc:
            _report_error(self.status, str(exc))
            return
        self.save()
        self._clear_layers()
        self.shoot, self.current = shoot, None
        self._prepared.clear()
        self._verdict_note = ""
        if self.refine is None:
            self.refine = RefineWidget(self.viewer)
            self.refine.synchronous = self.synchronous
            self.viewer.window.add_dock_widget(self.refine, name="Refine", area="right")
        self.viewer.bind_key(NEXT_KEY, lambda _viewer: self.next(), overwrite=True)
        self.viewer.bind_key(PREVIOUS_KEY, lambda _viewer: self.previous(), overwrite=True)
        self._fill_list()
        todo = [i for i, n in enumerate(shoot.names) if shoot.status(n) in ("new", "automatic")]
        self.show(todo[0] if todo else 0)

    def _fill_list(self) -> None:
        shoot = self.shoot
        self.list.blockSignals(True)
        self.list.clear()
        for name in shoot.names:
            status = "saving…" if name in self._accepting else shoot.status(name)
            self.list.addItem(f"{name}  ({status})")
        if self.current is not None:
            self.list.setCurrentRow(self.current)
        self.list.blockSignals(False)
        self.count.value = shoot.summary()

    # -- stepping ----------------------------------------------------------- #

    def next(self) -> None:
        if self.shoot is not None and self.current is not None and self.current + 1 < len(self.shoot.names):
            self.show(self.current + 1)

    def previous(self) -> None:
        if self.shoot is not None and self.current is not None and self.current > 0:
            self.show(self.current - 1)

    def _row_chosen(self, row: int) -> None:
        if self.shoot is not None and 0 <= row != self.current:
            self.show(row)

    def show(self, index: int, save: bool = True) -> None:
        """Leave the current photo (its strokes saved unless ``save`` is False) and show photo ``index``."""
        if save:
            self.save()
        self._clear_layers()
        self.current = self._wanted = index
        self._fill_list()
        for button in (self.previous_button, self.next_button, self.accept_button, self.skip_button):
            button.enabled = True
        self.previous_button.enabled = index > 0
        self.next_button.enabled = index + 1 < len(self.shoot.names)
        for i in list(self._prepared):
            if i not in (index, index + 1):
                del self._prepared[i]
        stale = self._prepared.get(index)
        if stale is not None and stale.found_with is not None and stale.found_with != self._weights():
            del self._prepared[index]  # found by a model that has been trained further since
        if index in self._prepared:
            self._display(self._prepared.pop(index))
        else:
            self.status.value = f"Opening {self.shoot.names[index]}…"
            self._prepare(index)

    def _weights(self) -> Path | None:
        """The Mask R-CNN weights for new photos: Detect's (Train puts its newest there), else bundled."""
        from napari_boostseg.models import default_weights

        for widget in list(DetectWidget.instances):
            if not same_viewer(widget.viewer, self.viewer):
                continue  # another viewer's (maybe closed already)
            try:
                chosen = Path(str(widget.weights.value))
            except RuntimeError:  # its dock was closed: the Qt widget is gone
                continue
            if chosen.suffix.lower() == ".h5" and chosen.is_file():
                return chosen
        return default_weights()

    def _prepare(self, index: int) -> None:
        """Read photo ``index``, find its products if new, refine it, in a worker; shown if still wanted."""
        if index in self._workers or index in self._prepared:
            return
        shoot, name = self.shoot, self.shoot.names[index]
        params = self.refine.refine_params()
        source, weights, split = self.find.value, self._weights(), bool(self.split_touching.value)
        written = self._writing[name][0] if name in self._writing else None

        def work():
            from napari_boostseg import refine

            yield 0
            if written is not None:  # its strokes are being saved: read them once on disk
                written.wait(60)
            pixels = shoot.read_photo(name).pixels
            coarse, classes, note, used = shoot.coarse(name), shoot.coarse_classes(name), "", None
            if coarse is None and source != "none":
                yield 1
                coarse, classes, note, used = _find_products(pixels, source, weights, split)
            if coarse is not None and coarse.shape != pixels.shape[:2]:
                raise ValueError(
                    f"The coarse masks of {name} are {coarse.shape[1]}x{coarse.shape[0]} but the "
                    f"photo is {pixels.shape[1]}x{pixels.shape[0]}."
                )
            refinement = None
            if coarse is not None and coarse.any():
                yield 2
                refinement = refine(pixels, coarse, params, return_intermediates=True)
            return Prepared(index, name, pixels, coarse, refinement, shoot.strokes(name), classes, note, used)

        self._workers[index] = _start(
            work,
            yielded=lambda step: self._step(index, step),
            returned=self._prepared_one,
            errored=lambda exc: self._failed(index, exc),
            finished=lambda: self._workers.pop(index, None),
            synchronous=self.synchronous,
        )
        if self.synchronous:
            self._workers.pop(index, None)

    def _step(self, index: int, step: int) -> None:
        if index == self._wanted and self.shoot is not None and not self._closed:
            self.progress.visible = True
            self.progress.value = step
            step_text = f"{PREPARE_STEPS[step].capitalize()} {self.shoot.names[index]}…"
            self.status.value = f"{self._verdict_note} {step_text}".lstrip()

    def _prepared_one(self, prepared: Prepared) -> None:
        if self._closed:
            return
        if prepared.index == self._wanted and self.current == prepared.index and not self._on_screen():
            self._display(prepared)
        else:
            self._prepared[prepared.index] = prepared

    def _failed(self, index: int, exc: BaseException) -> None:
        if index == self._wanted and not self._closed:
            self.progress.visible = False
            self.accept_button.enabled = False  # nothing of it to accept
            _report_error(
                self.status,
                f"Cannot open {self.shoot.names[index]}: {str(exc).rstrip('.')}. Skip it, or replace the file "
                "and open the shoot again.",
            )

    def _on_screen(self) -> bool:
        name = self.shoot.names[self.current]
        return name in self.viewer.layers

    def _display(self, prepared: Prepared) -> None:
        viewer, name, refine = self.viewer, prepared.name, self.refine
        self.progress.visible = False
        viewer.add_image(prepared.pixels, name=name)
        self._shown_coarse = None
        found = f" found {prepared.note}" if prepared.note else ""
        self.found_with = prepared.found_with
        if prepared.coarse is not None:
            # Found just now: saved below (then the photo is automatic, and not searched again).
            self._shown_coarse = None if prepared.note else prepared.coarse
            coarse = viewer.add_labels(prepared.coarse.copy(), name=f"{name} coarse", opacity=0.4, visible=False)
            if prepared.classes:
                import pandas as pd

                ids = range(int(prepared.coarse.max()) + 1)
                coarse.features = pd.DataFrame(
                    {"index": list(ids), "class_name": [prepared.classes.get(k, "") for k in ids]}
                )
        if prepared.refinement is not None:
            refine._show(prepared.refinement, (name, f"{name} coarse"), None)
            markers = refine.layers["markers"]
            strokes = prepared.strokes
            if strokes is not None and strokes.shape == markers.data.shape:
                painted = markers.data.copy()
                painted[strokes > 0] = strokes[strokes > 0] - 1
                markers.data = painted
                refine.follow_markers()
            markers.events.paint.connect(self._edited)
            markers.events.set_data.connect(self._edited)
            self.status.value = (
                f"{name}: {counted(int(refine._segmentation.max()), 'object')}{found}. Correct with strokes "
                f"on '{name} markers', then Accept."
            )
        else:
            why = f" ({prepared.note})" if prepared.note else ""
            self.status.value = (
                f"{name}: no coarse masks{why}. Run Detect (or paint '{name} coarse'), then Refine."
            )
        if self._verdict_note:  # the photo left behind was saved while this one was prepared
            self.status.value = f"{self._verdict_note} {self.status.value}"
            self._verdict_note = ""
        viewer.reset_view()
        if prepared.note and prepared.coarse is not None:
            self.save()
            self._fill_list()
        if prepared.index + 1 < len(self.shoot.names):
            self._prepare(prepared.index + 1)

    def _clear_layers(self) -> None:
        """Remove the current photo's layers (their strokes are saved first)."""
        if self.shoot is None or self.current is None:
            return
        name = self.shoot.names[self.current]
        for layer in [layer for layer in self.viewer.layers if layer.name == name or layer.name.startswith(name + " ")]:
            self.viewer.layers.remove(layer)

    # -- saving ------------------------------------------------------------- #

    def _edited(self, _event=None) -> None:
        self._save_timer.start()

    def _current_layers(self):
        if self.shoot is None or self.current is None or self.refine is None:
            return None, None
        name = self.shoot.names[self.current]
        coarse = self.viewer.layers[f"{name} coarse"] if f"{name} coarse" in self.viewer.layers else None
        markers = self.refine.layers.get("markers")
        result = self.refine.refinement
        if markers is None or markers not in self.viewer.layers or result is None or self.refine._source[0] != name:
            markers = None
        return coarse, markers

    def _edits(self) -> dict | None:
        """What :meth:`save` would write for the current photo (``save_edits`` arguments), or None."""
        self._save_timer.stop()
        coarse, markers = self._current_layers()
        if coarse is None and markers is None:
            return None
        name = self.shoot.names[self.current]
        new_coarse = None
        if coarse is not None and (
            self._shown_coarse is None or not np.array_equal(coarse.data, self._shown_coarse)
        ):
            new_coarse = np.array(coarse.data)
            self._shown_coarse = new_coarse.copy()
        strokes = None
        if markers is not None:
            painted = np.asarray(markers.data)
            automatic = self.refine.refinement.markers
            strokes = np.where(painted != automatic, painted + 1, 0).astype(np.int32)
            if not strokes.any() and self.shoot.strokes(name) is None:
                strokes = None
        classes = None
        features = getattr(coarse, "features", None)
        if new_coarse is not None and features is not None and "class_name" in features:
            classes = {int(k): str(c) for k, c in zip(features["index"], features["class_name"]) if c}
        return {"coarse": new_coarse, "strokes": strokes, "classes": classes}

    def save(self) -> None:
        """Save the current photo's strokes and coarse masks (if changed) to the review folder, in a worker."""
        edits = self._edits()
        if edits is not None:
            self._write_edits(self.shoot, self.shoot.names[self.current], edits)

    def _write_edits(self, shoot: Shoot, name: str, edits: dict, done: threading.Event | None = None) -> None:
        """Write ``edits`` of photo ``name`` in a worker; newer edits wait for a write still running."""
        if name in self._writing and done is None:
            self._writing[name] = (self._writing[name][0], edits)  # only the newest are worth writing
            return
        done = done or threading.Event()
        self._writing[name] = (done, None)

        def work():
            yield name
            shoot.save_edits(name, **edits)

        def finished():
            _done, newer = self._writing.pop(name)
            if newer is not None:
                self._write_edits(shoot, name, newer, done)  # readers go on waiting for it
                return
            done.set()
            if shoot is self.shoot and not self._closed:
                self._fill_list()  # a photo with saved coarse masks counts as automatic

        _start(
            work,
            yielded=lambda _name: None,
            returned=lambda _result: None,
            errored=lambda exc: self._report_if_open(shoot, f"Could not save the strokes of {name}: {exc}"),
            finished=finished,
            synchronous=self.synchronous,
        )

    def accept(self):
        """Save the segmentation as training data and cut-outs (in a worker); go to the next photo.

        The photo counts as corrected once its files are written; an error is
        shown and leaves its status as it was. Returns the worker (None when
        nothing is accepted or when synchronous).
        """
        if self.shoot is None or self.current is None:
            return None
        shoot, name = self.shoot, self.shoot.names[self.current]
        segmentation = self.refine.layers.get("segmentation")
        if segmentation is None or segmentation not in self.viewer.layers or self.refine._source[0] != name:
            _report_error(self.status, f"{name} has no segmentation to accept: run Refine first, or Skip.")
            return None
        if name in self._accepting:
            _report_error(self.status, f"{name} is being saved; wait a moment.")
            return None
        labels = np.array(segmentation.data)
        classes: dict[int, str | None] = {int(k): None for k in np.unique(labels) if k > 0}
        features = getattr(self.viewer.layers[f"{name} coarse"], "features", None) if (
            f"{name} coarse" in self.viewer.layers
        ) else None
        if features is not None and "class_name" in features and "index" in features:
            for k, cls in zip(features["index"], features["class_name"]):
                if int(k) in classes and isinstance(cls, str) and cls in self.class_name.choices:
                    classes[int(k)] = cls
        unnamed = [k for k, cls in classes.items() if cls is None]
        given = ""
        if unnamed and self.class_name.value is not None:
            chosen = str(self.class_name.value)
            classes.update({k: chosen for k in unnamed})
            given = f" {counted(len(unnamed), 'object')} without a class saved as '{chosen}'."
        elif unnamed:
            _report_error(
                self.status,
                f"{name} has {counted(len(unnamed), 'object')} without a class ({', '.join(map(str, unnamed))}: "
                "found on the backdrop or painted by hand), and training data needs one: choose the "
                "class of unnamed objects, then Accept again.",
            )
            return None
        edits = self._edits()
        if edits is not None:
            self._write_edits(shoot, name, edits)

        def work():
            yield name
            return shoot.accept(name, labels, classes)  # reads the photo again, for its ICC profile

        self._accepting[name] = True
        worker = _start(
            work,
            yielded=lambda _name: None,
            returned=lambda written: self._accepted(shoot, name, written, given),
            errored=lambda exc: self._report_if_open(shoot, f"{name} not accepted: {exc}"),
            finished=lambda: self._saved(shoot, name),
            synchronous=self.synchronous,
        )
        if worker is not None:
            self._accepting[name] = worker
        self._after_verdict(f"Saving {name}…" if name in self._accepting else "", save=False)
        return worker

    def _accepted(self, shoot: Shoot, name: str, written: list[Path], given: str = "") -> None:
        self.last_written = written
        if shoot is self.shoot and not self._closed:
            done = f"{name} accepted: {counted(len(written) - 3, 'cut-out')} in {shoot.review / 'cutouts'}.{given}"
            if self.current is not None and shoot.names[self.current] == name:  # the last photo
                left = shoot.counts()["new"] + shoot.counts()["automatic"]
                rest = f" {left} photo(s) left to review." if left else " Every photo is reviewed."
                self.status.value = done + rest
            else:
                self.status.value = f"{done} {self.status.value.replace(f'Saving {name}… ', '')}".strip()
                if self.current is not None and not self._on_screen():  # the next photo is still being prepared
                    self._verdict_note = done

    def _report_if_open(self, shoot: Shoot, message: str) -> None:
        if shoot is self.shoot and not self._closed:
            _report_error(self.status, message)

    def _saved(self, shoot: Shoot, name: str) -> None:
        self._accepting.pop(name, None)
        if shoot is self.shoot and not self._closed:
            self._fill_list()

    def skip(self) -> None:
        if self.shoot is None or self.current is None:
            return
        name = self.shoot.names[self.current]
        self.save()
        self.shoot.skip(name)
        self._after_verdict(f"{name} skipped.")

    def _after_verdict(self, message: str, save: bool = True) -> None:
        self._fill_list()
        if self.current + 1 < len(self.shoot.names):
            self.show(self.current + 1, save=save)
        if message:
            self.status.value = message + " " + self.status.value if self.status.value else message
