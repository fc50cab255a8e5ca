"""Studio photos for tests, rendered around drawn products, so no data folder is needed."""

from __future__ import annotations

from functools import cache

import numpy as np
from skimage.draw import ellipse, polygon

from napari_boostseg.synthetic.studio import Cutout


def _cut(mask: np.ndarray, colour, kind: str, stripes: int = 0) -> Cutout:
    """A cut-out of a drawn shape in a flat colour, with a little texture."""
    h, w = mask.shape
    yy, xx = np.mgrid[0:h, 0:w]
    shade = 1 + 0.06 * np.sin(xx / 3.0) * np.sin(yy / 4.0) - 0.1 * (yy / h)
    rgb = np.asarray(colour, float)[None, None, :] * shade[..., None]
    if stripes:
        rgb = np.where(((yy // stripes) % 2 == 0)[..., None], rgb * 0.6, rgb)
    return Cutout((np.clip(rgb, 0, 1) * 255).astype(np.uint8), mask, kind, "drawn")


@cache
def drawn_cutouts() -> tuple[Cutout, ...]:
    """A T-shirt, a dress, a pair of trousers, a bag with a handle, a shoe and a person."""
    out = []
    shirt = np.zeros((200, 200), bool)
    rows = [0, 0, 16, 60, 84, 56, 199, 199, 56, 84, 60, 16]
    cols = [70, 130, 140, 199, 176, 156, 160, 40, 44, 24, 0, 60]
    rr, cc = polygon(rows, cols, shirt.shape)
    shirt[rr, cc] = True
    out.append(_cut(shirt, (0.15, 0.25, 0.55), "top", stripes=14))
    dress = np.zeros((260, 160), bool)
    rr, cc = polygon([0, 0, 30, 90, 259, 259, 90, 30], [50, 110, 115, 100, 159, 0, 60, 45], dress.shape)
    dress[rr, cc] = True
    out.append(_cut(dress, (0.7, 0.1, 0.12), "dress"))
    trousers = np.zeros((240, 120), bool)
    rr, cc = polygon([0, 0, 239, 239, 60, 239, 239], [10, 110, 119, 70, 60, 50, 0], trousers.shape)
    trousers[rr, cc] = True
    out.append(_cut(trousers, (0.35, 0.3, 0.2), "bottom"))
    bag = np.zeros((160, 140), bool)
    bag[60:, 5:135] = True
    rr, cc = ellipse(62, 70, 58, 50, shape=bag.shape)
    ring = np.zeros_like(bag)
    ring[rr, cc] = True
    rr, cc = ellipse(62, 70, 44, 36, shape=bag.shape)
    ring[rr, cc] = False
    out.append(_cut(bag | ring, (0.5, 0.32, 0.15), "bag"))
    shoe = np.zeros((60, 120), bool)
    rr, cc = ellipse(35, 60, 24, 58, shape=shoe.shape)
    shoe[rr, cc] = True
    out.append(_cut(shoe, (0.1, 0.1, 0.1), "footwear"))
    person = np.zeros((300, 100), bool)
    rr, cc = ellipse(25, 50, 22, 18, shape=person.shape)
    person[rr, cc] = True
    person[45:200, 20:80] = True
    person[200:299, 25:47] = True
    person[200:299, 53:75] = True
    out.append(_cut(person, (0.6, 0.45, 0.35), "person"))
    return tuple(out)
