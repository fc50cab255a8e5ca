"""The ``boostseg`` command line: ``segment``, ``evaluate``, ``train`` and ``demo``.

Each sub-command imports what it needs when it runs, and TensorFlow is
imported only when Mask R-CNN weights are used (or for ``train``), so
``boostseg --help`` starts quickly.

Exit status: 0 when every photo (or image pair) went through; 1 when some
failed (the summary says how many); 2 for wrong usage or unusable inputs,
found before any photo is processed (no photo selected, an output folder that
is a file or read-only, weights that do not load, outputs made with other
options); 3 (``segment``) when none failed but some photos gave no object,
so they have no cut-out (the summary lists them).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from ._text import counted, first_few

__all__ = ["main", "build_parser"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_EMPTY = 3

# Refinement parameters settable from the command line: (field, type, help).


def _jpeg_quality(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 95:
        raise argparse.ArgumentTypeError(f"must be 1-95 (Pillow's range for JPEG), got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_segment(sub) -> None:
    p = sub.add_parser(
        "segment",
        help="cut out products from photos",
        description=(
            "Refine coarse masks to the photo's edges and write, per photo, the label "
            "image (OUT/labels), one RGBA cut-out per product (OUT/cutouts/NAME-ID.png, "
            "cropped to the product with a margin) and on request each cut-out on white "
            "(OUT/white) and the soft mask and markers (OUT/inspect). "
            "A record per photo (OUT/manifests) says what made its outputs: a rerun "
            "skips photos made with the same options, so an interrupted run resumes, "
            "and refuses photos made with other options unless --overwrite, which "
            "replaces each photo's outputs as a whole."
        ),
        epilog=(
            "The output folder, the model and earlier outputs are checked before the "
            "first photo (exit status 2). A photo that cannot be read or processed is "
            "reported and skipped; the exit status is 1 when any failed, and 3 when none "
            "failed but some gave no object (listed at the end; they have no cut-out). Set "
            "BOOSTSEG_TRACEBACK=1 to see the full traceback of each failure."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="photo files, folders or glob patterns")
    p.add_argument("--out", "-o", required=True, type=Path, metavar="DIR", help="output folder")
    src = p.add_argument_group(
        "coarse masks",
        "By default each photo's products are found on its backdrop where it has a plain "
        "one, and by the Mask R-CNN elsewhere; each photo's line says which.",
    )
    src.add_argument(
        "--coarse",
        choices=("auto", "backdrop", "model"),
        help="auto (default without --weights): the backdrop where the photo has a plain one, "
        "the model elsewhere; backdrop: the backdrop only (photos without one fail); model "
        "(default with --weights): the Mask R-CNN only",
    )
    src.add_argument(
        "--split-touching",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="split products that touch on the backdrop into one object each where the bundled "
        "product model finds each of them; parts of one colour that share a long border stay one object (on by "
        "default with the auto and backdrop sources; the same model also makes whole a product "
        "the backdrop found only in part, such as a white shirt on white paper; "
        "--no-split-touching keeps touching products as one object and runs no model)",
    )
    src.add_argument(
        "--masks",
        type=Path,
        metavar="DIR",
        help="folder of coarse masks named like the photos (NAME.png or NAME.tif), instead of finding them",
    )
    src.add_argument(
        "--weights", type=Path, metavar="H5", help="Mask R-CNN weights (default: the bundled model)"
    )
    src.add_argument(
        "--config", type=Path, metavar="JSON", help="Mask R-CNN config (default: beside the weights)"
    )
    src.add_argument(
        "--classes",
        metavar="NAMES",
        help="comma-separated Mask R-CNN classes to cut out, or 'all' (default: the garment classes "
        "for the bundled model, every class for other weights); e.g. --classes person",
    )
    out = p.add_argument_group("outputs")
    out.add_argument(
        "--labels-format", choices=("png", "tif"), default="png", help="label image format (default png)"
    )
    out.add_argument("--jpeg", action="store_true", help="also write each cut-out flattened on white")
    out.add_argument(
        "--jpeg-quality", type=_jpeg_quality, default=None, metavar="Q",
        help="JPEG quality 1-95 of the cut-outs on white (default 95; implies --jpeg)",
    )
    out.add_argument(
        "--inspect", action="store_true", help="also write the soft mask and the watershed markers"
    )
    out.add_argument(
        "--full-frame",
        action="store_true",
        help="cut-outs keep the photo's whole frame instead of being cropped to their product",
    )
    out.add_argument(
        "--hard-edges",
        action="store_true",
        help="cut-outs take the label image's hard 0/1 alpha, and so do their --jpeg copies on "
        "white (default: a soft, anti-aliased edge, 2 px either side of the outline, whose rim "
        "colours carry none of the backdrop; unrelated to --soft-sigma and --soft-strength, "
        "which set the refinement's soft mask)",
    )
    out.add_argument(
        "--overwrite",
        action="store_true",
        help="recompute photos whose outputs exist and replace each one's outputs as a whole",
    )
    run = p.add_argument_group("running")
    where = run.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", type=_positive_int, metavar="N", help="run on a local Dask cluster of N processes"
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", help="run on an existing dask.distributed scheduler"
    )
    run.add_argument("--recursive", "-r", action="store_true", help="look into sub-folders")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_verbose(run)
    ref = p.add_argument_group("refinement (the settings of the napari Refine widget)")
    from .refine import RefineParams

    docs = RefineParams.field_help()
    ranges = RefineParams.ranges()
    units = RefineParams.units()
    names = {field.name for field in dataclasses.fields(RefineParams)}

    def flag(word: re.Match) -> str:  # another setting named in a help text, spelt as its option
        return "--" + word[0].replace("_", "-") if word[0] in names else word[0]

    def as_flags(text: str) -> str:
        """``text`` capitalised, each setting named in it spelt as its option (keep_edge: --keep-edge),
        without the pointers to the Python code that explains it (see napari_boostseg.alignment)."""
        text = re.sub(r"\s*\((?:see )?napari_boostseg[\w.]*\)", "", text)
        text = re.sub(r"\b[a-z]+(?:_[a-z]+)+\b", flag, text)
        return text[:1].upper() + text[1:]

    for field in dataclasses.fields(RefineParams):
        ref.add_argument(
            f"--{field.name.replace('_', '-')}", dest=field.name, type=float, default=None,
            metavar=units[field.name].upper() or "X",
            # argparse formats help with %: a literal one is written %%.
            help=as_flags(docs.get(field.name, "").split(". ")[0]).replace("%", "%%")
            + f" (default {field.default}; {ranges[field.name].describe()})",
        )
    p.set_defaults(func=_cmd_segment)


def _add_verbose(parser) -> None:
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="show TensorFlow's start-up messages"
    )


def _quiet_tensorflow(verbose: bool) -> None:
    """Import TensorFlow now: quietly, or with all its messages for ``--verbose``."""
    from ._tensorflow import import_tensorflow, show_tensorflow_messages

    if verbose:
        show_tensorflow_messages()
    import_tensorflow()


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score predicted masks against ground truth",
        description=(
            "Compare label images in PRED_DIR with those of the same name in GT_DIR "
            "(any non-zero id is foreground): IoU (mean and pooled), mBA as CascadePSP "
            "computes it, and boundary F. A ground truth without prediction scores as "
            "an empty prediction (or is left out with --only-predicted); predictions "
            "without ground truth are named and not scored. IoU mean averages the images; "
            "IoU pooled divides all intersections by all unions, so large objects weigh more; "
            "mBA (0-1) is the share of pixels in a band along the true outline where "
            "prediction and truth agree, averaged over five band widths: an empty prediction "
            "still scores about 0.5 (the band's outer half is background). PRED_DIR may be "
            "the output folder of 'boostseg segment' (its labels/ are read)."
        ),
        epilog=(
            "Exit status: 0 when every pair was scored, 1 when some pair could not be "
            "compared, 2 for wrong usage or when no ground truth has a prediction."
        ),
    )
    p.add_argument("pred_dir", type=Path, metavar="PRED_DIR", help="predicted masks or label images")
    p.add_argument("gt_dir", type=Path, metavar="GT_DIR", help="ground-truth masks or label images")
    p.add_argument("--csv", type=Path, metavar="FILE",
                   help="write the per-image table as CSV ('-' for stdout; the summary then goes to stderr)")
    p.add_argument("--plot", type=Path, metavar="PNG", help="write a PNG of the per-image distributions")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--overwrite", action="store_true", help="replace existing --csv/--plot files")
    p.add_argument(
        "--only-predicted",
        action="store_true",
        help="score only ground truths that have a prediction (the others are counted)",
    )
    p.set_defaults(func=_cmd_evaluate)


#: Layers ``train`` can train, from the fewest to all.
TRAIN_LAYERS = ("heads", "5+", "4+", "3+", "all")


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="fine-tune the Mask R-CNN on photos and label images",
        description=(
            "Fine-tune the Mask R-CNN on DATA_DIR (photos and instance label images, "
            "laid out as napari_boostseg.mrcnn.dataset describes; the review folder of "
            "the Shoot review widget is one). It starts from the bundled garment model "
            "and its config unless --init-weights or --from-scratch says otherwise, and "
            "trains as the Train widget does by default (heads, Adam at 0.0001, 3 epochs "
            "of 20 steps). Checkpoints and a loss log go to a run folder inside --out."
        ),
    )
    p.add_argument(
        "data_dir", type=Path, metavar="DATA_DIR",
        help="folder with images/ and labels/ (label images as 'segment' writes them)",
    )
    p.add_argument("--out", "-o", required=True, type=Path, metavar="DIR", help="folder for the run folder")
    p.add_argument(
        "--config", type=Path, metavar="JSON",
        help="Mask R-CNN config (default: the one beside the starting weights; with --from-scratch, "
        "the MaskRCNNConfig defaults)",
    )
    p.add_argument("--epochs", type=_positive_int, default=3, help="train up to this epoch number (default 3)")
    p.add_argument(
        "--steps-per-epoch", type=_positive_int, default=20, metavar="N",
        help="steps per epoch, one batch of the config's images_per_batch photos each (default 20)",
    )
    p.add_argument(
        "--layers", choices=TRAIN_LAYERS,
        help="layers to train: heads, 5+, 4+, 3+ or all (default heads; all with --from-scratch)",
    )
    start = p.add_mutually_exclusive_group()
    start.add_argument(
        "--init-weights", type=Path, metavar="H5",
        help="weights to start from (default: the bundled garment model)",
    )
    start.add_argument(
        "--from-scratch", action="store_true", help="start from random weights (train all layers, for hours)"
    )
    p.add_argument(
        "--new-classes",
        action="store_true",
        help="do not load the class-specific layers of the starting weights (another number of classes)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument(
        "--optimizer", choices=("adam", "sgd"), default="adam", help="optimizer (default adam)"
    )
    p.add_argument(
        "--learning-rate", type=_positive_float, default=1e-4, metavar="LR",
        help="base learning rate (default 0.0001)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_verbose(p)
    p.set_defaults(func=_cmd_train)


def train_setup(args: argparse.Namespace):
    """The config and starting weights ``train`` uses for ``args``: ``(config, weights or None)``.

    Without ``--init-weights`` or ``--from-scratch``, the bundled garment model;
    without ``--config``, the config beside the starting weights.

    Raises
    ------
    ValueError
        With a message for the user: a missing file, or no bundled model.
    """
    from .models import default_weights
    from .mrcnn import MaskRCNNConfig
    from .mrcnn.model import config_path_for

    weights = None
    if not args.from_scratch:
        weights = args.init_weights or default_weights()
        if weights is None:
            raise ValueError("this installation has no bundled model to start from; give --init-weights H5 "
                             "or --from-scratch")
        if not Path(weights).is_file():
            raise ValueError(f"--init-weights {weights}: no such file")
    if args.config is not None:
        return MaskRCNNConfig.from_json(args.config), weights
    if weights is not None:
        beside = config_path_for(weights)
        if not beside.is_file():
            raise ValueError(f"{weights} has no config beside it ({beside.name}); give --config JSON")
        return MaskRCNNConfig.from_json(beside), weights
    return MaskRCNNConfig(), None


def _add_demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="find, refine and cut out the products of the bundled sample photos",
        description="Find the products of the bundled studio photos (on their backdrop; the "
        "bundled garment model for the street photo, which has none), refine them and write "
        "the photos, coarse and refined label images and one RGBA cut-out per object "
        "(DIR/photos, DIR/coarse, DIR/labels, DIR/cutouts). For each photo it prints where its "
        "coarse masks came from, how many of its true products were found, their IoU (overlap "
        "with the true product, 1 perfect) before and after refinement and the refined mBA "
        "(how closely the outline follows the true one), and which cut-outs to look at.",
    )
    p.add_argument("--out", type=Path, default=Path("boostseg-demo"), metavar="DIR",
                   help="output folder (default: boostseg-demo in the current folder)")
    p.add_argument("--overwrite", action="store_true", help="replace files of an earlier run")
    p.add_argument("--weights", type=Path, metavar="H5",
                   help="Mask R-CNN weights for photos without a plain backdrop (default: the bundled model)")
    p.add_argument("--no-model", action="store_true",
                   help="use no Mask R-CNN: photos without a plain backdrop are skipped and "
                   "touching products are not split")
    _add_verbose(p)
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    if not args.no_model:
        _quiet_tensorflow(args.verbose)
    try:
        weights = None if args.no_model else (args.weights or "default")
        run_demo(args.out, overwrite=args.overwrite, weights=weights)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        return _fail(str(exc))
    return EXIT_OK


class _Formatter(argparse.HelpFormatter):
    """Help wrapped between words only: an option named in a help text (--moved-band) is never
    cut at its hyphen."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors come in one line and say where the options are,
    rather than after the whole usage block."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``boostseg`` (for documentation and tests)."""
    parser = _Parser(
        prog="boostseg",
        description="Pixel-accurate product cut-outs from studio photos.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_segment(sub)
    _add_evaluate(sub)
    _add_train(sub)
    _add_demo(sub)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("napari-boostseg")
    except PackageNotFoundError:
        return "unknown"


def _model_classes(weights: Path, config: Path | None, spec: str) -> tuple[str, ...]:
    """The classes named by ``--classes``, checked against the model's config (no TensorFlow)."""
    from .coarse_masks import chosen_classes, config_classes

    try:
        known = config_classes(weights, config)
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None
    if spec.strip().lower() == "all":
        return known[1:]
    names = tuple(n.strip() for n in spec.split(",") if n.strip())
    try:
        return chosen_classes(known, names, weights)
    except ValueError as exc:
        raise ValueError(f"--classes {spec}: {exc} (or 'all')") from None


#: The command a message comes from ("boostseg segment"), set once the arguments are parsed.
_prog = "boostseg"


def _fail(message: str) -> int:
    print(f"{_prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# --------------------------------------------------------------------------- #
# Sub-commands


def _cmd_segment(args: argparse.Namespace) -> int:
    from .batch import (
        BatchError,
        SegmentOptions,
        bundled_weights,
        check_batch,
        collect_photos,
        other_files,
        output_folders,
        run_batch,
    )
    from .refine import RefineParams

    if args.masks is not None and args.weights is not None:
        return _fail("give either --masks or --weights, not both")
    if args.workers is not None or args.scheduler is not None:
        from ._extras import MissingExtra, require

        try:
            require("distributed", "dask", "--workers and --scheduler")
        except MissingExtra as exc:
            return _fail(str(exc))
    if args.weights is not None and args.coarse == "backdrop":
        return _fail("--weights is for the model; --coarse backdrop uses none")
    if args.masks is None and args.weights is None and args.coarse == "model":
        if bundled_weights() is None:
            return _fail(
                "--coarse model needs --weights FILE.h5: this installation has no bundled model"
            )
    if args.masks is not None and args.coarse is not None:
        return _fail(f"--masks gives the coarse masks; --coarse {args.coarse} chooses them only without --masks")
    if args.masks is not None and args.masks.is_file():
        return _fail(f"--masks {args.masks} is a file; give the folder of mask files")
    if args.masks is not None and not args.masks.is_dir():
        return _fail(f"--masks {args.masks}: no such folder")
    if args.weights is not None and not args.weights.is_file():
        return _fail(f"--weights {args.weights}: no such file")
    if args.config is not None and (args.weights is None or not args.config.is_file()):
        return _fail(f"--config {args.config}: needs --weights and an existing JSON file")
    if args.weights is not None and args.config is None and not args.weights.with_suffix(".json").is_file():
        return _fail(
            f"--weights {args.weights}: no Mask R-CNN config beside it "
            f"({args.weights.with_suffix('.json').name}); give the config with --config JSON"
        )
    classes = None
    if args.classes is not None:
        weights = args.weights or bundled_weights()
        if args.masks is not None or args.coarse == "backdrop" or weights is None:
            return _fail("--classes needs Mask R-CNN detection (--weights or the bundled model)")
        try:
            classes = _model_classes(weights, args.config, args.classes)
        except ValueError as exc:
            return _fail(str(exc))

    names = [field.name for field in dataclasses.fields(RefineParams)]
    changes = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    bad = [
        f"--{name.replace('_', '-')} {value:g} (must be {allowed})"
        for name, value, allowed in RefineParams.out_of_range(changes)
    ]
    if bad:
        return _fail(f"invalid refinement option{'s' if len(bad) > 1 else ''}: {', '.join(bad)}")
    try:
        params = RefineParams(**changes)
        options = SegmentOptions(
            out_dir=args.out,
            masks_dir=args.masks,
            source=args.coarse,
            weights=args.weights,
            config=args.config,
            label_format=args.labels_format,
            jpeg=args.jpeg or args.jpeg_quality is not None,
            inspect=args.inspect,
            overwrite=args.overwrite,
            params=params,
            jpeg_quality=95 if args.jpeg_quality is None else args.jpeg_quality,
            full_frame=args.full_frame,
            hard_edges=args.hard_edges,
            classes=classes,
            split_touching=args.split_touching,
        )
        # The output sub-folders are left out, not the whole output folder:
        # --out may hold the photos themselves.
        photos = collect_photos(args.inputs, recursive=args.recursive, exclude=output_folders(args.out))
        others = other_files(args.inputs, recursive=args.recursive, exclude=output_folders(args.out))
    except (ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    # TensorFlow is imported quietly before a model loads: before the checks where they load
    # the Mask R-CNN, after them otherwise, so that a refused run says so at once.
    loads_now = args.masks is None and (args.coarse == "model" or args.weights is not None)
    may_load = args.masks is None and (args.coarse != "backdrop" or args.split_touching is not False)
    if loads_now:
        _quiet_tensorflow(args.verbose)
    try:
        check_batch(photos, options)
    except BatchError as exc:
        return _fail(str(exc))
    if may_load and not loads_now:
        _quiet_tensorflow(args.verbose)
    if args.masks is not None:
        _unmatched_masks(args.masks, photos)
    if others:
        kinds = ", ".join(f"{suffix or 'no suffix'} {n}" for suffix, n in sorted(others.items()))
        print(f"left out {counted(sum(others.values()), 'file')} of a kind not read here ({kinds}): JPEG, "
              "PNG, TIFF, BMP and WebP photos are read; convert RAW or HEIC files first", file=sys.stderr)

    progress = not args.no_progress
    if args.workers is None and args.scheduler is None:
        summary = run_batch(photos, options, progress=progress, check=False)
    else:
        from .distributed import dask_client, iter_dask

        try:
            with dask_client(args.workers, args.scheduler) as client:
                summary = run_batch(
                    photos, options, results=iter_dask(photos, options, client), progress=progress, check=False
                )
        except OSError as exc:
            if args.scheduler is None:
                raise
            return _fail(f"cannot reach the Dask scheduler {args.scheduler}: {exc}")
    print(summary.describe(), file=sys.stderr)
    if summary.done or summary.skipped:
        print(f"outputs in {Path(args.out).resolve()}", file=sys.stderr)
    if summary.empty:
        none = "it has" if len(summary.empty) == 1 else "they have"
        print(f"no object found in {counted(len(summary.empty), 'photo')}; {none} no cut-out:", file=sys.stderr)
        for path in sorted(summary.empty):
            print(f"  {path}", file=sys.stderr)
    if summary.failed:
        print(
            f"{counted(summary.failed, 'photo')} failed (listed above); fix or remove "
            f"{'it' if summary.failed == 1 else 'them'} and "
            "run the same command again: finished photos are skipped.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_EMPTY if summary.empty else EXIT_OK


def _unmatched_masks(masks: Path, photos) -> None:
    """Before the run: name the photos that have no mask file in ``masks`` (they will fail) and
    the mask files that belong to none of ``photos`` (a misspelt name)."""
    from .files import LABEL_SUFFIXES

    mask_files = [p for p in masks.iterdir() if p.is_file() and p.suffix.lower() in LABEL_SUFFIXES]
    have = {p.stem for p in mask_files}
    stems = {Path(p).stem for p in photos}
    bare = sorted(Path(p).name for p in photos if Path(p).stem not in have)
    stray = sorted(p.name for p in mask_files if p.stem not in stems)
    if bare:
        print(f"{counted(len(bare), 'photo')} {'has' if len(bare) == 1 else 'have'} no mask file in {masks} "
              f"({first_few(bare)}) and will fail", file=sys.stderr)
    if stray:
        verb = "matches" if len(stray) == 1 else "match"
        print(
            f"{counted(len(stray), 'mask file')} in {masks} {verb} no photo ({first_few(stray)}); "
            "a mask is named like its photo (NAME.png for NAME.jpg)",
            file=sys.stderr,
        )


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from . import evaluate as ev

    for name, folder in (("PRED_DIR", args.pred_dir), ("GT_DIR", args.gt_dir)):
        if not folder.is_dir():
            return _fail(f"{name} {folder}: no such folder")
    for option, target in (("--csv", args.csv), ("--plot", args.plot)):
        if target is None or str(target) == "-":
            continue
        if target.is_dir():
            return _fail(f"{option} {target} is a folder; give a file name, e.g. {target / 'scores'}"
                         f"{'.csv' if option == '--csv' else '.png'}")
        if target.exists() and not args.overwrite:
            return _fail(f"{option} {target} exists; add --overwrite to replace it")
    try:
        report = ev.evaluate_folders(args.pred_dir, args.gt_dir, only_predicted=args.only_predicted)
    except (ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    if report.unmatched:
        print(
            f"{counted(len(report.unmatched), 'prediction')} without ground truth in {args.gt_dir}, not "
            f"scored: {first_few(report.unmatched)}",
            file=sys.stderr,
        )
    missing = [row.name for row in report.rows if row.missing]
    if missing:
        print(f"{counted(len(missing), 'ground truth')} without prediction in {args.pred_dir}, scored as "
              f"empty (IoU 0): {first_few(missing)}", file=sys.stderr)
    if report.matched == 0:
        truths = report.summary["images"] + report.summary["skipped_without_prediction"] + report.summary["errors"]
        return _fail(
            f"none of the {truths} ground truths in {args.gt_dir} has a prediction in "
            f"{args.pred_dir} (predictions and ground truths are paired by file name); "
            "check the folders"
        )
    if args.csv is not None:
        if str(args.csv) == "-":
            ev.write_csv(sys.stdout, report.rows)
        else:
            ev.save_csv(args.csv, report.rows, overwrite=args.overwrite)
    if args.plot is not None:
        try:
            ev.plot_distributions(report.rows, args.plot, overwrite=args.overwrite)
        except RuntimeError as exc:
            return _fail(str(exc))
    # With the table on stdout, the summary goes to stderr, so the table stays one CSV.
    summary_to = sys.stderr if args.csv is not None and str(args.csv) == "-" else sys.stdout
    if args.json:
        import json

        print(json.dumps(report.summary, indent=2), file=summary_to)
    else:
        print(ev.format_summary(report.summary), file=summary_to)
    for name, message in report.errors:
        print(f"FAILED {name}: {message}", file=sys.stderr)
    return EXIT_FAILED if report.errors else EXIT_OK


def _cmd_train(args: argparse.Namespace) -> int:
    try:
        from . import mrcnn
    except ImportError as exc:
        return _fail(
            f"training is not available in this installation ({exc}); it needs the "
            "Mask R-CNN subpackage napari_boostseg.mrcnn with TensorFlow"
        )
    if not args.data_dir.is_dir():
        return _fail(f"DATA_DIR {args.data_dir}: no such folder")
    if args.config is not None and not args.config.is_file():
        return _fail(f"--config {args.config}: no such file")
    if args.from_scratch and args.layers not in (None, "all"):
        return _fail(f"--from-scratch trains all layers (random weights); drop --layers {args.layers}")
    try:
        config, weights = train_setup(args)
    except ValueError as exc:
        return _fail(str(exc))
    _quiet_tensorflow(args.verbose)
    # A bar on a terminal; in a log file one line per epoch instead.
    bar = not args.no_progress and sys.stderr.isatty()

    def epoch_line(p) -> None:
        if p.phase == "epoch":
            names = {"loss": "loss", "val_loss": "validation loss"}
            seen = ", ".join(f"{words} {p.losses[key]:.3f}" for key, words in names.items() if key in p.losses)
            print(f"epoch {p.epoch}/{p.epochs}: {seen}", file=sys.stderr, flush=True)
    try:
        result = mrcnn.train(  # imports TensorFlow
            config,
            args.data_dir,
            args.out,
            epochs=args.epochs,
            layers=args.layers or ("all" if args.from_scratch else "heads"),
            init_weights=weights,
            exclude=mrcnn.CLASS_SPECIFIC_LAYERS if args.new_classes else (),
            resume=args.resume,
            learning_rate=args.learning_rate,
            optimizer=args.optimizer,
            steps_per_epoch=args.steps_per_epoch,
            verbose=bar,
            progress=None if bar or args.no_progress else epoch_line,
        )
    except (ValueError, FileNotFoundError) as exc:
        return _fail(str(exc))
    print(f"run folder: {result.log_dir}", file=sys.stderr)
    if result.checkpoints:
        print(f"last checkpoint: {result.checkpoints[-1]}", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``boostseg`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # a bare 'boostseg': what it can do, not only what is missing
        parser.print_help(sys.stderr)
        return 2
    args = parser.parse_args(argv)
    global _prog
    _prog = f"boostseg {args.command}"
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(
            "\ninterrupted; run the same command again to resume (finished photos are skipped)",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # The reader of the output stopped early (``boostseg evaluate ... --csv - | head``):
        # no traceback, and none at exit when Python flushes the closed pipe again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
