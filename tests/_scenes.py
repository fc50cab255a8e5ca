"""Generated scenes with a known truth, shared by the core tests."""

from __future__ import annotations

import numpy as np
from skimage.draw import ellipse, polygon


def scene(shape=(480, 640), seed=0, objects=1, touching=False):
    """A plain backdrop with sharp-edged objects of distinct colours.

    Returns the uint8 RGB photo and its true int32 labels.
    """
    rng = np.random.default_rng(seed)
    h, w = shape
    photo = np.empty((h, w, 3), np.float32)
    photo[:] = (0.85, 0.86, 0.88)
    truth = np.zeros(shape, np.int32)
    colours = [(0.15, 0.2, 0.55), (0.6, 0.15, 0.1), (0.2, 0.5, 0.2)]
    for k in range(objects):
        cy = h * 0.5
        cx = w * (k + 1) / (objects + 1)
        if touching:
            cx = w * 0.5 + (k - 0.5) * w * 0.16
        ry, rx = h * 0.32, w * (0.12 if objects > 1 else 0.25)
        angles = np.linspace(0, 2 * np.pi, 11, endpoint=False)
        radius = 1 - 0.25 * (np.arange(11) % 2)  # a blunt star: corners and concavities
        ys = cy + ry * radius * np.sin(angles)
        xs = cx + rx * radius * np.cos(angles)
        rr, cc = polygon(ys, xs, shape)
        free = truth[rr, cc] == 0
        truth[rr[free], cc[free]] = k + 1
        photo[rr[free], cc[free]] = colours[k % 3]
    photo += rng.normal(0, 0.02, photo.shape).astype(np.float32)
    image = (np.clip(photo, 0, 1) * 255).astype(np.uint8)
    return image, truth


def disk_labels(shape, centres, radius):
    labels = np.zeros(shape, np.int32)
    for k, (cy, cx) in enumerate(centres, start=1):
        rr, cc = ellipse(cy, cx, radius, radius, shape=shape)
        labels[rr, cc] = k
    return labels


BACKDROP = (0.86, 0.86, 0.88)
CLOTH = (0.18, 0.22, 0.55)


def shirt_with_sleeve(flap: bool = False):
    """A body with a sleeve; the coarse mask misses the sleeve (and, with ``flap``,
    also covers a patch of backdrop beside the body).

    Returns (photo, coarse, truth, sleeve, flap_mask).
    """
    rng = np.random.default_rng(0)
    h, w = 360, 480
    photo = np.empty((h, w, 3), np.float32)
    photo[:] = BACKDROP
    truth = np.zeros((h, w), np.int32)
    truth[60:300, 150:300] = 1  # the body
    sleeve = np.zeros((h, w), bool)
    sleeve[80:114, 300:420] = True  # 34 px high, 120 px long
    truth[sleeve] = 1
    photo[truth == 1] = CLOTH
    photo += rng.normal(0, 0.02, photo.shape).astype(np.float32)
    image = (np.clip(photo, 0, 1) * 255).astype(np.uint8)
    coarse = np.zeros((h, w), np.int32)
    coarse[60:300, 150:300] = 1
    flap_mask = np.zeros((h, w), bool)
    if flap:
        flap_mask[170:230, 60:150] = True  # backdrop the coarse mask claims
        coarse[flap_mask] = 1
    return image, coarse, truth, sleeve, flap_mask
