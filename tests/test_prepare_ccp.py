"""scripts/prepare_ccp.py: the public CCP layout turned into the one the benchmarks read."""

from pathlib import Path

import numpy as np
import pytest
from _scripts import load_script
from PIL import Image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ccp"
NAMES = ["null", "accessories", "bag", "hair", "jeans", "skin", "top"]


@pytest.fixture(scope="module")
def script():
    return load_script("prepare_ccp")


def _dataset(root: Path, sizes=((40, 30), (36, 24))) -> list[np.ndarray]:
    """A small copy of the public layout: photos, pixel-level .mat files, label_list.mat."""
    from scipy.io import savemat

    (root / "photos").mkdir(parents=True)
    (root / "annotations" / "pixel-level").mkdir(parents=True)
    cells = np.empty((1, len(NAMES)), dtype=object)
    cells[0, :] = NAMES
    savemat(root / "label_list.mat", {"label_list": cells})
    rng = np.random.default_rng(0)
    truths = []
    for i, (h, w) in enumerate(sizes, start=1):
        truth = rng.integers(0, len(NAMES), (h, w)).astype(np.uint8)
        savemat(root / "annotations" / "pixel-level" / f"{i:04d}.mat", {"groundtruth": truth})
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(root / "photos" / f"{i:04d}.jpg")
        truths.append(truth)
    return truths


def test_prepare_writes_labels_masks_and_manifest(script, tmp_path):
    truths = _dataset(tmp_path / "ccp-src")
    out = tmp_path / "ccp"
    assert script.main([str(tmp_path / "ccp-src"), "--out", str(out)]) == 0
    for i, truth in enumerate(truths, start=1):
        stem = f"{i:04d}"
        photo = tmp_path / "ccp-src" / "photos" / f"{stem}.jpg"
        assert (out / "images" / f"{stem}.jpg").read_bytes() == photo.read_bytes()
        labels = np.asarray(Image.open(out / "labels" / f"{stem}.png"))
        np.testing.assert_array_equal(labels, truth)
        person = np.asarray(Image.open(out / "masks_person" / f"{stem}.png"))
        clothing = np.asarray(Image.open(out / "masks_clothing" / f"{stem}.png"))
        np.testing.assert_array_equal(person, np.where(truth != 0, 255, 0))
        np.testing.assert_array_equal(clothing, np.where(np.isin(truth, [0, 3, 5]), 0, 255))  # null, hair, skin
    assert (out / "labels.txt").read_text().splitlines() == [f"{i} {n}" for i, n in enumerate(NAMES)]
    rows = (out / "manifest.csv").read_text().splitlines()
    assert rows[0] == "id,width,height,fg_person_frac,fg_clothing_frac"
    assert rows[2].startswith("0002,24,36,")
    assert float(rows[1].split(",")[3]) == pytest.approx((truths[0] != 0).mean(), abs=1e-4)


def test_prepare_refuses_to_replace_and_names_what_is_missing(script, tmp_path):
    _dataset(tmp_path / "src")
    out = tmp_path / "ccp"
    script.prepare(tmp_path / "src", out)
    with pytest.raises(SystemExit, match="--overwrite"):
        script.prepare(tmp_path / "src", out)
    (out / "manifest.csv").unlink()  # a run that stopped part way
    with pytest.raises(SystemExit, match="already exists"):
        script.prepare(tmp_path / "src", out)
    assert script.prepare(tmp_path / "src", out, overwrite=True) == 2
    with pytest.raises(SystemExit, match="Clothing Co-Parsing"):
        script.prepare(tmp_path / "nowhere", tmp_path / "other")


def test_prepare_refuses_an_annotation_of_another_size(script, tmp_path):
    _dataset(tmp_path / "src")
    Image.new("RGB", (10, 10)).save(tmp_path / "src" / "photos" / "0002.jpg")
    with pytest.raises(SystemExit, match="0002.mat is 24x36"):
        script.prepare(tmp_path / "src", tmp_path / "ccp")


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/data/ccp")
def test_the_shared_copy_follows_the_same_rules(script):
    """The benchmarks' copy of CCP has the masks this script derives from its labels."""
    names = [line.split(" ", 1)[1] for line in (SHARED / "labels.txt").read_text().splitlines()]
    for stem in ("0001", "0450", "0900"):
        labels = np.asarray(Image.open(SHARED / "labels" / f"{stem}.png"))
        person, clothing = script.masks(labels, names)
        np.testing.assert_array_equal(person, np.asarray(Image.open(SHARED / "masks_person" / f"{stem}.png")))
        np.testing.assert_array_equal(clothing, np.asarray(Image.open(SHARED / "masks_clothing" / f"{stem}.png")))
