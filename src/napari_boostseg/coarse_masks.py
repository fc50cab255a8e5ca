"""Where a photo's coarse masks come from, and the choice between the sources.

Refinement needs a coarse mask per product. This module gives every entry
point (``boostseg segment``, ``boostseg demo``, the Detect widget) the same
sources and the same choice between them:

* ``"backdrop"`` -- :func:`napari_boostseg.backdrop.backdrop_labels`: the
  products that stand out from a plain studio backdrop; no model, about a
  tenth of a second; each separate product is one object. Products that
  touch are one region on the backdrop; :func:`coarse_masks` splits them by
  default with the product model, a Mask R-CNN fine-tuned on studio photos
  (``split_touching=False`` keeps them whole).
* ``"model"`` -- a Mask R-CNN (the bundled garment model unless weights are
  given): works on any photo, street or studio, and names each object's class.
* ``"auto"`` (the default) -- the backdrop where the photo has a plain backdrop
  with something on it, the model elsewhere; the model is loaded only for
  photos that need it.

A folder of mask files named like the photos is the fourth source
(:func:`from_mask_file`, ``boostseg segment --masks``).

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
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .backdrop import backdrop_labels
from .files import find_labels

__all__ = [
    "SOURCES",
    "CoarseMasks",
    "NoBackdropError",
    "MaskMismatchError",
    "try_backdrop",
    "product_splitter_weights",
    "from_model",
    "coarse_masks",
    "load_detector",
    "find_mask",
    "coarse_from_mask",
    "from_mask_file",
    "chosen_classes",
    "config_classes",
]

#: Sources a user can choose for photos without mask files.
SOURCES = ("auto", "backdrop", "model")


class NoBackdropError(ValueError):
    """The photo has no plain backdrop, so the backdrop source cannot segment it.

    ``reason`` says why, without the advice that the message adds.
    """

    def __init__(self, reason: str):
        super().__init__(f"{reason}; find its products with the model (source 'model' or 'auto')")
        self.reason = reason


class MaskMismatchError(ValueError):
    """A coarse mask file does not fit its photo (another aspect ratio)."""


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


def find_mask(photo: str | os.PathLike, masks_dir: str | os.PathLike) -> Path:
    """The coarse mask for ``photo``: ``masks_dir/NAME`` + .png, .tif or .tiff."""
    stem = Path(photo).stem
    folder = Path(masks_dir)
    found = find_labels(folder, stem)
    if found is not None:
        return found
    raise FileNotFoundError(
        f"no coarse mask for {Path(photo).name}: expected {folder / stem}.png (or .tif) "
        "in the masks folder"
    )


def coarse_from_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A mask file's content as a label image for a photo of ``shape`` (h, w).

    A mask with a single non-zero value (such as a 0/255 mask) becomes one
    object with id 1; a label image keeps its ids. A mask of another size but
    the same aspect ratio (within 1 %) is resized with nearest neighbours, as
    coarse masks are often saved at a lower resolution.
    """
    mask = np.asarray(mask)
    top = int(mask.max()) if mask.size else 0
    # Two comparisons are much faster than np.unique on a full-size mask.
    if top > 0 and not np.any((mask != 0) & (mask != top)):
        mask = (mask != 0).astype(np.int32)
    if mask.shape != tuple(shape):
        mh, mw = mask.shape
        h, w = shape
        if abs(mh / mw - h / w) > 0.01 * (h / w):
            turned = abs(mw / mh - h / w) <= 0.01 * (h / w)
            raise MaskMismatchError(
                f"mask of {mw}x{mh} px does not fit the photo of {w}x{h} px (different aspect ratio"
                + ("; it fits the photo turned by 90 degrees: make the mask of the photo as it is shown "
                   "upright, since photos are read turned by their EXIF orientation tag)" if turned else
                   "); make the mask of this photo, or of a copy scaled without cropping)")
            )
        rows = (np.arange(h) * mh) // h
        cols = (np.arange(w) * mw) // w
        mask = mask[rows[:, None], cols[None, :]]
    return mask.astype(np.int32, copy=False)


def from_mask_file(photo: str | os.PathLike, masks_dir: str | os.PathLike, shape: tuple[int, int]) -> CoarseMasks:
    """Coarse masks from the mask file named like ``photo`` in ``masks_dir``.

    See :func:`find_mask` and :func:`coarse_from_mask`; ``shape`` is the
    upright photo's ``(height, width)``.
    """
    from .files import read_labels

    mask_file = find_mask(photo, masks_dir)
    mask = read_labels(mask_file)
    scaled = f" ({mask.shape[1]}x{mask.shape[0]} px, scaled to the photo)" if mask.shape != tuple(shape) else ""
    return CoarseMasks(coarse_from_mask(mask, shape), "masks", f"mask file {mask_file.name}{scaled}")


_DETECTORS: OrderedDict[tuple, object] = OrderedDict()
#: Detectors (or load failures) kept: models are large, and the Detect widget
#: asks for a new one whenever its thresholds change.
_KEEP = 2


def load_detector(
    weights: str | os.PathLike | None = None,
    config: str | os.PathLike | None = None,
    *,
    min_score: float | None = None,
    nms: float | None = None,
):
    """A Mask R-CNN for inference, loaded once per process and weights file.

    Parameters
    ----------
    weights : path-like, optional
        ``.h5`` weights; default the bundled garment model.
    config : path-like, optional
        Its JSON config; default the one beside the weights.
    min_score, nms : float, optional
        Detection score threshold and non-maximum suppression IoU threshold
        instead of the config's (``detection_min_confidence``,
        ``detection_nms_threshold``).

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
    key = (str(Path(weights).resolve()), None if config is None else str(Path(config).resolve()), min_score, nms)
    model = _DETECTORS.get(key)
    if model is not None:
        _DETECTORS.move_to_end(key)
    if isinstance(model, Exception):
        raise model
    if model is None:
        try:
            thresholds = {k: v for k, v in (("min_score", min_score), ("nms", nms)) if v is not None}
            model = _build_detector(Path(weights), None if config is None else Path(config), **thresholds)
        except Exception as exc:
            _DETECTORS[key] = exc
            while len(_DETECTORS) > _KEEP:
                _DETECTORS.popitem(last=False)
            raise
        _DETECTORS[key] = model
        while len(_DETECTORS) > _KEEP:
            _DETECTORS.popitem(last=False)
    return model


def _build_detector(weights: Path, config: Path | None, min_score: float | None = None, nms: float | None = None):
    """Build the network and load its weights; TensorFlow is imported here and nowhere earlier."""
    from ._tensorflow import import_tensorflow

    import_tensorflow()  # quietly, unless the user asked for its messages
    try:
        from .mrcnn import MaskRCNNConfig, load_model
    except ImportError as exc:
        raise RuntimeError(f"Mask R-CNN detection is not available in this installation ({exc})") from exc
    from .mrcnn.model import config_path_for

    thresholds = {}
    if min_score is not None:
        thresholds["detection_min_confidence"] = float(min_score)
    if nms is not None:
        thresholds["detection_nms_threshold"] = float(nms)
    cfg = MaskRCNNConfig.from_json(config) if config is not None else None
    if thresholds:
        cfg = (cfg or MaskRCNNConfig.from_json(config_path_for(weights))).replace(**thresholds)
    return load_model(weights, cfg)


def try_backdrop(
    image: ArrayLike, source: str = "auto", *, split: bool = False, splitter: object | None = None, **options
) -> tuple[CoarseMasks | None, str]:
    """The backdrop's coarse masks, where ``source`` takes them.

    Parameters
    ----------
    image : array_like
        The photo (see :func:`napari_boostseg.backdrop.backdrop_labels`).
    source : {"auto", "backdrop"}, optional
        "auto" takes the backdrop's masks when the photo has a plain backdrop
        with something on it; "backdrop" whenever it has a plain backdrop.
    split : bool, optional
        Split regions of touching products into one object each: by the
        product model's detections (:func:`split_by_detections`) where the
        installation has the model and TensorFlow, else by colour
        (``backdrop_labels(split=True)``). The note says which. With the
        product model, a plain backdrop from which nothing stands out (a
        white product on white paper in a small photo) holds the products
        that the model sees on it (see
        :func:`~napari_boostseg.complete.complete_by_detections`).
        Default False.
    splitter : MaskRCNN, optional
        The detector that splits; default the shipped product model
        (:func:`load_detector` of :data:`napari_boostseg.models.PRODUCT_WEIGHTS`).
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
    weights, why_not = (None, "") if not split or splitter is not None else product_splitter_weights()
    by_model = split and (splitter is not None or weights is not None)
    found = backdrop_labels(image, split=split and not by_model, **options)
    if found.plain and (found.count or source == "backdrop" or by_model):
        note = f"backdrop: {found.reason}"
        labels = found.labels
        if by_model:
            try:  # loaded only for a photo with a plain backdrop
                splitter = splitter or load_detector(weights, min_score=_SPLIT_MIN_SCORE)
            except RuntimeError as exc:
                by_model, why_not = False, str(exc)
                if found.count:
                    labels = backdrop_labels(image, split=True, **options).labels
            if by_model:
                labels, regions, completed = _split_by_model(image, labels, splitter)
                if labels.max():
                    note = _model_note(int(labels.max()), found.backdrop, regions, completed, bare=not found.count)
        if split and not by_model and found.count:
            note += f"; touching products split by colour ({why_not})"
        if labels.max() or source == "backdrop":
            return CoarseMasks(labels, "backdrop", note), found.backdrop
    if source == "backdrop":
        raise NoBackdropError(found.reason)
    if not found.plain:
        return None, found.reason
    seen = ", and the product model sees nothing on it" if by_model else ""
    return None, f"nothing stands out from the {found.backdrop}{seen}"


def _model_note(count: int, backdrop: str, regions: int, completed: int, bare: bool = False) -> str:
    """The photo's line when the product model checked the backdrop's products (``bare``: it found
    them where nothing stood out from the backdrop)."""
    from ._text import counted

    if bare:
        return (f"backdrop: {counted(count, 'object')} on a {backdrop}; nothing stands out from the backdrop, "
                f"but the product model sees {'it' if count == 1 else 'them'}")
    did = []
    if regions:
        did.append(f"split {counted(regions, 'region')} of touching products")
    if completed:
        did.append(f"completed {counted(completed, 'product')} the backdrop found only in part")
    what = f"; the product model {' and '.join(did)}" if did else ""
    return f"backdrop: {counted(count, 'object')} on a {backdrop}{what}"


def product_splitter_weights() -> tuple[Path | None, str]:
    """The product model that splitting touching products runs, or None and why not.

    Cheap: it looks for the weights file and for TensorFlow without loading either.
    """
    from importlib.util import find_spec

    from .models import product_weights

    weights = product_weights()
    if weights is None:
        return None, "this installation has no product model"
    if find_spec("tensorflow") is None:
        return None, "TensorFlow is not installed"
    return weights, ""


#: Detections down to this score are asked of the product model: a person
#: detection of 0.3 already keeps a region whole (see DetectionSplitParams).
_SPLIT_MIN_SCORE = 0.3


def _split_by_model(image: ArrayLike, labels: np.ndarray, splitter) -> tuple[np.ndarray, int, int]:
    """Labels with touching products split and partly found products completed by the product model's
    detections, how many regions it split and how many products it completed."""
    from .complete import complete_by_detections
    from .split import split_by_detections

    found = splitter.detect([np.asarray(image)])[0]
    split = split_by_detections(labels, image, found.masks, found.scores, found.class_names)
    before = int(labels.max())
    regions = np.unique(labels[split > before]).size if split.max() > before else 0
    whole, completed = complete_by_detections(
        split, found.masks, found.scores, found.class_names, origin=labels, image=np.asarray(image)
    )
    return whole, int(regions), completed


def chosen_classes(
    class_names: Sequence[str], wanted: Sequence[str] | None = None, weights: str | os.PathLike | None = None
) -> tuple[str, ...]:
    """The classes to cut out: ``wanted`` checked against a model's classes, or the default.

    The one check of class names, for the command line, batches and
    :func:`from_model`.

    Parameters
    ----------
    class_names : sequence of str
        The model's classes, background first (``config.class_names``).
    wanted : sequence of str, optional
        Classes asked for. Default :func:`napari_boostseg.models.default_classes`
        (the garments for the bundled model, every class for others).
    weights : path-like, optional
        The model's weights, to tell the bundled model.

    Raises
    ------
    ValueError
        When ``wanted`` is empty or names a class the model does not have.
    """
    from .models import default_classes

    if wanted is None:
        return default_classes(weights, tuple(class_names))
    known = tuple(class_names)[1:]
    unknown = [c for c in wanted if c not in known]
    if unknown or not wanted:
        what = f"no class {', '.join(map(repr, unknown))}" if unknown else "no class named"
        raise ValueError(f"{what}; the model's classes are {', '.join(known)}")
    return tuple(wanted)


def config_classes(weights: str | os.PathLike, config: str | os.PathLike | None = None) -> tuple[str, ...]:
    """A model's classes (background first) from its config JSON, without TensorFlow.

    Raises
    ------
    FileNotFoundError
        When there is no config (beside the weights, or ``config``).
    """
    from .mrcnn.config import MaskRCNNConfig
    from .mrcnn.model import config_path_for

    path = Path(config) if config is not None else Path(config_path_for(weights))
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no Mask R-CNN config beside the weights; give --config")
    return tuple(MaskRCNNConfig.from_json(path).class_names)


def from_model(image: ArrayLike, model, classes: Sequence[str] | None = None) -> CoarseMasks:
    """Coarse masks from a Mask R-CNN's detections of ``classes``.

    A detection that keeps less than half of its mask beside the higher-scoring
    ones is left out (see :meth:`~napari_boostseg.mrcnn.Detections.without_fragments`).

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
    classes = chosen_classes(model.config.class_names, classes, getattr(model, "weights_path", None))
    found = model.detect([np.asarray(image)])[0].select(tuple(classes)).without_fragments()
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
    split_touching: bool = True,
    splitter: object | None = None,
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
    split_touching : bool, optional
        On the backdrop, split touching products into one object each, by the
        shipped product model's detections (see :func:`try_backdrop`). The
        model is loaded only for photos with products on a plain backdrop.
        Default True; False keeps each region of touching products whole.
    splitter : MaskRCNN, optional
        The detector that splits (see :func:`try_backdrop`); default the
        shipped product model.

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
        return try_backdrop(image, "backdrop", split=split_touching, splitter=splitter)[0]

    def detector():
        if model is None:
            return load_detector()
        return model() if callable(model) and not hasattr(model, "detect") else model

    if source == "model":
        return from_model(image, detector(), classes)
    chosen, why = try_backdrop(image, "auto", split=split_touching, splitter=splitter)
    if chosen is not None:
        return chosen
    chosen = from_model(image, detector(), classes)
    return CoarseMasks(chosen.labels, chosen.source, f"{chosen.note} ({why})", chosen.class_names)
