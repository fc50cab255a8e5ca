"""The original soft-mask watershed, kept as published for comparison.

This is the method napari-boostseg started from, reproduced step by step:

1. ``g``: the photo in grey, scaled to [0, 1];
2. ``S``: the coarse mask ``M`` blurred with a Gaussian of sigma 24 pixels at
   600x400 (scaled here with the image diagonal), min-max normalised;
3. ``P = g * (1 - S)``, divided by its maximum;
4. edges: the Sobel magnitude of ``P``;
5. markers: background where ``M < 0.5`` and ``P > 0.6``, object where
   ``M > 0.5`` and ``P < 0.01``;
6. a watershed of the edges from those markers; the object is label 1.

Markers chosen by brightness leave dark backgrounds unmarked, so the object
floods into them; :func:`napari_boostseg.refine` avoids that. The original
worked on one object; for a label image each object is refined on its own
and pasted in id order.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from skimage.filters import gaussian, sobel
from skimage.segmentation import watershed

from napari_boostseg.inputs import as_label_image, check_image, image_to_float

__all__ = ["refine_original", "ORIGINAL_SIGMA", "ORIGINAL_DIAGONAL"]

#: Blur of the published method, in pixels, at its working size of 600x400.
ORIGINAL_SIGMA = 24.0
ORIGINAL_DIAGONAL = float(np.hypot(600, 400))


def _grey(image: np.ndarray) -> np.ndarray:
    photo = image_to_float(image)
    if photo.shape[2] == 1:
        grey = photo[..., 0].astype(np.float64)
    else:
        # The luma weights of skimage.color.rgb2gray, as the published code used.
        grey = photo @ np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)
        grey = grey.astype(np.float64)
    return grey


def refine_original(image: ArrayLike, coarse: ArrayLike) -> np.ndarray:
    """Refine with the original published soft-mask watershed.

    Parameters
    ----------
    image : array_like
        Photo, as for :func:`napari_boostseg.refine`.
    coarse : (H, W) array_like of bool or int
        Coarse mask or label image.

    Returns
    -------
    (H, W) ndarray of int32
        Labels with the coarse ids.
    """
    image = check_image(image)
    labels = as_label_image(coarse, image.shape)
    g = _grey(image)
    sigma = ORIGINAL_SIGMA * float(np.hypot(*labels.shape)) / ORIGINAL_DIAGONAL
    out = np.zeros(labels.shape, dtype=np.int32)
    for label_id in np.unique(labels[labels > 0]):
        m = (labels == label_id).astype(np.float64)
        s = gaussian(m, sigma=sigma)
        span = s.max() - s.min()
        s = (s - s.min()) / span if span > 0 else s
        p = g * (1 - s)
        if p.max() > 0:
            p = p / p.max()
        edges = sobel(p)
        markers = np.zeros(labels.shape, dtype=np.int32)
        markers[(m < 0.5) & (p > 0.6)] = 2
        markers[(m > 0.5) & (p < 0.01)] = 1
        flooded = watershed(edges, markers)
        out[flooded == 1] = label_id
    return out
