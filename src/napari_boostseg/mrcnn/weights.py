"""Reading and writing weights in the reference Keras ``.h5`` layout.

A reference file (Keras 2 ``save_weights`` HDF5) has the root attributes
``layer_names``, ``backend`` and ``keras_version`` and one group per layer
whose attribute ``weight_names`` lists its datasets in order, e.g. group
``conv1`` holds ``conv1/kernel:0`` and ``conv1/bias:0``. The RPN is one nested
group ``rpn_model`` holding ``rpn_conv_shared/...``, ``rpn_class_raw/...`` and
``rpn_bbox_pred/...``. Whole-model files (``model.save``) keep the same
structure under a ``model_weights`` group; both are read.

Loading matches groups by layer name and weights by position, like Keras'
``load_weights(by_name=True)``, but stops with a precise error on any
mismatch instead of loading a half model.

Only h5py and NumPy are imported here; a model object is passed in.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

__all__ = ["CLASS_SPECIFIC_LAYERS", "load_weights", "save_weights", "read_weight_file"]

#: Layers whose shapes depend on the number of classes; exclude them when
#: fine-tuning a file trained for other classes. ``mrcnn_bbox`` has no weights
#: but is accepted because reference users pass it.
CLASS_SPECIFIC_LAYERS: tuple[str, ...] = ("mrcnn_class_logits", "mrcnn_bbox_fc", "mrcnn_bbox", "mrcnn_mask")

KERAS_VERSION = "2.21.0"


def _decode(values) -> list[str]:
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]


def _read_list_attr(group: h5py.Group, name: str) -> list[str] | None:
    # Keras splits attributes above 64 KiB into name0, name1, ...
    if name in group.attrs:
        return _decode(group.attrs[name])
    if f"{name}0" in group.attrs:
        out: list[str] = []
        i = 0
        while f"{name}{i}" in group.attrs:
            out += _decode(group.attrs[f"{name}{i}"])
            i += 1
        return out
    return None


def read_weight_file(path: str | os.PathLike) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Read every weight of a reference ``.h5`` file.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    dict
        Layer group name -> list of (weight name, array) in file order; layers
        without weights are left out.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable HDF5 file or not in the Keras weights layout.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {str(path)!r}.")
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"Cannot read weights file {str(path)!r}: it is not a valid HDF5 file "
            f"(corrupt or incomplete download?). h5py says: {exc}"
        ) from None
    with fh:
        root = fh
        if _read_list_attr(fh, "layer_names") is None and "model_weights" in fh:
            root = fh["model_weights"]
        layer_names = _read_list_attr(root, "layer_names")
        if layer_names is None:
            raise ValueError(
                f"{str(path)!r} is an HDF5 file but not Keras weights: it has no 'layer_names' "
                "attribute. Expected a file written by Keras save_weights (matterport Mask R-CNN)."
            )
        out: dict[str, list[tuple[str, np.ndarray]]] = {}
        for name in layer_names:
            if name not in root:
                raise ValueError(f"{str(path)!r} is corrupt: layer {name!r} is listed but has no group.")
            group = root[name]
            weight_names = _read_list_attr(group, "weight_names") or []
            if not weight_names:
                continue
            try:
                out[name] = [(w, np.asarray(group[w])) for w in weight_names]
            except (KeyError, OSError) as exc:
                raise ValueError(
                    f"{str(path)!r} is corrupt: cannot read the weights of layer {name!r} ({exc})."
                ) from None
    return out


def _backbone_of(names: Iterable[str]) -> str | None:
    names = set(names)
    if "res4w_branch2a" in names:
        return "resnet101"
    if "res4f_branch2a" in names:
        return "resnet50"
    return None


def load_weights(net, path: str | os.PathLike, exclude: Iterable[str] = (), strict: bool = True) -> list[str]:
    """Load a reference ``.h5`` file into a model, by layer name.

    Parameters
    ----------
    net : MaskRCNNNet or MaskRCNN
        The model (anything with ``weight_groups()`` and ``config``).
    path : path-like
        The ``.h5`` file.
    exclude : iterable of str, default ()
        Layer names not to load, e.g. :data:`CLASS_SPECIFIC_LAYERS` when the
        file was trained for another number of classes.
    strict : bool, default True
        Raise if a model layer (not excluded) is missing from the file. With
        False those layers keep their current values, as Keras' ``by_name``
        loading does.

    Returns
    -------
    list of str
        Names of the layer groups that were loaded.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing or corrupt file; the file's backbone differs from
        ``config.backbone``; a layer's weight count or shape differs (the
        message names the layer, the weight and both shapes).
    """
    config = net.config
    exclude = set(exclude)
    groups = net.weight_groups()
    known = {name for name, _ in groups} | set(CLASS_SPECIFIC_LAYERS)
    unknown = sorted(exclude - known)
    if unknown:
        raise ValueError(
            f"exclude names unknown layers {unknown}; layer names are e.g. {sorted(CLASS_SPECIFIC_LAYERS)}."
        )
    file_weights = read_weight_file(path)
    file_backbone = _backbone_of(file_weights)
    if file_backbone is not None and file_backbone != config.backbone:
        raise ValueError(
            f"{os.fspath(path)!r} holds a {file_backbone} backbone but the config asks for "
            f"backbone={config.backbone!r}. Set backbone={file_backbone!r} in the config."
        )

    assignments = []
    missing = []
    for name, entries in groups:
        if name in exclude:
            continue
        if name not in file_weights:
            missing.append(name)
            continue
        stored = file_weights[name]
        if len(stored) != len(entries):
            raise ValueError(
                f"Layer {name!r} has {len(stored)} weights in {os.fspath(path)!r} "
                f"({[w for w, _ in stored]}) but {len(entries)} in the model ({[w for w, _ in entries]})."
            )
        for (wname, var), (fname, value) in zip(entries, stored):
            if tuple(value.shape) != tuple(var.shape):
                raise ValueError(_shape_message(name, wname, fname, value.shape, tuple(var.shape), config))
            assignments.append((var, value))
    if missing and strict:
        shown = ", ".join(missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise ValueError(
            f"{len(missing)} layers of the model are not in {os.fspath(path)!r}: {shown}. "
            "Use a complete Mask R-CNN weights file, or strict=False to keep those layers as they are."
        )
    for var, value in assignments:
        var.assign(value.astype(np.float32, copy=False))
    return [name for name, _ in groups if name not in exclude and name not in missing]


def _shape_message(layer, wname, fname, file_shape, model_shape, config) -> str:
    msg = (
        f"Layer {layer!r}: weight {fname!r} has shape {tuple(file_shape)} in the file "
        f"but {model_shape} in the model ({wname!r})."
    )
    if layer in CLASS_SPECIFIC_LAYERS:
        n_file = file_shape[-1] // 4 if layer == "mrcnn_bbox_fc" else file_shape[-1]
        msg += (
            f" The file was trained for {n_file} classes, the config has {config.num_classes} "
            f"{list(config.class_names)}. To fine-tune to these classes pass "
            f"exclude={list(CLASS_SPECIFIC_LAYERS)}; to use the file as it is, give the config "
            f"its {n_file} class names."
        )
    else:
        msg += (
            " The file was written for another architecture or configuration: compare its JSON config's "
            "backbone, backbone_width, top_down_pyramid_size and fpn_classif_fc_layers_size with yours."
        )
    return msg


def _stored(value: np.ndarray, dtype: str) -> np.ndarray:
    value = np.asarray(value, dtype=np.float32)
    if dtype == "float16":
        with np.errstate(over="ignore"):
            half = value.astype(np.float16)
        if np.isfinite(half).all():
            return half
    return value


def save_weights(net, path: str | os.PathLike, dtype: str = "float32") -> Path:
    """Write the model weights as a reference ``.h5`` file.

    The file is written to a temporary name and renamed, so an interrupted
    save never leaves a truncated file behind.

    Parameters
    ----------
    net : MaskRCNNNet or MaskRCNN
    path : path-like
    dtype : {"float32", "float16"}, default "float32"
        Storage type. "float16" halves the file; weights are rounded to about
        3 significant digits and widened to float32 again on loading. A
        tensor with values beyond float16's range (such as the BatchNorm
        variances after the first convolution, which sees 0-255 pixels)
        stays float32.

    Returns
    -------
    Path of the written file.
    """
    if dtype not in ("float32", "float16"):
        raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}.")
    from ..files import atomic_write

    groups = net.weight_groups()

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as fh:
            fh.attrs["layer_names"] = np.array([name.encode("utf8") for name, _ in groups])
            fh.attrs["backend"] = b"tensorflow"
            fh.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
            for name, entries in groups:
                group = fh.create_group(name)
                group.attrs["weight_names"] = np.array([w.encode("utf8") for w, _ in entries])
                for wname, var in entries:
                    group.create_dataset(wname, data=_stored(var.numpy(), dtype))

    return atomic_write(path, write, overwrite=True)
