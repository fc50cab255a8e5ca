"""Mask R-CNN compatible with the matterport Keras weights, on tf_keras.

Importing this package does not import TensorFlow; building a model does.

>>> from napari_boostseg.mrcnn import MaskRCNNConfig, load_model
>>> model = load_model("mask_rcnn_garments_0030.h5")        # doctest: +SKIP
>>> dets = model.detect([image])[0]                          # doctest: +SKIP
>>> labels = dets.to_labels()                                # doctest: +SKIP
"""

from .config import MaskRCNNConfig
from .detect import Detections
from .model import MaskRCNN, build_model, clear_model_cache, load_model
from .weights import CLASS_SPECIFIC_LAYERS, load_weights, save_weights

__all__ = [
    "MaskRCNNConfig",
    "Detections",
    "MaskRCNN",
    "build_model",
    "load_model",
    "clear_model_cache",
    "load_weights",
    "save_weights",
    "CLASS_SPECIFIC_LAYERS",
    "train",
    "TrainProgress",
]


def __getattr__(name):
    # The training module pulls in TensorFlow; load it on first use only.
    if name in ("train", "TrainProgress"):
        from . import training as _train

        return getattr(_train, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
