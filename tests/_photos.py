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
