"""The user-facing model: build, load, detect, save.

Importing this module does not import TensorFlow; building a model does.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .anchors import anchors_for_shape
from .config import MaskRCNNConfig
from .detect import Detections, unmold_detections
from .molding import mold_image

__all__ = ["MaskRCNN", "build_model", "load_model", "config_path_for", "clear_model_cache"]

_MODES = ("inference", "training")


class MaskRCNN:
    """A Mask R-CNN model with the reference architecture and layer names.

    Parameters
    ----------
    config : MaskRCNNConfig
    mode : {"inference", "training"}, default "inference"
        Kept for symmetry with the reference; one object serves both (the
        training loop in :mod:`napari_boostseg.mrcnn.training` drives the same
        layers).
    precision : {"float32", "bfloat16"}, default "float32"
        Compute precision. "bfloat16" is several times faster on CPUs with
        AMX or AVX-512 BF16 units; variables and weight files stay float32,
        scores and masks differ slightly from float32 results.

    Notes
    -----
    The weights are random until :meth:`load_weights` is called.
    """

    def __init__(self, config: MaskRCNNConfig, mode: str = "inference", precision: str = "float32"):
        if not isinstance(config, MaskRCNNConfig):
            raise ValueError(f"config must be a MaskRCNNConfig, got {type(config).__name__}.")
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}.")
        from .graph import PRECISIONS, MaskRCNNNet  # imports TensorFlow

        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
        self.config = config
        self.mode = mode
        self.precision = precision
        self.net = MaskRCNNNet(config, precision=precision)
        self.weights_path: Path | None = None

    def weight_groups(self):
        """See :meth:`napari_boostseg.mrcnn.graph.MaskRCNNNet.weight_groups`."""
        return self.net.weight_groups()

    def load_weights(self, path: str | os.PathLike, exclude: Iterable[str] = (), strict: bool = True) -> list[str]:
        """Load a reference ``.h5`` file; see :func:`napari_boostseg.mrcnn.weights.load_weights`."""
        from .weights import load_weights

        loaded = load_weights(self.net, path, exclude=exclude, strict=strict)
        self.weights_path = Path(path)
        return loaded

    def save_weights(self, path: str | os.PathLike, write_config: bool = True, dtype: str = "float32") -> Path:
        """Write the weights as a reference ``.h5`` file.

        Parameters
        ----------
        path : path-like
        dtype : {"float32", "float16"}, default "float32"
            Storage type (see :func:`napari_boostseg.mrcnn.weights.save_weights`).
        write_config : bool, default True
            Also write the config as JSON beside it (same stem, ``.json``),
            so that :func:`load_model` needs only the ``.h5`` path.
        """
        from .weights import save_weights

        out = save_weights(self.net, path, dtype=dtype)
        if write_config:
            self.config.to_json(config_path_for(out))
        return out

    def detect(self, images: Sequence[np.ndarray] | np.ndarray) -> list[Detections]:
        """Detect instances.

        Parameters
        ----------
        images : sequence of arrays, or one array
            Each (H, W), (H, W, 3) or (H, W, 4); uint8, uint16 or float in
            [0, 1]. Grayscale is repeated to RGB, alpha dropped, 16-bit scaled.
            Sizes may differ. A single 2-D or 3-D array counts as one image.

        Returns
        -------
        list of Detections
            One per image, in input order.
        """
        if isinstance(images, np.ndarray) and images.ndim in (2, 3) and not (
            images.ndim == 3 and images.shape[2] not in (1, 3, 4)
        ):
            images = [images]
        if isinstance(images, np.ndarray) and images.ndim == 4:
            images = list(images)
        results = []
        for image in images:
            molded, info = mold_image(image, self.config)
            anchors = anchors_for_shape(self.config, molded.shape[:2])
            dets, masks = self.net.infer(molded[None], info.norm_window[None], anchors)
            results.append(unmold_detections(dets.numpy()[0], masks.numpy()[0], info, self.config.class_names))
        return results


def build_model(config: MaskRCNNConfig, mode: str = "inference", precision: str = "float32") -> MaskRCNN:
    """Build a model with random weights (for training or tests); see :class:`MaskRCNN`."""
    return MaskRCNN(config, mode=mode, precision=precision)


def config_path_for(weights_path: str | os.PathLike) -> Path:
    """The JSON config that belongs to a weights file: same stem, ``.json``."""
    return Path(weights_path).with_suffix(".json")


_CACHE: OrderedDict[tuple, MaskRCNN] = OrderedDict()
_CACHE_SIZE = 2  # models are large (hundreds of MB); keep few
_CACHE_LOCK = threading.Lock()


def clear_model_cache() -> None:
    """Forget all models cached by :func:`load_model`."""
    with _CACHE_LOCK:
        _CACHE.clear()


def load_model(
    weights_path: str | os.PathLike,
    config: MaskRCNNConfig | None = None,
    exclude: Iterable[str] = (),
    precision: str = "float32",
) -> MaskRCNN:
    """Build a model and load its weights, reusing a cached one when possible.

    Parameters
    ----------
    weights_path : path-like
        Reference-layout ``.h5`` file.
    config : MaskRCNNConfig, optional
        If omitted, read from the JSON beside the weights (same stem, ``.json``).
    exclude : iterable of str, default ()
        Layers not to load (see :func:`napari_boostseg.mrcnn.weights.load_weights`).
    precision : {"float32", "bfloat16"}, default "float32"
        Compute precision (see :class:`MaskRCNN`).

    Returns
    -------
    MaskRCNN
        Cached per (config, resolved weights path, file modification time,
        exclude, precision): calling again with an unchanged file returns the
        same object.
    """
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(f"Weights file not found: {str(path)!r}.")
    if config is None:
        cfg_path = config_path_for(path)
        if not cfg_path.is_file():
            raise FileNotFoundError(
                f"No config given and no config file beside the weights ({str(cfg_path)!r}). "
                "Pass config=MaskRCNNConfig(...) (--config JSON on the command line), or write "
                "the config beside the weights with config.to_json()."
            )
        config = MaskRCNNConfig.from_json(cfg_path)
    elif not isinstance(config, MaskRCNNConfig):
        raise ValueError(f"config must be a MaskRCNNConfig or None, got {type(config).__name__}.")
    resolved = path.resolve()
    key = (config, str(resolved), resolved.stat().st_mtime_ns, tuple(sorted(exclude)), precision)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    model = MaskRCNN(config, precision=precision)
    model.load_weights(resolved, exclude=exclude)
    with _CACHE_LOCK:
        _CACHE[key] = model
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return model
