"""Small random photos and an ICC payload for the file and cut-out tests."""

from __future__ import annotations

import numpy as np


def random_photo(h=7, w=5, dtype=np.uint8, channels=3, seed=0):
    """An ``(h, w)`` or ``(h, w, channels)`` photo of random values over the dtype's range."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    shape = (h, w) if channels == 1 else (h, w, channels)
    return rng.integers(0, top, size=shape, endpoint=True, dtype=dtype)


# A minimal but valid ICC payload: the readers and writers carry bytes as they are.
ICC = b"\x00\x00\x02\x0cfake-icc-profile-for-tests" + bytes(range(64))


def assert_cutout_of(rgba, mask):
    """``rgba`` is a soft-edged cut-out of ``mask`` (same window): opaque more
    than the edge's width inside the outline, transparent more than it outside."""
    from scipy import ndimage as ndi

    from napari_boostseg.matting import EDGE_WIDTH

    top = np.iinfo(rgba.dtype).max
    core = ndi.binary_erosion(mask, iterations=EDGE_WIDTH, border_value=1)
    assert (rgba[core, 3] == top).all(), "the product's inside is not opaque"
    assert (rgba[~ndi.binary_dilation(mask, iterations=EDGE_WIDTH), 3] == 0).all(), "the backdrop shows"
