"""Writer contribution: a Labels layer as a PNG (8 or 16 bit) or TIFF label image.

The file is what the Mask R-CNN training reads (``labels/<stem>.png``: 0
background, 1..N objects). When the layer knows each object's class (a
``class_name`` feature, as Detect sets it), a ``<stem>.json`` sidecar with
``{"classes": {"1": "garment", ...}}`` is written beside it.

napari's save dialog asks before it replaces a file, so the writer replaces
the file it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _classes(features: Any, present: set[int]) -> dict[int, str]:
    """``{id: class name}`` for the objects present, from a layer's features table."""
    if features is None or "class_name" not in features or "index" not in features:
        return {}
    pairs = zip(features["index"], features["class_name"])
    return {int(i): str(name) for i, name in pairs if int(i) in present and name}


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Save one Labels layer; returns the paths written."""
    import numpy as np

    from napari_boostseg import files

    labels = np.asarray(data[0] if meta.get("multiscale") else data)
    if labels.ndim != 2:
        raise ValueError(
            f"only 2-D label images can be saved as {Path(path).suffix}; this layer has "
            f"shape {labels.shape}. Save one plane as a new layer first."
        )
    target = files.write_labels(path, labels, overwrite=True)
    written = [str(target)]
    present = {int(v) for v in np.unique(labels) if v != 0}
    classes = _classes(meta.get("features"), present)
    if classes and len(classes) == len(present):
        written.append(str(files.write_classes(target, classes, overwrite=True)))
    return written
