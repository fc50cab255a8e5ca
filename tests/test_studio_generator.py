"""The studio photo generator: reproducible, and its true masks match its pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_boostseg.synthetic import studio

from _studio import drawn_cutouts

CCP = Path(__file__).resolve().parents[2] / "shared" / "data" / "ccp"


def test_same_seed_same_photo_other_seed_other_photo():
    a = studio.render(drawn_cutouts(), 5, layout="set", size=600)
    b = studio.render(drawn_cutouts(), 5, layout="set", size=600)
    c = studio.render(drawn_cutouts(), 6, layout="set", size=600)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.truth, b.truth)
    assert a.name == b.name and not np.array_equal(a.image, c.image)


def test_true_mask_matches_the_pixels_and_edges_are_soft():
    photo = studio.render(drawn_cutouts(), 2, layout="single", size=900, backdrop="white",
                          lighting="flat", jpeg=False)
    truth = photo.truth > 0
    grey = photo.image.astype(float).mean(axis=2)
    inside = ndi.binary_erosion(truth, iterations=3)
    outside = ~ndi.binary_dilation(truth, iterations=60)
    # The drawn products are dark on white paper: inside dark, far outside near white.
    assert grey[inside].mean() < 140 and grey[outside].mean() > 235
    # The outline is anti-aliased: along the true edge the pixels lie between
    # the product's and the paper's levels, not at either.
    edge = truth & ~ndi.binary_erosion(truth)
    between = (grey[edge] > grey[inside].mean() + 15) & (grey[edge] < grey[outside].mean() - 15)
    assert between.mean() > 0.3


def test_true_matte_is_the_share_of_product_in_each_pixel():
    photo = studio.render(drawn_cutouts(), 2, layout="single", size=900, backdrop="white",
                          lighting="flat", jpeg=False)
    matte, truth = photo.matte, photo.truth > 0
    assert matte.dtype == np.float32 and matte.shape == truth.shape
    assert matte.min() >= 0 and matte.max() <= 1
    # Solid inside, empty far outside, and the true mask is where it passes one half.
    assert matte[ndi.binary_erosion(truth, iterations=3)].min() > 0.99
    assert matte[~ndi.binary_dilation(truth, iterations=3)].max() < 0.01
    assert ((matte >= 0.5) == truth).mean() > 0.999
    # The photo is the premultiplied products over the paper: where the matte
    # is partial, the pixel lies between the product's colour and the paper's.
    grey = photo.image.astype(np.float32).mean(axis=2) / 255
    # The paper behind each pixel: the nearest pixel of bare paper (shadows vary).
    _, (iy, ix) = ndi.distance_transform_edt(matte >= 0.001, return_indices=True)
    paper = grey[iy, ix]
    rim = (matte > 0.2) & (matte < 0.8)
    mixed = photo.premultiplied.mean(axis=2) + (1 - matte) * paper
    assert np.abs(mixed[rim] - grey[rim]).mean() < 0.03


def test_layouts():
    cuts = drawn_cutouts()
    for seed in range(3):
        s = studio.render(cuts, seed, layout="set", size=900)
        n = int(s.truth.max())
        assert 2 <= n <= 6 and len(s.kinds) == n
        grown = [ndi.binary_dilation(s.truth == k, iterations=2) for k in range(1, n + 1)]
        assert not any((grown[i] & grown[j]).any() for i in range(n) for j in range(i + 1, n))  # apart
        t = studio.render(cuts, seed, layout="touching", size=900)
        a, b = ndi.binary_dilation(t.truth == 1), t.truth == 2
        assert (a & b).any()  # neighbours touch
        c = studio.render(cuts, seed, layout="cut", size=900)
        edges = np.concatenate([c.truth[0], c.truth[-1], c.truth[:, 0], c.truth[:, -1]])
        assert edges.any()  # cut by the frame
        p = studio.render(cuts, seed, layout="person", size=900)
        assert p.kinds == ("person",)
        rows = np.flatnonzero(p.truth.any(axis=1))
        assert rows[-1] > 0.9 * p.truth.shape[0] and rows[-1] - rows[0] > 0.7 * p.truth.shape[0]
    with pytest.raises(ValueError, match="unknown layout"):
        studio.render(cuts, 0, layout="collage")


def test_hard_cases():
    cuts = drawn_cutouts()
    light = studio.render(cuts, 1, hard="light_on_light", size=900)
    dark = studio.render(cuts, 1, hard="dark_on_dark", size=900)
    assert light.backdrop in ("white", "light_grey") and dark.backdrop == "black"
    assert light.image[light.truth > 0].mean() > 170 and dark.image[dark.truth > 0].mean() < 60
    holes = studio.render(cuts, 1, hard="holes", size=900)
    mask = holes.truth == 1
    assert (ndi.binary_fill_holes(mask) & ~mask).sum() > 500  # a handle with a hole
    thin = studio.render(cuts, 1, hard="thin", size=900)
    plain = studio.render(cuts, 1, size=900)
    # Cords are parts that an opening with a 9x9 square removes.
    def thin_part(t):
        return ((t > 0) & ~ndi.binary_opening(t > 0, np.ones((9, 9), bool))).sum()
    assert thin_part(thin.truth) > thin_part(plain.truth) + 200
    with pytest.raises(ValueError, match="unknown hard case"):
        studio.render(cuts, 0, hard="glitter")


@pytest.mark.parametrize("seed", [5, 6])
def test_hard_shadow_is_a_darker_crisper_shadow_on_the_same_scene(seed):
    cuts = drawn_cutouts()
    plain = studio.render(cuts, seed, size=900, backdrop="white", lighting="flat")
    crisp = studio.render(cuts, seed, hard="hard_shadow", size=900, backdrop="white", lighting="flat")
    # The same products in the same places: the shadow is backdrop, not product.
    assert np.array_equal(plain.truth, crisp.truth)
    paper = ~ndi.binary_dilation(plain.truth > 0, iterations=8)

    def shade(photo):
        grey = ndi.gaussian_filter(photo.image.mean(axis=2), 1.5)
        return 255 - np.percentile(grey[paper], 1), np.percentile(np.hypot(*np.gradient(grey))[paper], 99.9)

    (dark_plain, slope_plain), (dark_crisp, slope_crisp) = shade(plain), shade(crisp)
    assert dark_crisp > dark_plain + 25  # levels of 255, the darkest 1 % of the paper
    assert slope_crisp > 2 * slope_plain  # the shadow's edge, levels per pixel


@pytest.mark.parametrize("seed", [5, 7])
def test_knit_has_stitches_and_loose_fibres_outside_its_true_mask(seed):
    cuts = drawn_cutouts()

    def looks(photo):
        product = photo.truth > 0
        # Fibres: pixels within 4 px outside the true mask that are partly product, per outline pixel.
        ring = ndi.binary_dilation(product, iterations=4) & ~product
        fuzz = ((photo.matte > 0.05) & ring).sum() / (product & ~ndi.binary_erosion(product)).sum()
        # Stitches: the fine detail inside, levels of 255 from a blur of 1.5 px.
        grey = photo.image.astype(np.float32).mean(axis=2)
        detail = np.abs(grey - ndi.gaussian_filter(grey, 1.5))[ndi.binary_erosion(product, iterations=6)].mean()
        return fuzz, detail

    plain = studio.render(cuts, seed, size=900, backdrop="white", lighting="flat")
    knit = studio.render(cuts, seed, hard="knit", size=900, backdrop="white", lighting="flat")
    assert knit.hard == "knit" and knit.kinds == plain.kinds
    (fuzz_plain, detail_plain), (fuzz_knit, detail_knit) = looks(plain), looks(knit)
    assert fuzz_knit > 1.5 * fuzz_plain
    assert detail_knit > 1.5 * detail_plain
    # The fibres are too thin to count as product: the true mask is still where the matte passes one half.
    assert ((knit.matte >= 0.5) == (knit.truth > 0)).mean() > 0.999


@pytest.mark.shared_data
@pytest.mark.skipif(not CCP.is_dir(), reason="needs ../shared/data/ccp")
def test_ccp_cutouts_are_whole_instances_of_the_training_split():
    cuts = studio.ccp_cutouts(CCP, range(1, 21))
    assert cuts and {c.kind for c in cuts} <= {"person", "top", "outerwear", "bottom", "dress", "footwear", "bag"}
    for c in cuts:
        assert c.rgb.shape[:2] == c.mask.shape and c.mask.any()
        assert c.mask[0].any() and c.mask[:, 0].any()  # cropped to the instance
    photo = studio.render(cuts, 3, layout="set", size=600)
    assert photo.truth.max() == len(photo.kinds) >= 2
