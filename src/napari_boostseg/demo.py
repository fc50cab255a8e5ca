"""The quick-start job: detect, refine and cut out the products of the bundled samples.

    boostseg demo --out boostseg-demo

For each bundled sample photo it runs the shipped garment model (the whole
method: Mask R-CNN coarse masks, then refinement), and writes the photo, the
coarse and the refined label images and one RGBA cut-out per object. It
prints what the model found and, where the sample's true outline is known,
how close the coarse and the refined masks are to it. Where the model finds
nothing, or with ``--no-model``, the sample's own coarse mask is refined
instead, and the printout says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["run_demo", "DemoPhoto", "demo_photos"]


@dataclass(frozen=True)
class DemoPhoto:
    """A photo the demo works on.

    Attributes
    ----------
    name : str
    image : (H, W, 3) uint8
    coarse : (H, W) int32 or None
        A coarse mask to fall back on when the model finds nothing.
    truth : (H, W) int32 or None
        The true objects, when known.
    classes : tuple of str or None
        Model classes to cut out; None: the model's defaults.
    """

    name: str
    image: np.ndarray
    coarse: np.ndarray | None
    truth: np.ndarray | None
    classes: tuple[str, ...] | None = None


def demo_photos() -> list[DemoPhoto]:
    """The generated studio samples, and scikit-image's astronaut photo (a person)."""
    from skimage import data

    from .samples import load_samples

    photos = [DemoPhoto(s.name, s.image, s.coarse, s.truth) for s in load_samples()]
    # A real photo of a person (public domain, NASA), bundled with scikit-image.
    photos.append(DemoPhoto("astronaut", data.astronaut(), None, None, classes=("person",)))
    return photos


def _load_model(weights: str | os.PathLike | None, log: Callable[[str], None]):
    if weights is None:
        return None
    if weights == "default":
        from .models import default_weights

        weights = default_weights()
        if weights is None:
            log("this installation has no bundled model: refining the samples' own coarse masks")
            return None
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        from .mrcnn import load_model
    except ImportError as exc:
        log(f"Mask R-CNN is not available ({exc}): refining the samples' own coarse masks")
        return None
    return load_model(weights)


def _coarse(model, photo: DemoPhoto) -> tuple[np.ndarray | None, str]:
    """Coarse labels for one photo and a line saying where they came from."""
    if model is not None:
        from .models import default_classes

        classes = photo.classes or default_classes(model.weights_path, model.config.class_names)
        found = model.detect([photo.image])[0].select(classes)
        if len(found):
            what = ", ".join(f"{n} {s:.2f}" for n, s in zip(found.class_names, found.scores))
            return found.to_labels(), f"Mask R-CNN found {what}"
        if photo.coarse is None:
            return None, f"Mask R-CNN found no {' or '.join(classes)}; nothing to cut out"
        return np.asarray(photo.coarse), (
            f"Mask R-CNN found no {' or '.join(classes)}; refining the sample's own coarse mask"
        )
    if photo.coarse is None:
        return None, "no model and no coarse mask; skipped"
    return np.asarray(photo.coarse), "the sample's own coarse mask"


def _scores(coarse: np.ndarray, labels: np.ndarray, truth: np.ndarray | None) -> str:
    if truth is None:
        return ""
    from .metrics import boundary_accuracy, iou

    # Detected ids need not be the true ids: compare the products' union.
    c, r, t = coarse > 0, labels > 0, truth > 0
    return (
        f"; foreground IoU {iou(c, t):.3f} -> {iou(r, t):.3f}, "
        f"mBA {boundary_accuracy(c, t):.3f} -> {boundary_accuracy(r, t):.3f}"
    )


def run_demo(
    out_dir: str | os.PathLike,
    *,
    overwrite: bool = False,
    weights: str | os.PathLike | None = "default",
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Cut out the products of every demo photo and save the results under ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Output folder; created when missing.
    overwrite : bool, optional
        Replace files left by an earlier run. Default False: an existing
        file stops the run with :class:`FileExistsError` before anything is
        written for that photo.
    weights : "default", path-like or None, optional
        Mask R-CNN for the coarse masks: "default" (the bundled model, when
        this installation has it), a weights file, or None to refine the
        samples' own coarse masks.
    log : callable, optional
        Receives one line of text per photo. Default :func:`print`.

    Returns
    -------
    list of pathlib.Path
        Every file written.
    """
    from . import io, refine

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = _load_model(weights, log)
    written: list[Path] = []
    for photo in demo_photos():
        coarse, source = _coarse(model, photo)
        if coarse is None:
            log(f"{photo.name}: {source}")
            continue
        labels = refine(photo.image, coarse)
        ids = [int(k) for k in np.unique(labels) if k]
        targets = {
            out / f"{photo.name}.png": lambda p: io.write_image(p, photo.image, overwrite=overwrite),
            out / f"{photo.name}_coarse.png": lambda p: io.write_labels(p, coarse, overwrite=overwrite),
            out / f"{photo.name}_labels.png": lambda p: io.write_labels(p, labels, overwrite=overwrite),
        }
        for k in ids:
            targets[out / f"{photo.name}_cutout_{k}.png"] = lambda p, k=k: io.write_cutout(
                p, io.cutout(photo.image, labels, label=k), overwrite=overwrite
            )
        if not overwrite:
            existing = [p for p in targets if p.exists()]
            if existing:
                raise FileExistsError(
                    f"{existing[0]} exists; pass --overwrite to replace the demo's files "
                    "or choose another --out folder"
                )
        for path, write in targets.items():
            written.append(write(path))
        log(f"{photo.name}: {source}{_scores(coarse, labels, photo.truth)}")
    log(f"wrote {len(written)} files to {out.resolve()}")
    return written
