"""Soft edges: alpha and rim colours along a hard outline (matting.edge_matte)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_boostseg.matting import EDGE_WIDTH, edge_matte


def _disk_photo(product, paper, size=120, radius=40.3, noise=1.5, seed=0):
    """A disk rendered at 8x and averaged down: its true alpha, photo and hard mask."""
    fine = 8
    yy, xx = (np.mgrid[0 : size * fine, 0 : size * fine] + 0.5) / fine
    cover = ((yy - size / 2 - 0.3) ** 2 + (xx - size / 2 + 0.2) ** 2 < radius**2).astype(np.float32)
    alpha = cover.reshape(size, fine, size, fine).mean(axis=(1, 3))
    colour = alpha[..., None] * np.asarray(product, np.float32) + (1 - alpha[..., None]) * np.asarray(
        paper, np.float32
    )
    colour += np.random.default_rng(seed).normal(0, noise, colour.shape)
    return alpha, np.clip(colour + 0.5, 0, 255).astype(np.uint8), alpha >= 0.5


def test_alpha_follows_the_true_coverage_and_the_rim_loses_its_halo():
    truth, photo, mask = _disk_photo((30, 60, 150), (250, 250, 250))
    alpha, rgb = edge_matte(photo, mask)
    rim = (truth > 0.02) & (truth < 0.98)
    hard_error = np.abs(mask - truth)[rim].mean()
    soft_error = np.abs(alpha - truth)[rim].mean()
    assert soft_error < 0.3 * hard_error
    # On a black page, the perfect cut-out shows truth * product; the hard one
    # carries the white paper's share of its rim pixels (a light halo).
    product = np.array([30, 60, 150], np.float32)
    ideal = truth[..., None] * product
    hard_on_black = mask[..., None] * photo.astype(np.float32)
    soft_on_black = alpha[..., None] * rgb.astype(np.float32)
    halo_hard = np.abs(hard_on_black - ideal)[rim].mean()
    halo_soft = np.abs(soft_on_black - ideal)[rim].mean()
    assert halo_soft < 0.3 * halo_hard
    # Nothing changes further from the outline than the band.
    far = ~ndi.binary_dilation(mask, iterations=EDGE_WIDTH) | ndi.binary_erosion(mask, iterations=EDGE_WIDTH)
    np.testing.assert_array_equal(alpha[far], mask[far].astype(np.float32))
    np.testing.assert_array_equal(rgb[far], photo[far])


def test_textures_and_white_on_white_keep_the_outline():
    # Where colour cannot tell product from paper (a busy pattern on both
    # sides, or white on white), the outline is only anti-aliased: no pixel
    # crosses one half against the hard mask, so no hole and no blob appears.
    rng = np.random.default_rng(3)
    _, _, mask = _disk_photo((0, 0, 0), (0, 0, 0))
    busy = rng.integers(0, 256, mask.shape + (3,), dtype=np.uint8)
    _, white, _ = _disk_photo((246, 246, 244), (250, 250, 250), noise=1.0)
    for photo in (busy, white):
        alpha, _ = edge_matte(photo, mask)
        np.testing.assert_array_equal(alpha >= 0.5, mask)
        assert 0 < alpha[mask & ~ndi.binary_erosion(mask)].min() < 1


def test_the_frame_is_no_outline():
    photo = np.full((40, 40, 3), 240, np.uint8)
    photo[:, :20] = 40
    mask = np.zeros((40, 40), bool)
    mask[:, :20] = True  # touches the top, left and bottom of the frame
    alpha, _ = edge_matte(photo, mask)
    assert (alpha[:, :18] == 1).all() and (alpha[:, 22:] == 0).all()


def test_uint16_width_zero_and_bad_input():
    truth, photo, mask = _disk_photo((200, 40, 40), (20, 20, 20), size=60, radius=20.3)
    alpha8, _ = edge_matte(photo, mask)
    alpha16, rgb16 = edge_matte(photo.astype(np.uint16) * 257, mask)
    assert rgb16.dtype == np.uint16
    np.testing.assert_allclose(alpha16, alpha8, atol=1e-3)
    hard, same = edge_matte(photo, mask, width=0)
    np.testing.assert_array_equal(hard, mask.astype(np.float32))
    np.testing.assert_array_equal(same, photo)
    empty, _ = edge_matte(photo, np.zeros_like(mask))
    assert not empty.any()
    with pytest.raises(ValueError, match="colour image"):
        edge_matte(photo[..., 0], mask)
    with pytest.raises(ValueError, match="uint8 or uint16"):
        edge_matte(photo.astype(np.float32), mask)
    with pytest.raises(ValueError, match="differ in size"):
        edge_matte(photo, mask[1:])
    with pytest.raises(ValueError, match="differ in size"):
        edge_matte(photo, mask, others=mask[1:])
    with pytest.raises(ValueError, match="width"):
        edge_matte(photo, mask, width=-1)
