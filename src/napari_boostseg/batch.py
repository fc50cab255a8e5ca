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
    OUT/labels/NAME.json     each object's class, where a model named it (the
                             sidecar that ``boostseg train`` reads)
    OUT/cutouts/NAME-ID.png  RGBA cut-out of object ID, one per product, cropped
                             to it with a margin (``full_frame=True``: the whole
                             frame); 16-bit photos give 16-bit PNGs
    OUT/white/NAME-ID.jpg    each cut-out flattened on white (``jpeg=True``)
    OUT/inspect/NAME_soft.png    soft mask                   (``inspect=True``)
    OUT/inspect/NAME_markers.png watershed markers           (``inspect=True``)

    OUT/manifests/NAME.json      what made them (see :mod:`napari_boostseg.manifest`)

A photo's outputs are one unit. Its record, written after its last output,
says what made them; a rerun skips a photo whose record matches the run's
options, refuses one made with other options (naming them) unless
``overwrite`` is set, and replaces the whole set when it recomputes, extras
of the old options included. :func:`check_batch` checks what can be checked
once (the output folder, the model, earlier outputs) before any photo.
"""

from __future__ import annotations

import glob
import os
import re
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from . import manifest
from ._text import counted
from .coarse_masks import MaskMismatchError, NoBackdropError, coarse_from_mask, find_mask, product_splitter_weights
from .cutouts import CROP_MARGIN, cutout_files, cutout_name, flatten_on_white, product_cutouts, write_cutout
from .files import (
    IMAGE_SUFFIXES,
    ImageReadError,
    Photo,
    read_image,
    sidecar_path,
    temporary_name,
    write_classes,
    write_image,
    write_labels,
)
from .matting import EDGE_WIDTH
from .refine import RefineParams, refine, refine_with_report
from .safety import doubtful_objects

__all__ = [
    "SegmentOptions",
    "PhotoResult",
    "BatchSummary",
    "collect_photos",
    "other_files",
    "output_paths",
    "output_folders",
    "BatchError",
    "check_batch",
    "find_mask",
    "bundled_weights",
    "coarse_from_mask",
    "segment_photo",
    "run_batch",
    "iter_local",
]

#: Errors whose message says in words what is wrong; a failed photo's line
#: gives their message alone (others keep their type's name).
_WORDED = (ImageReadError, NoBackdropError, MaskMismatchError, FileExistsError, FileNotFoundError)

Status = Literal["done", "skipped", "failed"]

#: How the run's summary names each source of coarse masks.
_SOURCE_WORDS = {"masks": "mask files"}


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
        Also write each cut-out flattened on white as JPEG. Default False.
    full_frame : bool
        Cut-outs keep the whole frame of the photo instead of being cropped
        to their product with a margin (see :mod:`napari_boostseg.cutouts`).
        Default False.
    hard_edges : bool
        Cut-outs take the label image's hard 0/1 alpha instead of a soft,
        anti-aliased edge with the backdrop's share taken out of the rim's
        colours (see :func:`napari_boostseg.matting.edge_matte`). Default False.
    inspect : bool
        Also write the soft mask and the watershed markers. Default False.
    overwrite : bool
        Recompute photos whose outputs exist and replace each one's outputs
        as a whole, also those made with other options. Default False.
    params : RefineParams, optional
        Refinement parameters. Default ``RefineParams()``.
    jpeg_quality : int
        JPEG quality, 1-95. Default 95.
    classes : tuple of str, optional
        Mask R-CNN classes to cut out. Default: see
        :func:`napari_boostseg.models.default_classes` (the garments for
        the shipped model, every class for others).
    split_touching : bool or None
        Split products that touch on the backdrop into one object each (see
        :func:`napari_boostseg.coarse_masks.coarse_masks`). Default None: on
        for the auto and backdrop sources, off for mask files and the model.
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
    full_frame: bool = False
    split_touching: bool | None = None
    hard_edges: bool = False

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
        if self.split_touching and _source(self) in ("masks", "model"):
            alone = "weights given without a source make the model the only source; add --coarse auto" if (
                self.weights is not None and self.source is None) else "not mask files or the model alone"
            raise ValueError("splitting touching products works on the backdrop; it needs the auto "
                             f"or backdrop source ({alone})")
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
        ``skipped`` means the outputs exist, made with the same options.
    message : str
        Why it failed, or a remark (for example that no object was found).
    seconds : float
        Wall-clock time of the job, in seconds.
    objects : int
        Number of objects in the label image (0 when failed).
    source : str
        Where the coarse masks came from: "masks", "backdrop" or "model"
        ("" when failed before).
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
    """Counts over a batch.

    ``failures`` lists ``(path, message)``; ``empty`` the photos (done or
    skipped) whose label image holds no object: their cut-out is empty.
    """

    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)
    empty: list[str] = field(default_factory=list)

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
        if result.status != "failed" and result.objects == 0:
            self.empty.append(result.path)

    def describe(self) -> str:
        """One line for people, e.g. ``12 photos: 10 done, 1 skipped, 1 failed``."""
        rate = ""
        if self.done and self.seconds > 0:
            rate = f" in {self.seconds:.1f} s ({60 * self.done / self.seconds:.1f} photos/min)"
        empty = f", {len(self.empty)} with no object found" if self.empty else ""
        used = ""
        if self.sources:
            used = "; coarse masks from " + ", ".join(
                f"{_SOURCE_WORDS.get(name, name)} {count}" for name, count in sorted(self.sources.items())
            )
        return (
            f"{counted(self.total, 'photo')}: {self.done} done, {self.skipped} skipped "
            f"(outputs exist), {self.failed} failed{empty}{rate}{used}"
        )


# --------------------------------------------------------------------------- #
# Inputs and outputs


def _folder_files(folder: Path, recursive: bool) -> Iterator[Path]:
    """The files of ``folder`` (and, ``recursive``, of its sub-folders, linked ones too, each
    real folder once), hidden files left out: they include our own temporary files."""
    if not recursive:
        yield from (f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))
        return
    seen: set[str] = set()
    for root, dirs, names in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree, or a second link to one folder
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()
        for name in sorted(names):
            f = Path(root) / name
            if not name.startswith(".") and f.is_file():
                yield f


def other_files(
    inputs: Iterable[str | os.PathLike], *, recursive: bool = False, exclude: Iterable[str | os.PathLike] = ()
) -> dict[str, int]:
    """How many files of the folders among ``inputs`` :func:`collect_photos` leaves out as not
    photos, by suffix (``".cr2"``, ``".heic"``, ``""`` for none); hidden files and files inside
    ``exclude`` (the output sub-folders) are not counted."""
    skip = [Path(e).resolve() for e in exclude]
    counts: dict[str, int] = {}
    for item in inputs:
        if Path(item).is_dir():
            for f in _folder_files(Path(item), recursive):
                suffix = f.suffix.lower()
                if suffix not in IMAGE_SUFFIXES and not any(f.resolve().is_relative_to(d) for d in skip):
                    counts[suffix] = counts.get(suffix, 0) + 1
    return counts


def collect_photos(
    inputs: Iterable[str | os.PathLike],
    *,
    recursive: bool = False,
    exclude: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
) -> list[Path]:
    """Photo files named by files, folders and glob patterns.

    Parameters
    ----------
    inputs : iterable of str or os.PathLike
        Files (taken whatever their suffix), folders (their files with an image
        suffix, see :data:`napari_boostseg.files.IMAGE_SUFFIXES`) and glob
        patterns such as ``"shoot/*.jpg"``.
    recursive : bool, optional
        Look into sub-folders of folders, and let ``**`` in patterns match
        across folders. Default False.
    exclude : str or os.PathLike or iterable of them, optional
        Leave out files inside these folders, typically the output
        sub-folders (:func:`output_folders`), so that a run never takes its
        own cut-outs for photos. Default none.

    Returns
    -------
    list of pathlib.Path
        Sorted, without duplicates.

    Raises
    ------
    FileNotFoundError
        If an input matches nothing, or only files inside ``exclude``.
    ValueError
        If two photos share a name (outputs are named after the photo).
    """
    found: dict[Path, None] = {}
    if exclude is None:
        skip = []
    elif isinstance(exclude, (str, os.PathLike)):
        skip = [Path(exclude).resolve()]
    else:
        skip = [Path(e).resolve() for e in exclude]
    for item in inputs:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            files = [f for f in _folder_files(p, recursive) if f.suffix.lower() in IMAGE_SUFFIXES]
        elif p.is_file():
            files = [p]
        elif glob.has_magic(text):
            files = [Path(m) for m in glob.glob(text, recursive=recursive) if Path(m).is_file()]
        else:
            files = []
        if not files and not p.exists() and not glob.has_magic(text):
            raise FileNotFoundError(f"no photos found for input {text!r}: no such file or folder")
        if not files:
            where = " in the folder" + (" or its sub-folders" if recursive else " (--recursive looks deeper)")
            raise FileNotFoundError(
                f"no photos found for input {text!r}"
                + (f": no {', '.join(sorted(IMAGE_SUFFIXES))} file{where}" if p.is_dir() else "")
            )
        kept = [f.resolve() for f in files]
        kept = [f for f in kept if not any(f.is_relative_to(folder) for folder in skip)]
        if not kept:
            found_files = "the file" if len(files) == 1 else f"all {len(files)} files"
            raise FileNotFoundError(
                f"no photos left for input {text!r}: {found_files} found lie in "
                f"the output folders ({', '.join(str(folder) for folder in skip)}), which "
                "are never taken for photos"
            )
        found.update(dict.fromkeys(kept))
    photos = sorted(found)
    by_stem: dict[str, list[Path]] = {}
    for ph in photos:
        by_stem.setdefault(ph.stem, []).append(ph)
    clashes = {k: v for k, v in by_stem.items() if len(v) > 1}
    if clashes:
        example = ", ".join(str(p) for p in next(iter(clashes.values())))
        raise ValueError(
            f"{counted(len(clashes), 'photo name')} {'occurs' if len(clashes) == 1 else 'occur'} more than once "
            f"(e.g. {example}); outputs "
            "are named after the photo, so segment such folders in separate runs "
            "with separate --out folders"
        )
    return photos


def output_paths(
    photo: str | os.PathLike, options: SegmentOptions, objects: Iterable[int] = (), classes: bool = False
) -> dict[str, Path]:
    """Where the outputs of ``photo`` go, by kind.

    Kinds: ``labels`` (and its ``classes`` sidecar when ``classes`` is True);
    ``cutout-ID`` (and ``white-ID`` with ``jpeg``) for each object id in
    ``objects``; ``soft`` and ``markers`` with ``inspect``.
    """
    stem = Path(photo).stem
    out = Path(options.out_dir)
    paths = {"labels": out / "labels" / f"{stem}.{options.label_format}"}
    if classes:
        paths["classes"] = sidecar_path(paths["labels"])
    for k in objects:
        paths[f"cutout-{k}"] = out / "cutouts" / cutout_name(stem, k)
        if options.jpeg:
            paths[f"white-{k}"] = out / "white" / cutout_name(stem, k, ".jpg")
    if options.inspect:
        paths["soft"] = out / "inspect" / f"{stem}_soft.png"
        paths["markers"] = out / "inspect" / f"{stem}_markers.png"
    return paths


#: The sub-folders of the output folder that hold a photo's outputs.
_OUTPUT_FOLDERS = ("labels", "cutouts", "white", "inspect")


def output_folders(out_dir: str | os.PathLike) -> list[Path]:
    """The sub-folders of ``out_dir`` that a batch writes (outputs and records)."""
    out = Path(out_dir)
    return [out / name for name in (*_OUTPUT_FOLDERS, manifest.FOLDER)]


def _every_output(photo: str | os.PathLike, out_dir: Path) -> dict[str, list[Path]]:
    """Every file any options could write for ``photo``, by folder; for replacing a set."""
    stem = Path(photo).stem
    return {
        "labels": [out_dir / "labels" / f"{stem}{suffix}" for suffix in (".png", ".tif", ".json")],
        "cutouts": cutout_files(out_dir / "cutouts", stem),
        "white": cutout_files(out_dir / "white", stem, ".jpg"),
        "inspect": [out_dir / "inspect" / f"{stem}_soft.png", out_dir / "inspect" / f"{stem}_markers.png"],
    }


# --------------------------------------------------------------------------- #
# Coarse masks


def bundled_weights() -> Path | None:
    """The default Mask R-CNN weights shipped in the package, if any."""
    from .models import default_weights

    return default_weights()


def _split_touching(options: SegmentOptions) -> bool:
    """Whether touching products on the backdrop are split (on by default where a backdrop is used)."""
    if options.split_touching is not None:
        return bool(options.split_touching)
    return _source(options) in ("auto", "backdrop")


def _source(options: SegmentOptions) -> str:
    """The coarse-mask source a batch uses: masks, auto, backdrop or model."""
    if options.masks_dir is not None:
        return "masks"
    return options.source or ("model" if options.weights is not None else "auto")


def _weights(options: SegmentOptions) -> Path | None:
    """The Mask R-CNN weights of the model source: given, or the bundled ones."""
    return Path(options.weights) if options.weights is not None else bundled_weights()


def _coarse(photo: Photo, options: SegmentOptions):
    """The photo's coarse masks (:class:`napari_boostseg.coarse_masks.CoarseMasks`)."""
    from .coarse_masks import coarse_masks, from_mask_file, load_detector

    if options.masks_dir is not None:
        return from_mask_file(photo.path, options.masks_dir, photo.shape)

    def model():  # loaded on the first photo that needs it, then kept
        return load_detector(options.weights, options.config)

    source = _source(options)
    # detect() converts 16-bit, grey and RGBA photos to the 8-bit RGB it was trained on.
    return coarse_masks(
        photo.pixels, source, model=model, classes=options.classes, split_touching=_split_touching(options)
    )


def _classes(weights: Path, config: Path, options: SegmentOptions) -> tuple[str, ...]:
    """The model classes cut out, read from the config (no TensorFlow)."""
    from .coarse_masks import chosen_classes, config_classes

    return chosen_classes(config_classes(weights, config), options.classes, weights)


# --------------------------------------------------------------------------- #
# What made a photo's outputs


def _recipe(photo: Path, options: SegmentOptions) -> dict:
    """Everything that decides ``photo``'s outputs, for its record."""
    source = _source(options)
    if source == "masks":
        try:
            mask = find_mask(photo, options.masks_dir)
        except FileNotFoundError:
            # A file that is no photo (empty, broken, a cut-out) says so, not that it lacks a mask.
            _refuse_cutout(photo, read_image(photo).pixels)
            raise
        coarse = {"source": "masks", "mask": str(mask.resolve()), "mask_sha256": manifest.file_digest(mask)}
    elif source == "backdrop":
        coarse = {"source": "backdrop"}
    else:
        weights = _weights(options)
        if weights is None:
            raise RuntimeError("this installation has no bundled model; give Mask R-CNN weights (--weights)")
        config = Path(options.config) if options.config is not None else weights.with_suffix(".json")
        coarse = {
            "source": source,
            "weights": str(weights.resolve()),
            "weights_sha256": manifest.cached_digest(weights),
            "config": str(config.resolve()) if config.is_file() else None,
            "config_sha256": manifest.file_digest(config) if config.is_file() else None,
            "classes": list(_classes(weights, config, options)) if config.is_file() else options.classes,
        }
    if _split_touching(options):  # records written with the split off have no entry
        coarse["split_touching"] = True
        splitter = product_splitter_weights()[0]
        coarse["split_model"] = str(splitter) if splitter is not None else None
        coarse["split_model_sha256"] = manifest.cached_digest(splitter) if splitter is not None else None
    return {
        "photo_sha256": manifest.cached_digest(photo),
        "version": manifest.package_version(),
        "coarse": coarse,
        "params": {
            name: float(value)  # RefineParams(band=3) and --band 3 are one recipe
            for name, value in asdict(options.params if options.params is not None else RefineParams()).items()
        },
        "outputs": {
            "label_format": options.label_format,
            "jpeg": options.jpeg_quality if options.jpeg else False,
            "inspect": options.inspect,
            "cutouts": "full frame" if options.full_frame else f"cropped, margin {CROP_MARGIN:g}",
            "edges": "hard" if options.hard_edges else f"soft, {EDGE_WIDTH} px",
        },
    }


@dataclass(frozen=True)
class _Plan:
    """What to do with a photo: ``skip``, ``make``, ``add`` (the white JPEGs of a finished set
    made without them or, with ``overwrite``, at another quality) or ``refuse``. ``message``
    says why a photo is refused, and which earlier files a ``make`` replaces."""

    action: Literal["skip", "make", "add", "refuse"]
    message: str = ""
    record: dict = field(default_factory=dict)


def _plan(photo: Path, options: SegmentOptions, recipe: dict) -> _Plan:
    out = Path(options.out_dir)
    record = manifest.read_manifest(manifest.manifest_path(out, photo.stem))
    if record is None:
        existing = [p for ps in _every_output(photo, out).values() for p in ps if p.exists()]
        if existing and not options.overwrite:
            return _Plan(
                "refuse",
                f"{existing[0]} exists but no record in {out / manifest.FOLDER} says what made "
                "it (an interrupted run of an older version, or other files); add --overwrite "
                "to replace this photo's outputs, or choose another output folder",
            )
        return _Plan("make", "replaced earlier files that no record described" if existing else "")
    if not record.get("complete"):
        return _Plan("make", "replaced an interrupted run's files", record=record)
    before = record["recipe"]
    if "photo" in before and "photo_sha256" not in before:  # recorded by path, before content
        same = before["photo"] == str(photo.resolve())
        before = {**{k: v for k, v in before.items() if k != "photo"},
                  "photo_sha256": recipe["photo_sha256"] if same else None}
    if before.get("photo_sha256") != recipe["photo_sha256"] and not options.overwrite:
        return _Plan(
            "refuse",
            f"its outputs in {out} were made from another {photo.name} (the file has changed since); "
            f"add --overwrite to replace them (give this photo alone, {photo}, to leave the others' "
            "outputs as they are), or choose another output folder",
        )
    changed = manifest.differences(before, recipe)
    present = all((out / f).is_file() for f in record.get("files", []))
    was = before.get("outputs", {}).get("jpeg")
    if changed and present and _only_jpeg_changed(before, recipe) and (was is False or options.overwrite):
        return _Plan("add", record=record)  # the cut-outs on white follow from the cut-outs
    if changed and not options.overwrite:
        return _Plan(
            "refuse",
            f"its outputs in {out} were made with other options: {'; '.join(changed)}; add "
            "--overwrite to replace them, or choose another output folder",
        )
    if not present:
        return _Plan("make", "made again: files of the earlier run were missing", record=record)
    if options.overwrite:
        return _Plan("make", "replaced the earlier run's outputs", record=record)
    return _Plan("skip", record=record)


def _only_jpeg_changed(before: dict, now: dict) -> bool:
    """Whether recipe ``now`` is ``before`` with cut-outs on white (``--jpeg``) asked for, where
    there were none or at another quality, and nothing else changed."""
    was, wants = before.get("outputs", {}), now.get("outputs", {})
    return wants.get("jpeg") is not False and {**before, "outputs": {**was, "jpeg": wants.get("jpeg")}} == now


def _add_white(photo: Path, options: SegmentOptions, recipe: dict, record: dict) -> dict:
    """Write each cut-out of ``photo``'s finished set on white, from the cut-out files (no
    refinement: a PNG keeps the cut-out exactly); returns the set's new record."""
    out = Path(options.out_dir)
    name = re.compile(re.escape(photo.stem) + r"-([0-9]+)\.png\Z")  # as cutout_name makes them
    ids = [int(m.group(1)) for f in map(Path, record.get("files", []))
           if f.parent.name == "cutouts" and (m := name.match(f.name))]
    paths = output_paths(photo, options, ids)
    written = []
    for kind, path in paths.items():
        if kind.startswith("white-"):
            cut = read_image(paths[kind.replace("white-", "cutout-", 1)])
            write_image(path, flatten_on_white(cut.pixels), icc_profile=cut.icc_profile, overwrite=True,
                        quality=options.jpeg_quality)
            written.append(str(path.relative_to(out)))
    record = {**record, "recipe": recipe, "files": sorted({*record.get("files", []), *written})}
    manifest.write_manifest(manifest.manifest_path(out, photo.stem), record)
    return record


# --------------------------------------------------------------------------- #
# One photo


def _refuse_cutout(photo: Path, pixels) -> None:
    """Refuse a photo with transparent pixels: it is a cut-out (its own or another
    tool's), whose backdrop was removed; taken for a photo, its transparent
    pixels read as black paper."""
    if pixels.ndim == 3 and pixels.shape[2] == 4 and (pixels[..., 3] == 0).any():
        raise ImageReadError(
            f"{photo} has transparent pixels: it is a cut-out, not a photo; leave cut-outs "
            "out of the input folders (a cut-out folder inside the shoot is read with --recursive)"
        )


def _outputs(photo: Path, options: SegmentOptions):
    """Compute ``photo``'s outputs: a path and a writer per kind, the number of objects,
    the coarse masks."""
    image = read_image(photo)
    _refuse_cutout(photo, image.pixels)
    found = _coarse(image, options)
    coarse = found.labels
    params = options.params if options.params is not None else RefineParams()
    if options.inspect:
        result = refine(image.pixels, coarse, params, return_intermediates=True)
        labels, reports = result.labels, result.objects
    else:
        result = None
        labels, reports = refine_with_report(image.pixels, coarse, params)
    # Objects whose refinement failed its checks and fell back to a safer mask.
    doubtful = doubtful_objects(reports, lambda k: f"cutouts/{cutout_name(photo.stem, k)}")
    if doubtful:
        found = replace(found, note=f"{found.note}; look at {doubtful}")
    icc = image.icc_profile
    # Each writer replaces: the photo's lock is held and its whole set is rewritten.
    writers: dict[str, Callable[[Path], object]] = {
        "labels": lambda p: write_labels(p, labels, overwrite=True),
    }
    for product in product_cutouts(
        image.pixels, labels, crop=not options.full_frame, soft_edge=not options.hard_edges
    ):
        rgba = product.rgba
        writers[f"cutout-{product.label}"] = lambda p, rgba=rgba: write_cutout(
            p, rgba, icc_profile=icc, overwrite=True
        )
        writers[f"white-{product.label}"] = lambda p, rgba=rgba: write_image(
            p, flatten_on_white(rgba), icc_profile=icc, overwrite=True, quality=options.jpeg_quality
        )
    if result is not None:
        writers["soft"] = lambda p: write_image(p, result.soft_mask, overwrite=True)
        writers["markers"] = lambda p: write_labels(p, result.markers, overwrite=True)
    objects = sorted(int(kind.split("-")[1]) for kind in writers if kind.startswith("cutout-"))
    # The class of each object, where a model named it (the backdrop names none).
    named = {k: found.class_names[k - 1] for k in objects if k <= len(found.class_names)}
    if named:
        writers["classes"] = lambda p: write_classes(p, named, overwrite=True)
    paths = output_paths(photo, options, objects, classes=bool(named))
    return {kind: (path, writers[kind]) for kind, path in paths.items()}, len(objects), found


def _replace_set(photo: Path, options: SegmentOptions, recipe: dict, previous: dict | None) -> dict:
    """Compute and write ``photo``'s outputs as one set; returns its record.

    ``previous`` is the photo's earlier record, if any: the files it lists
    are replaced with the set (also those of an older layout).
    """
    out = Path(options.out_dir)
    planned, objects, found = _outputs(photo, options)
    paths = {kind: path for kind, (path, _) in planned.items()}
    record_path = manifest.manifest_path(out, photo.stem)
    files = sorted(str(p.relative_to(out)) for p in paths.values())
    record = {"recipe": recipe, "photo": str(photo.resolve()), "files": files, "objects": objects,
              "source": found.source, "note": found.note}
    # Marked incomplete first: if writing stops half-way, a rerun knows these
    # files are an unfinished set and replaces them.
    manifest.write_manifest(record_path, {**record, "complete": False})
    keep = set(paths.values())
    manifest.remove_temporaries(out / manifest.FOLDER, stems={photo.stem})
    for folder, candidates in _every_output(photo, out).items():
        mine = {p.stem for p in candidates} | {p.stem for p in keep if p.parent == out / folder}
        manifest.remove_temporaries(out / folder, stems=mine)
        for old in candidates:
            if old not in keep:
                old.unlink(missing_ok=True)  # extras of other options
    for name in (previous or {}).get("files", []):
        old = out / name
        if old not in keep and old.parent.parent == out and old.parent.name in _OUTPUT_FOLDERS:
            old.unlink(missing_ok=True)
    for path, write in planned.values():
        write(path)
    manifest.write_manifest(record_path, {**record, "complete": True})
    return record


def segment_photo(path: str | os.PathLike, options: SegmentOptions) -> PhotoResult:
    """Cut out one photo and write its outputs as one set; never raises for a bad photo.

    The photo's lock (:func:`napari_boostseg.manifest.photo_lock`) is held
    from the check of earlier outputs to the last write, so two processes
    never work on one photo's outputs at once: the second waits, then skips.

    Parameters
    ----------
    path : str or os.PathLike
        The photo.
    options : SegmentOptions
        Output folder, coarse mask source and what to write.

    Returns
    -------
    PhotoResult
        ``done``, ``skipped`` (the outputs exist, made with the same options,
        and ``overwrite`` is False) or ``failed`` with the reason (among them
        outputs made with other options, without ``overwrite``).
    """
    start = time.perf_counter()
    path = Path(path)
    try:
        recipe = _recipe(path, options)
        with manifest.photo_lock(options.out_dir, path.stem):
            plan = _plan(path, options, recipe)
            if plan.action == "refuse":
                raise FileExistsError(plan.message)
            if plan.action == "skip":
                record = plan.record
            elif plan.action == "add":
                record = _add_white(path, options, recipe, plan.record)
            else:
                record = _replace_set(path, options, recipe, plan.record)
            objects = int(record.get("objects", 0))
            source, note = record.get("source", ""), record.get("note", "")
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        # Our own errors say what is wrong in words; others keep their type's name.
        message = str(exc) if isinstance(exc, _WORDED) and str(exc) else f"{type(exc).__name__}: {exc}"
        if os.environ.get("BOOSTSEG_TRACEBACK"):
            message += "\n" + traceback.format_exc()
        return PhotoResult(str(path), "failed", message, time.perf_counter() - start)
    if plan.action == "add":
        note = f"{note}; cut-outs on white written from the earlier run's cut-outs"
    elif plan.action == "make" and plan.message:
        note = f"{note}; {plan.message}"
    return PhotoResult(
        str(path),
        "skipped" if plan.action == "skip" else "done",
        "" if objects else "no object found",
        time.perf_counter() - start,
        objects,
        source,
        note,
    )


# --------------------------------------------------------------------------- #
# Checks before the first photo


class BatchError(ValueError):
    """A batch cannot start: the output folder, the model or earlier outputs are unusable."""


#: Temporary files older than this (seconds) are an interrupted run's and
#: are deleted when a batch starts; younger ones may be a running process's.
STALE_TEMPORARY_S = 600.0


def check_batch(photos: Sequence[str | os.PathLike], options: SegmentOptions) -> None:
    """Check once, before any photo, what would otherwise fail for each.

    * the output folder is a folder (it is created) and writable;
    * the Mask R-CNN weights load, and ``classes`` are the model's (the
      model is kept for the photos of this process);
    * no photo has outputs made with other options, or outputs without a
      record, unless ``overwrite`` is set.

    Temporary files that interrupted runs left in the output sub-folders,
    older than :data:`STALE_TEMPORARY_S`, are deleted.

    Raises
    ------
    BatchError
        Saying what is wrong and what to do.
    """
    out = Path(options.out_dir)
    if out.exists() and not out.is_dir():
        raise BatchError(f"output folder {out} is a file; give a folder (new or existing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / temporary_name(out / "write-test.txt")
        with open(probe, "x"):
            pass
        probe.unlink()
    except OSError as exc:
        raise BatchError(f"cannot write to the output folder {out}: {exc.strerror or exc}") from None
    for folder in output_folders(out):
        manifest.remove_temporaries(folder, older_than=STALE_TEMPORARY_S)
    source = _source(options)
    if source == "model" or (source == "auto" and options.weights is not None):
        # The model is needed (or was asked for): load it once, here.
        from .coarse_masks import load_detector

        weights = _weights(options)
        try:
            if weights is None:
                raise RuntimeError("this installation has no bundled model; give --weights")
            config = Path(options.config) if options.config is not None else weights.with_suffix(".json")
            _classes(weights, config, options)
            load_detector(weights, options.config)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            raise BatchError(f"cannot use the Mask R-CNN weights {weights}: {exc}") from None
    refused = []
    for photo in photos:
        photo = Path(photo)
        try:
            recipe = _recipe(photo, options)
        except (FileNotFoundError, ImageReadError):
            continue  # a missing coarse mask or an unreadable file fails that photo alone, later
        plan = _plan(photo, options, recipe)
        if plan.action == "refuse":
            refused.append((photo, plan.message))
    if refused:
        photo, message = refused[0]
        others = [p.name for p, _ in refused[1:]]
        listed = ", ".join(others[:5]) + (", ..." if len(others) > 5 else ".")
        also = f" The same stops {counted(len(others), 'more photo')}: {listed}" if others else ""
        raise BatchError(f"{photo.name}: {message}.{also}")


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
    check: bool = True,
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
    check : bool, optional
        Run :func:`check_batch` first. Default True.

    Returns
    -------
    BatchSummary

    Raises
    ------
    BatchError
        From :func:`check_batch`, before any photo.
    """
    from tqdm.auto import tqdm

    photos = [Path(p) for p in photos]
    if check:
        check_batch(photos, options)
    if results is None:
        results = iter_local(photos, options)
    summary = BatchSummary()
    start = time.perf_counter()
    # disable=None: no bar when stderr is not a terminal (a log file).
    bar = tqdm(total=len(photos), unit="photo", disable=None if progress else True, file=sys.stderr,
               dynamic_ncols=True)
    say = report or (lambda line: tqdm.write(line, file=sys.stderr))
    try:
        for result in results:
            summary.add(result)
            if result.status == "failed":
                say(f"FAILED {Path(result.path).name}: {result.message}")
            elif result.status == "done":
                found = counted(result.objects, "object") if result.objects else "no object found"
                say(f"{Path(result.path).name}: {found}; {result.note}")
            bar.set_postfix(failed=summary.failed, skipped=summary.skipped, refresh=False)
            bar.update(1)
    finally:
        bar.close()
        summary.seconds = time.perf_counter() - start
    _remove_empty_folders(options.out_dir)
    return summary


def _remove_empty_folders(out_dir: str | os.PathLike) -> None:
    """Remove output sub-folders left empty (a rerun with ``overwrite`` and without
    the extras of the run before: its ``white/`` or ``inspect/`` files went)."""
    for name in _OUTPUT_FOLDERS:
        try:
            (Path(out_dir) / name).rmdir()  # only if empty
        except OSError:
            pass
