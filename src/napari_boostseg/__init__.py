"""napari-boostseg: pixel-accurate product cut-outs.

A coarse mask (from Mask R-CNN, or painted by hand) is refined to the photo's
edges by a marker-controlled watershed at full resolution. The core works on
NumPy arrays and imports neither napari, Qt nor TensorFlow::

    from napari_boostseg import refine
    labels = refine(image, coarse)
"""

from .markers import BACKGROUND, UNDECIDED, make_markers
from .refine import ObjectReport, RefineParams, Refinement, refine, refine_with_report, reflood

__version__ = "0.1.0"

__all__ = [
    "refine",
    "refine_with_report",
    "reflood",
    "ObjectReport",
    "RefineParams",
    "Refinement",
    "make_markers",
    "UNDECIDED",
    "BACKGROUND",
]
