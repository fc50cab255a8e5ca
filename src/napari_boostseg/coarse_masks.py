"""Where a photo's coarse masks come from, and the choice between the sources.

Refinement needs a coarse mask per product. This module gives every entry
point (``boostseg segment``, ``boostseg demo``, the Detect widget) the same
sources and the same choice between them:

* ``"backdrop"`` -- :func:`napari_boostseg.backdrop.backdrop_labels`: the
  products that stand out from a plain studio backdrop; no model, about a
  tenth of a second; each separate product is one object, and touching
  products are split where their contact shows (often they stay one).
* ``"model"`` -- a Mask R-CNN (the bundled garment model unless weights are
  given): works on any photo, street or studio, and names each object's class.
* ``"auto"`` (the default) -- the backdrop where the photo has a plain backdrop
  with something on it, the model elsewhere; the model is loaded only for
  photos that need it.

A folder of mask files is the fourth source; :mod:`napari_boostseg.batch`
reads those.

Every result says which source it came from and why, in one line for people
(:attr:`CoarseMasks.note`).

Examples
--------
>>> import numpy as np
>>> photo = np.full((300, 200, 3), 250, np.uint8)
>>> photo[100:200, 60:140] = (30, 60, 160)
>>> found = coarse_masks(photo, "auto")   # a plain backdrop: no model needed
>>> found.source, int(found.labels.max())
('backdrop', 1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .backdrop import backdrop_labels

__all__ = [
    "SOURCES",
    "CoarseMasks",
    "NoBackdropError",
    "try_backdrop",
    "from_model",
    "coarse_masks",
    "load_detector",
]

#: Sources a user can choose for photos without mask files.
SOURCES = ("auto", "backdrop", "model")


class NoBackdropError(ValueError):
    """The photo has no plain backdrop, so the backdrop source cannot segment it."""


@dataclass(frozen=True)
class CoarseMasks:
    """Coarse labels of one photo and where they came from.

    Attributes
    ----------
    labels : (H, W) ndarray of int32
        0 background, 1..N objects.
    source : {"backdrop", "model", "masks"}
        The source that made them.
    note : str
        One line for people: the source, what it found, and, for ``auto``,
        why this source was chosen.
    class_names : tuple of str
        The class of each object (index ``k - 1``), where the model named it;
        empty otherwise.
    """

    labels: np.ndarray
    source: str
    note: str
    class_names: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """Number of objects."""
        return int(self.labels.max()) if self.labels.size else 0


_DETECTORS: dict[tuple[str, str | None], object] = {}


def load_detector(weights: str | os.PathLike | None = None, config: str | os.PathLike | None = None):
    """A Mask R-CNN for inference, loaded once per process and weights file.

    Parameters
    ----------
    weights : path-like, optional
        ``.h5`` weights; default the bundled garment model.
    config : path-like, optional
        Its JSON config; default the one beside the weights.

    Weights that failed to load fail again at once, without another try.

    Raises
    ------
    RuntimeError
        When the installation has no TensorFlow or no bundled model.
    """
    if weights is None:
        from .models import default_weights

        weights = default_weights()
        if weights is None:
            raise RuntimeError("this installation has no bundled model; give Mask R-CNN weights")
    key = (str(Path(weights).resolve()), None if config is None else str(Path(config).resolve()))
    model = _DETECTORS.get(key)
    if isinstance(model, Exception):
        raise model
    if model is None:
        try:
            model = _build_detector(Path(weights), None if config is None else Path(config))
        except Exception as exc:
            _DETECTORS[key] = exc
            raise
        _DETECTORS[key] = model
    return model


def _build_detector(weights: Path, config: Path | None):
    """Build the network and load its weights; TensorFlow is imported here and nowhere earlier."""
    from ._tensorflow import import_tensorflow

    import_tensorflow()  # quietly, unless the user asked for its messages
    try:
        from .mrcnn import MaskRCNNConfig, load_model
    except ImportError as exc:
        raise RuntimeError(f"Mask R-CNN detection is not available in this installation ({exc})") from exc
    cfg = MaskRCNNConfig.from_json(config) if config is not None else None
    return load_model(weights, cfg)


def try_backdrop(image: ArrayLike, source: str = "auto", **options) -> tuple[CoarseMasks | None, str]:
    """The backdrop's coarse masks, where ``source`` takes them.

    Parameters
    ----------
    image : array_like
        The photo (see :func:`napari_boostseg.backdrop.backdrop_labels`).
    source : {"auto", "backdrop"}, optional
        "auto" takes the backdrop's masks when the photo has a plain backdrop
        with something on it; "backdrop" whenever it has a plain backdrop.
    **options
        Passed to :func:`~napari_boostseg.backdrop.backdrop_labels`.

    Returns
    -------
    masks : CoarseMasks or None
        None when the model is needed instead.
    why : str
        The backdrop in a few words when ``masks`` were taken, else why the
        model is needed.

    Raises
    ------
    NoBackdropError
        With ``source="backdrop"`` on a photo without a plain backdrop.
    """
    found = backdrop_labels(image, **options)
    if found.plain and (found.count or source == "backdrop"):
        return CoarseMasks(found.labels, "backdrop", f"backdrop: {found.reason}"), found.backdrop
    if source == "backdrop":
        raise NoBackdropError(f"{found.reason}; use the model for this photo")
    return None, found.reason if not found.plain else "nothing stands out from the backdrop"


def from_model(image: ArrayLike, model, classes: Sequence[str] | None = None) -> CoarseMasks:
    """Coarse masks from a Mask R-CNN's detections of ``classes``.

    Parameters
    ----------
    image : array_like
        The photo; 16-bit, grey and RGBA photos are converted as the model needs.
    model : MaskRCNN
        From :func:`load_detector`.
    classes : sequence of str, optional
        Classes to keep; default :func:`napari_boostseg.models.default_classes`
        (the garments for the bundled model, every class for others).
    """
    from .models import default_classes

    names = tuple(model.config.class_names)
    if classes is None:
        classes = default_classes(getattr(model, "weights_path", None), names)
    unknown = [c for c in classes if c not in names[1:]]
    if unknown:
        raise ValueError(
            f"the model has no class {', '.join(map(repr, unknown))}; its classes are "
            f"{', '.join(names[1:])}"
        )
    found = model.detect([np.asarray(image)])[0].select(tuple(classes))
    labels = np.asarray(found.to_labels(), dtype=np.int32)
    if len(found):
        what = ", ".join(f"{n} {s:.2f}" for n, s in zip(found.class_names, found.scores))
        note = f"model: {what}"
    else:
        note = f"model: no {' or '.join(classes)} found"
    return CoarseMasks(labels, "model", note, tuple(found.class_names))


def coarse_masks(
    image: ArrayLike,
    source: str = "auto",
    *,
    model: object | Callable[[], object] | None = None,
    classes: Sequence[str] | None = None,
) -> CoarseMasks:
    """Coarse masks of one photo from the chosen source.

    Parameters
    ----------
    image : array_like
        The photo.
    source : {"auto", "backdrop", "model"}, optional
        Default "auto": the backdrop where the photo has a plain backdrop with
        something on it, the model elsewhere.
    model : MaskRCNN or callable, optional
        The detector, or a function that loads it (called only when the model
        is needed). Default :func:`load_detector` (the bundled model).
    classes : sequence of str, optional
        Model classes to keep (see :func:`from_model`).

    Returns
    -------
    CoarseMasks

    Raises
    ------
    NoBackdropError
        With ``source="backdrop"`` on a photo without a plain backdrop.
    ValueError
        For an unknown source.
    """
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    if source == "backdrop":
        return try_backdrop(image, "backdrop")[0]

    def detector():
        if model is None:
            return load_detector()
        return model() if callable(model) and not hasattr(model, "detect") else model

    if source == "model":
        return from_model(image, detector(), classes)
    chosen, why = try_backdrop(image, "auto")
    if chosen is not None:
        return chosen
    chosen = from_model(image, detector(), classes)
    return CoarseMasks(chosen.labels, chosen.source, f"{chosen.note} ({why})", chosen.class_names)
