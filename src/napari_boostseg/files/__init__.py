"""Files: photos, label images with their class sidecar, and atomic writes.

* :mod:`~napari_boostseg.files.photos`: :func:`read_image` (upright, 8 or 16
  bits, ICC profile) and :func:`write_image` (PNG, JPEG, TIFF; 16-bit PNGs).
* :mod:`~napari_boostseg.files.labels`: :func:`read_labels`,
  :func:`write_labels`, the class sidecar (:func:`read_classes`,
  :func:`write_classes`) and :func:`find_labels`.
* :mod:`~napari_boostseg.files.atomic`: :func:`atomic_write`, which every
  writer uses: a file appears whole under its name or not at all, and
  nothing is replaced unless ``overwrite=True``.

Cut-outs (compositing, naming, writing) live in :mod:`napari_boostseg.cutouts`.
The package is named ``files`` rather than ``io`` so that it never hides the
standard library's :mod:`io`.
"""

from .atomic import TEMPORARY_NAME, atomic_write, atomic_write_text, temporary_name
from .labels import (
    LABEL_SUFFIXES,
    find_labels,
    read_classes,
    read_labels,
    sidecar_path,
    write_classes,
    write_labels,
)
from .photos import IMAGE_SUFFIXES, ImageReadError, Photo, apply_orientation, read_image, write_image

__all__ = [
    "Photo",
    "ImageReadError",
    "IMAGE_SUFFIXES",
    "LABEL_SUFFIXES",
    "read_image",
    "write_image",
    "apply_orientation",
    "read_labels",
    "write_labels",
    "find_labels",
    "sidecar_path",
    "read_classes",
    "write_classes",
    "atomic_write",
    "atomic_write_text",
    "temporary_name",
    "TEMPORARY_NAME",
]
