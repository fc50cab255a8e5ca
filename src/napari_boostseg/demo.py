"""The quick-start job: refine the bundled samples and save masks and cut-outs.

    boostseg demo --out boostseg-demo

For each generated sample photo it writes the photo, the coarse and the
refined label images and one RGBA cut-out per product, and prints where they
are and how much refinement improved on the coarse masks.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["run_demo"]


def run_demo(out_dir: str | os.PathLike, *, overwrite: bool = False, log=print) -> list[Path]:
    """Refine every bundled sample and save the results under ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Output folder; created when missing.
    overwrite : bool, optional
        Replace files left by an earlier run. Default False: an existing
        file stops the run with :class:`FileExistsError` before anything is
        written for that sample.
    log : callable, optional
        Receives one line of text per result. Default :func:`print`.

    Returns
    -------
    list of pathlib.Path
        Every file written.
    """
    from . import io, refine
    from .metrics import boundary_accuracy, iou
    from .samples import load_samples

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for sample in load_samples():
        labels = refine(sample.image, sample.coarse)
        ids = [int(k) for k in np.unique(labels) if k]
        targets = {
            out / f"{sample.name}.png": lambda p: io.write_image(p, sample.image, overwrite=overwrite),
            out / f"{sample.name}_coarse.png": lambda p: io.write_labels(p, sample.coarse, overwrite=overwrite),
            out / f"{sample.name}_labels.png": lambda p: io.write_labels(p, labels, overwrite=overwrite),
        }
        for k in ids:
            targets[out / f"{sample.name}_cutout_{k}.png"] = lambda p, k=k: io.write_cutout(
                p, io.cutout(sample.image, labels, label=k), overwrite=overwrite
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
        scores = ", ".join(
            f"object {k}: IoU {iou(sample.coarse == k, sample.truth == k):.3f} -> "
            f"{iou(labels == k, sample.truth == k):.3f}, mBA "
            f"{boundary_accuracy(sample.coarse == k, sample.truth == k):.3f} -> "
            f"{boundary_accuracy(labels == k, sample.truth == k):.3f}"
            for k in ids
        )
        log(f"{sample.name}: {scores}")
    log(f"wrote {len(written)} files to {out.resolve()}")
    return written
