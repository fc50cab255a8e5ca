"""The street photo generator: one CCP photo's person in another's street, with its true mask."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi

from napari_boostseg.synthetic.street import street_photo

RED, GREEN = (200, 30, 30), (30, 160, 40)


def _ccp(folder, stem: str, shape, person: tuple[slice, slice], colour) -> None:
    """A CCP-like photo: a smooth street (blue-grey ramp) and a person of one colour."""
    h, w = shape
    ramp = np.linspace(60, 180, w, dtype=np.float32)[None, :, None]
    image = np.broadcast_to(ramp * np.array([0.8, 0.9, 1.0]), (h, w, 3)).astype(np.uint8).copy()
    mask = np.zeros(shape, np.uint8)
    mask[person] = 255
    image[person] = colour
    (folder / "images").mkdir(exist_ok=True)
    (folder / "masks_person").mkdir(exist_ok=True)
    Image.fromarray(image).save(folder / "images" / f"{stem}.jpg", quality=98)
    Image.fromarray(mask).save(folder / "masks_person" / f"{stem}.png")


@pytest.fixture
def ccp(tmp_path):
    _ccp(tmp_path, "0001", (200, 120), (slice(40, 180), slice(30, 70)), RED)  # the scene's person: left
    _ccp(tmp_path, "0002", (204, 120), (slice(30, 170), slice(55, 85)), GREEN)  # the new person
    return tmp_path


def test_the_new_person_stands_where_the_old_one_stood_and_the_old_one_is_gone(ccp):
    photo = street_photo(ccp, scene=1, person=2, scale=2.0)
    assert photo.image.shape == (400, 240, 3) and photo.image.dtype == np.uint8
    assert photo.truth.shape == (400, 240) and set(np.unique(photo.truth)) == {0, 1}
    # The true mask is the new person's (30x140 enlarged twice), centred on the old one's centre.
    assert abs(int(photo.truth.sum()) - 60 * 280) < 0.03 * 60 * 280
    centre = np.array(ndi.center_of_mass(photo.truth))
    np.testing.assert_allclose(centre, (110 * 2, 50 * 2), atol=3)
    # Its pixels are the new person's; the old person's red is painted out everywhere.
    rgb = photo.image.astype(int)
    inside = ndi.binary_erosion(photo.truth, iterations=3)
    assert np.abs(rgb[inside] - GREEN).max() < 20  # JPEG and Lanczos ringing
    reddish = (rgb[..., 0] > 150) & (rgb[..., 1] < 80)
    assert not reddish.any()
    # Far from both people the street is the scene's, enlarged.
    far = np.zeros((400, 240), bool)
    far[:, 190:] = True
    scene = np.asarray(Image.open(ccp / "images" / "0001.jpg").resize((240, 400), Image.LANCZOS), dtype=int)
    assert np.abs(rgb[far] - scene[far]).max() < 6
    # The edge is blended, not cut: pixels on the outline lie between person and street.
    edge = photo.truth.astype(bool) & ~ndi.binary_erosion(photo.truth)
    assert np.mean(np.abs(rgb[edge] - GREEN).max(axis=1) > 20) > 0.3


def test_same_photos_same_result_and_bad_ids_say_so(ccp):
    a, b = street_photo(ccp, 1, 2), street_photo(ccp, 1, 2)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.truth, b.truth)
    with pytest.raises(FileNotFoundError):
        street_photo(ccp, 1, 3)
