"""Cutting out a folder of photos, one independent job per photo.

:func:`segment_photo` is the whole job for one photo: read it, get coarse
masks (from a mask file, or from :mod:`napari_boostseg.coarse_masks`: the
photo's backdrop, a Mask R-CNN, or the choice between them), refine them, and write the label
image, the RGBA cut-out and the optional extras. It never raises for a bad
photo; it returns a :class:`PhotoResult` saying what happened, so a batch
goes on and can count its failures. :func:`run_batch` runs the jobs in this
process with a progress bar; :mod:`napari_boostseg.distributed` runs the very
same jobs on a Dask cluster.

Outputs for a photo ``NAME.ext`` land in sub-folders of the output folder::

    OUT/labels/NAME.png      label image, 0 background, 1..N objects
    OUT/cutouts/NAME.png     RGBA cut-out of all objects (16-bit stays 16-bit)
    OUT/white/NAME.jpg       cut-out flattened on white      (``jpeg=True``)
    OUT/inspect/NAME_soft.png    soft mask                   (``inspect=True``)
    OUT/inspect/NAME_markers.png watershed markers           (``inspect=True``)

A photo whose outputs all exist is skipped, which makes an interrupted batch
resumable: every file is written atomically, so an existing file is a
complete one.
"""

from __future__ import annotations

import glob
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from . import io as bio
from .refine import RefineParams, refine

__all__ = [
    "SegmentOptions",
    "PhotoResult",
    "BatchSummary",
    "collect_photos",
    "output_paths",
    "find_mask",
    "bundled_weights",
    "coarse_from_mask",
    "segment_photo",
    "run_batch",
    "iter_local",
]

Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class SegmentOptions:
    """What :func:`segment_photo` does with each photo.

    Attributes
    ----------
    out_dir : pathlib.Path
        Output folder; sub-folders are created as needed.
    masks_dir : pathlib.Path, optional
        Folder of coarse masks named like the photos (``NAME.png``,
        ``NAME.tif`` or ``NAME.tiff``; binary masks or label images). When
        given, the masks are the source and ``source`` is ignored.
    source : {"auto", "backdrop", "model"}, optional
        Where coarse masks come from without ``masks_dir`` (see
        :func:`napari_boostseg.coarse_masks.coarse_masks`). Default: "model"
        when ``weights`` are given, else "auto" (the photo's backdrop where it
        has a plain one, the bundled model elsewhere).
    weights : pathlib.Path, optional
        Mask R-CNN weights (``.h5``) for the model source; its config JSON is
        looked for beside it unless ``config`` is given. Default: the bundled
        model.
    config : pathlib.Path, optional
        Mask R-CNN config JSON. Default: next to the weights.
    label_format : {"png", "tif"}
        Label image format. Default "png" (8 or 16 bit; use "tif" for more
        than 65535 objects).
    jpeg : bool
        Also write the cut-out flattened on white as JPEG. Default False.
    inspect : bool
        Also write the soft mask and the watershed markers. Default False.
    overwrite : bool
        Recompute photos whose outputs exist and replace them. Default False.
    params : RefineParams, optional
        Refinement parameters. Default ``RefineParams()``.
    jpeg_quality : int
        JPEG quality, 1-95. Default 95.
    classes : tuple of str, optional
        Mask R-CNN classes to cut out. Default: see
        :func:`napari_boostseg.models.default_classes` (the garments for
        the shipped model, every class for others).
    """

    out_dir: Path
    masks_dir: Path | None = None
    source: str | None = None
    weights: Path | None = None
    config: Path | None = None
    label_format: Literal["png", "tif"] = "png"
    jpeg: bool = False
    inspect: bool = False
    overwrite: bool = False
    params: RefineParams | None = None
    jpeg_quality: int = 95
    classes: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        from .coarse_masks import SOURCES

        if self.masks_dir is not None and self.weights is not None:
            raise ValueError(
                "give one source of coarse masks: a folder of masks (masks_dir, --masks) "
                "or Mask R-CNN weights (weights, --weights), not both"
            )
        if self.source is not None and self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.weights is not None and self.source == "backdrop":
            raise ValueError("Mask R-CNN weights were given, but the source is 'backdrop'")
        if self.label_format not in ("png", "tif"):
            raise ValueError(f"label_format must be 'png' or 'tif', got {self.label_format!r}")
        if not 1 <= int(self.jpeg_quality) <= 95:
            raise ValueError(f"jpeg_quality must be 1-95, got {self.jpeg_quality}")


@dataclass(frozen=True)
class PhotoResult:
    """Outcome of one photo's job.

    Attributes
    ----------
    path : str
        The photo.
    status : {"done", "skipped", "failed"}
        ``skipped`` means all outputs already existed.
    message : str
        Why it failed, or a remark (for example that no object was found).
    seconds : float
        Wall-clock time of the job, in seconds.
    objects : int
        Number of objects in the label image (0 when skipped or failed).
    source : str
        Where the coarse masks came from: "masks", "backdrop" or "model"
        ("" when skipped or failed before).
    note : str
        One line on the coarse masks: the source, what it found and why it was
        chosen.
    """

    path: str
    status: Status
    message: str = ""
    seconds: float = 0.0
    objects: int = 0
    source: str = ""
    note: str = ""


@dataclass
class BatchSummary:
    """Counts over a batch; ``failures`` lists ``(path, message)``."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.done + self.skipped + self.failed

    def add(self, result: PhotoResult) -> None:
        if result.status == "done":
            self.done += 1
            if result.source:
                self.sources[result.source] = self.sources.get(result.source, 0) + 1
        elif result.status == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
            self.failures.append((result.path, result.message))

    def describe(self) -> str:
        """One line for people, e.g. ``12 photos: 10 done, 1 skipped, 1 failed``."""
        rate = ""
        if self.done and self.seconds > 0:
            rate = f" in {self.seconds:.1f} s ({60 * self.done / self.seconds:.1f} photos/min)"
        used = ""
        if self.sources:
            used = "; coarse masks from " + ", ".join(
                f"{name} {count}" for name, count in sorted(self.sources.items())
            )
        return (
            f"{self.total} photos: {self.done} done, {self.skipped} skipped "
            f"(outputs exist), {self.failed} failed{rate}{used}"
        )


# --------------------------------------------------------------------------- #
# Inputs and outputs


def collect_photos(
    inputs: Iterable[str | os.PathLike],
    *,
    recursive: bool = False,
    exclude: str | os.PathLike | None = None,
) -> list[Path]:
    """Photo files named by files, folders and glob patterns.

    Parameters
    ----------
    inputs : iterable of str or os.PathLike
        Files (taken whatever their suffix), folders (their files with an image
        suffix, see :data:`napari_boostseg.io.IMAGE_SUFFIXES`) and glob
        patterns such as ``"shoot/*.jpg"``.
    recursive : bool, optional
        Look into sub-folders of folders, and let ``**`` in patterns match
        across folders. Default False.
    exclude : str or os.PathLike, optional
        Leave out files inside this folder, typically the output folder, so
        that a run never takes its own cut-outs for photos. Default none.

    Returns
    -------
    list of pathlib.Path
        Sorted, without duplicates.

    Raises
    ------
    FileNotFoundError
        If an input matches nothing, or nothing is found at all.
    ValueError
        If two photos share a name (outputs are named after the photo).
    """
    found: dict[Path, None] = {}
    skip = Path(exclude).resolve() if exclude is not None else None
    for item in inputs:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            walker = p.rglob("*") if recursive else p.iterdir()
            files = [f for f in walker if f.is_file() and f.suffix.lower() in bio.IMAGE_SUFFIXES]
            # Hidden files include our own temporary files; never photos.
            files = [f for f in files if not f.name.startswith(".")]
        elif p.is_file():
            files = [p]
        elif glob.has_magic(text):
            files = [Path(m) for m in glob.glob(text, recursive=recursive) if Path(m).is_file()]
        else:
            files = []
        if not files:
            raise FileNotFoundError(f"no photos found for input {text!r}")
        for f in files:
            f = f.resolve()
            if skip is None or not f.is_relative_to(skip):
                found[f] = None
    photos = sorted(found)
    by_stem: dict[str, list[Path]] = {}
    for ph in photos:
        by_stem.setdefault(ph.stem, []).append(ph)
    clashes = {k: v for k, v in by_stem.items() if len(v) > 1}
    if clashes:
        example = ", ".join(str(p) for p in next(iter(clashes.values())))
        raise ValueError(
            f"{len(clashes)} photo name(s) occur more than once (e.g. {example}); outputs "
            "are named after the photo, so segment such folders in separate runs "
            "with separate --out folders"
        )
    return photos


def output_paths(photo: str | os.PathLike, options: SegmentOptions) -> dict[str, Path]:
    """Where the outputs of ``photo`` go, by kind (labels, cutout, white, soft, markers)."""
    stem = Path(photo).stem
    out = Path(options.out_dir)
    paths = {
        "labels": out / "labels" / f"{stem}.{options.label_format}",
        "cutout": out / "cutouts" / f"{stem}.png",
    }
    if options.jpeg:
        paths["white"] = out / "white" / f"{stem}.jpg"
    if options.inspect:
        paths["soft"] = out / "inspect" / f"{stem}_soft.png"
        paths["markers"] = out / "inspect" / f"{stem}_markers.png"
    return paths


def find_mask(photo: str | os.PathLike, masks_dir: str | os.PathLike) -> Path:
    """The coarse mask for ``photo``: ``masks_dir/NAME`` + .png, .tif or .tiff."""
    stem = Path(photo).stem
    folder = Path(masks_dir)
    for suffix in (".png", ".tif", ".tiff", ".PNG", ".TIF", ".TIFF"):
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
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
            raise ValueError(
                f"mask of {mw}x{mh} px does not fit the photo of {w}x{h} px (different "
                "aspect ratio); was the photo rotated by its EXIF orientation?"
            )
        rows = (np.arange(h) * mh) // h
        cols = (np.arange(w) * mw) // w
        mask = mask[rows[:, None], cols[None, :]]
    return mask.astype(np.int32, copy=False)


# --------------------------------------------------------------------------- #
# Coarse masks


def bundled_weights() -> Path | None:
    """The default Mask R-CNN weights shipped in the package, if any."""
    from .models import default_weights

    return default_weights()


def _coarse(photo: bio.Photo, options: SegmentOptions):
    """The photo's coarse masks (:class:`napari_boostseg.coarse_masks.CoarseMasks`)."""
    from .coarse_masks import CoarseMasks, coarse_masks, load_detector

    if options.masks_dir is not None:
        mask_file = find_mask(photo.path, options.masks_dir)
        labels = coarse_from_mask(bio.read_labels(mask_file), photo.shape)
        return CoarseMasks(labels, "masks", f"mask file {mask_file.name}")

    def model():  # loaded on the first photo that needs it, then kept
        return load_detector(options.weights, options.config)

    source = options.source or ("model" if options.weights is not None else "auto")
    # detect() converts 16-bit, grey and RGBA photos to the 8-bit RGB it was trained on.
    return coarse_masks(photo.pixels, source, model=model, classes=options.classes)


# --------------------------------------------------------------------------- #
# One photo


def _write_missing(
    paths: dict[str, Path],
    makers: dict[str, Callable[[Path, bool], object]],
    overwrite: bool,
) -> None:
    for kind, path in paths.items():
        # After an interruption some outputs may exist already; they come from
        # the same deterministic computation, so only the missing ones are written.
        if overwrite or not path.exists():
            makers[kind](path, overwrite)


def _count_objects(labels: np.ndarray) -> int:
    """Number of distinct non-zero ids."""
    top = int(labels.max()) if labels.size else 0
    if top == 0:
        return 0
    if top < 1 << 20:
        return int(np.count_nonzero(np.bincount(labels.ravel(), minlength=top + 1)[1:]))
    return int(np.unique(labels[labels > 0]).size)


def segment_photo(path: str | os.PathLike, options: SegmentOptions) -> PhotoResult:
    """Cut out one photo and write its outputs; never raises for a bad photo.

    Parameters
    ----------
    path : str or os.PathLike
        The photo.
    options : SegmentOptions
        Output folder, coarse mask source and what to write.

    Returns
    -------
    PhotoResult
        ``done``, ``skipped`` (all outputs existed and ``overwrite`` is False)
        or ``failed`` with the reason.
    """
    start = time.perf_counter()
    path = Path(path)
    paths = output_paths(path, options)
    if not options.overwrite and all(p.exists() for p in paths.values()):
        return PhotoResult(str(path), "skipped", seconds=time.perf_counter() - start)
    try:
        photo = bio.read_image(path)
        found = _coarse(photo, options)
        coarse = found.labels
        params = options.params if options.params is not None else RefineParams()
        if options.inspect:
            result = refine(photo.pixels, coarse, params, return_intermediates=True)
            labels = result.labels
        else:
            result = None
            labels = refine(photo.pixels, coarse, params)
        rgba = bio.cutout(photo.pixels, labels)
        icc = photo.icc_profile
        makers: dict[str, Callable[[Path, bool], object]] = {
            "labels": lambda p, ow: bio.write_labels(p, labels, overwrite=ow),
            "cutout": lambda p, ow: bio.write_cutout(p, rgba, icc_profile=icc, overwrite=ow),
            "white": lambda p, ow: bio.write_image(
                p,
                bio.flatten_on_white(rgba),
                icc_profile=icc,
                overwrite=ow,
                quality=options.jpeg_quality,
            ),
        }
        if result is not None:
            makers["soft"] = lambda p, ow: bio.write_image(p, result.soft_mask, overwrite=ow)
            makers["markers"] = lambda p, ow: bio.write_labels(p, result.markers, overwrite=ow)
        _write_missing(paths, makers, options.overwrite)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}"
        if os.environ.get("BOOSTSEG_TRACEBACK"):
            message += "\n" + traceback.format_exc()
        return PhotoResult(str(path), "failed", message, time.perf_counter() - start)
    n = _count_objects(labels)
    return PhotoResult(
        str(path),
        "done",
        "" if n else "no object found",
        time.perf_counter() - start,
        n,
        found.source,
        found.note,
    )


# --------------------------------------------------------------------------- #
# Many photos


def iter_local(photos: Sequence[Path], options: SegmentOptions) -> Iterator[PhotoResult]:
    """Run :func:`segment_photo` on each photo in turn, in this process."""
    for photo in photos:
        yield segment_photo(photo, options)


def run_batch(
    photos: Sequence[str | os.PathLike],
    options: SegmentOptions,
    *,
    results: Iterable[PhotoResult] | None = None,
    progress: bool = True,
    report: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Segment ``photos`` with a progress bar and count the outcomes.

    Parameters
    ----------
    photos : sequence of str or os.PathLike
        Photos, e.g. from :func:`collect_photos`.
    options : SegmentOptions
    results : iterable of PhotoResult, optional
        Where results come from; default :func:`iter_local` (this process).
        :func:`napari_boostseg.distributed.iter_dask` gives them from a Dask
        cluster, in order of completion.
    progress : bool, optional
        Show a progress bar with rate and time left on stderr. Default True.
    report : callable, optional
        Receives one line per failed photo. Default: printed above the bar.

    Returns
    -------
    BatchSummary
    """
    from tqdm.auto import tqdm

    photos = [Path(p) for p in photos]
    if results is None:
        results = iter_local(photos, options)
    summary = BatchSummary()
    start = time.perf_counter()
    bar = tqdm(total=len(photos), unit="photo", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    say = report or (lambda line: tqdm.write(line, file=sys.stderr))
    try:
        for result in results:
            summary.add(result)
            if result.status == "failed":
                say(f"FAILED {result.path}: {result.message}")
            elif result.status == "done":
                found = f"{result.objects} object(s)" if result.objects else "NOTHING FOUND"
                say(f"{Path(result.path).name}: {found}; {result.note}")
            bar.set_postfix(failed=summary.failed, skipped=summary.skipped, refresh=False)
            bar.update(1)
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - start
    return summary
