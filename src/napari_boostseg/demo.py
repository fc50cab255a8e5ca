"""The quick-start job: find, refine and cut out the products of the bundled sample photos.

    boostseg demo --out boostseg-demo

For each bundled sample photo (:mod:`napari_boostseg.sample_photos`: four
studio photos and a street photo), it gets coarse masks as ``boostseg segment``
does by default (:func:`napari_boostseg.coarse_masks.coarse_masks`: the
backdrop where the photo has a plain one, the bundled Mask R-CNN elsewhere),
refines them, and writes, in the folders ``boostseg segment`` writes, the
photo (``photos/``), the coarse and the refined label images (``coarse/``,
``labels/``) and one RGBA cut-out per object (``cutouts/``). It prints, per photo, where the coarse masks
came from and, where the true outline is known, how close the coarse and the
refined masks are to it; then the totals over the studio samples.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["run_demo", "DemoPhoto", "demo_photos"]


@dataclass(frozen=True)
class DemoPhoto:
    """A photo the demo works on.

    Attributes
    ----------
    name : str
    image : (H, W, 3) uint8
    truth : (H, W) int32 or None
        The true objects, when known.
    classes : tuple of str or None
        Model classes to cut out where the model is used; None: the model's defaults.
    """

    name: str
    image: np.ndarray
    truth: np.ndarray | None
    classes: tuple[str, ...] | None = None


def demo_photos() -> list[DemoPhoto]:
    """The bundled sample photos: four studio photos and a street photo (a person, no backdrop)."""
    from .sample_photos import sample_photos

    return [DemoPhoto(s.name, s.image, s.truth, s.classes) for s in sample_photos()]


def _model_loader(weights: str | os.PathLike | None, log: Callable[[str], None]):
    """A function that loads the detector on first use, or None when there is none."""
    if weights is None:
        return None
    if weights == "default":
        from .models import default_weights

        weights = default_weights()
        if weights is None:
            log("this installation has no bundled model: only photos with a plain backdrop are cut out")
            return None
    if not Path(weights).is_file():
        raise FileNotFoundError(f"{weights}: Mask R-CNN weights not found")
    from .coarse_masks import load_detector

    return lambda: load_detector(weights)


def _coarse(photo: DemoPhoto, loader) -> tuple[np.ndarray | None, str]:
    """Coarse labels for one photo and a line saying where they came from."""
    from .coarse_masks import NoBackdropError, coarse_masks

    try:
        if loader is None:  # no model of any kind: touching products stay one object
            found = coarse_masks(photo.image, "backdrop", split_touching=False)
        else:
            found = coarse_masks(photo.image, "auto", model=loader, classes=photo.classes)
    except NoBackdropError as exc:
        return None, f"{exc.reason}; only the Mask R-CNN finds its products, and --no-model leaves it out: skipped"
    except RuntimeError as exc:  # no TensorFlow
        return None, f"{exc}; skipped"
    if found.count == 0:
        return None, f"{found.note}; nothing to cut out"
    return found.labels, found.note


def _scores(coarse: np.ndarray, labels: np.ndarray, truth: np.ndarray | None) -> tuple[str, int, int, float]:
    """How close the objects are to the true products, when they are known.

    The line's end, the products found, the true products and the refined mean IoU.
    """
    if truth is None:
        return "", 0, 0, float("nan")
    from .metrics import boundary_accuracy, match_instances

    before, after = match_instances(coarse, truth), match_instances(labels, truth)
    found = sum(score >= 0.5 for score, _ in after)
    mba = [boundary_accuracy(labels == k, truth == t) if k else 0.0 for t, (_, k) in enumerate(after, 1)]
    iou = float(np.mean([s for s, _ in after]))
    line = (
        f"; {found}/{len(after)} products found, mean IoU {np.mean([s for s, _ in before]):.3f} -> "
        f"{iou:.3f}, mBA {np.mean(mba):.3f}"
    )
    return line, int(found), len(after), iou


def _refuse_existing(paths: list[Path]) -> None:
    existing = [p for p in paths if p.exists()]
    if existing:
        raise FileExistsError(
            f"{existing[0]} exists; pass --overwrite to replace the demo's files or choose another --out folder"
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
        Mask R-CNN for photos without a plain backdrop: "default" (the
        bundled model, when this installation has it), a weights file, or
        None for the backdrop source alone.
    log : callable, optional
        Receives one line of text per photo. Default :func:`print`.

    Returns
    -------
    list of pathlib.Path
        Every file written.
    """
    from . import cutouts, files
    from .refine import refine_with_report
    from .safety import doubtful_objects

    out = Path(out_dir)
    photos = demo_photos()
    if not overwrite:  # said before any work
        _refuse_existing([out / folder / f"{p.name}.png" for p in photos for folder in ("photos", "coarse", "labels")])
    loader = _model_loader(weights, log)
    log("IoU: how much an object and the true product overlap (1 is a perfect match), coarse masks -> "
        "refined; mBA: how closely the refined outline follows the true one (1 is perfect).")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    scored: list[tuple[int, int, float]] = []  # (found, true products, refined mean IoU) per photo
    for photo in photos:
        coarse, source = _coarse(photo, loader)
        if coarse is None:
            log(f"{photo.name}: {source}")
            continue
        labels, reports = refine_with_report(photo.image, coarse)
        doubtful = doubtful_objects(reports, lambda k: f"cutouts/{cutouts.cutout_name(photo.name, k)}")
        look = f"; look at {doubtful}" if doubtful else ""
        targets = {
            out / "photos" / f"{photo.name}.png": lambda p: files.write_image(p, photo.image, overwrite=overwrite),
            out / "coarse" / f"{photo.name}.png": lambda p: files.write_labels(p, coarse, overwrite=overwrite),
            out / "labels" / f"{photo.name}.png": lambda p: files.write_labels(p, labels, overwrite=overwrite),
        }
        for product in cutouts.product_cutouts(photo.image, labels):
            targets[out / "cutouts" / cutouts.cutout_name(photo.name, product.label)] = (
                lambda p, rgba=product.rgba: cutouts.write_cutout(p, rgba, overwrite=overwrite)
            )
        if not overwrite:
            _refuse_existing(list(targets))
        for path, write in targets.items():
            written.append(write(path))
        line, found, true, iou = _scores(coarse, labels, photo.truth)
        log(f"{photo.name}: {source}{line}{look}")
        if true and photo.classes is None:  # a studio photo
            scored.append((found, true, iou))
    if scored:
        ious = [iou for _, _, iou in scored]
        log(f"studio samples: {sum(f for f, _, _ in scored)}/{sum(t for _, t, _ in scored)} products found, "
            f"mean IoU per photo {min(ious):.3f}-{max(ious):.3f} after refinement")
    log(f"wrote {len(written)} files to {out.resolve()}")
    return written
