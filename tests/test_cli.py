"""The ``boostseg`` command line, end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from _shoot import bundled_samples, make_shoot, tree_bytes
from napari_boostseg import io as bio
from napari_boostseg.cli import main

HEAVY = ("tensorflow", "tf_keras", "keras", "napari", "PyQt6", "PyQt5", "qtpy", "PySide6")


def _imported_after(code: str) -> list[str]:
    """Heavy modules imported by ``code`` in a fresh interpreter."""
    probe = (
        f"import sys\n{code}\n"
        "import json\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_help_imports_no_tensorflow_or_qt():
    assert _imported_after("import napari_boostseg") == []
    code = (
        "from napari_boostseg.cli import main\n"
        "for argv in (['--help'], ['segment', '--help'], ['evaluate', '--help'], ['train', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
    )
    assert _imported_after(code) == []


def test_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "napari_boostseg", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    for command in ("segment", "evaluate", "train"):
        assert command in out.stdout


def test_segment_end_to_end(tmp_path, capsys):
    shoot = make_shoot(tmp_path / "shoot", corrupt=True)
    out = tmp_path / "out"
    argv = ["segment", str(shoot["images"]), "--masks", str(shoot["masks"]), "--out", str(out), "--jpeg", "--no-progress"]
    n_good = 3 + len(bundled_samples())

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "FAILED" in err and "bad.jpg" in err
    assert f"{n_good + 1} photos: {n_good} done, 0 skipped (outputs exist), 1 failed" in err
    for kind, suffix in (("labels", "png"), ("cutouts", "png"), ("white", "jpg")):
        files = sorted(p.name for p in (out / kind).iterdir())
        assert len(files) == n_good and all(f.endswith(suffix) for f in files)
    for path in (out / "labels").iterdir():
        labels = bio.read_labels(path)
        cut = bio.read_image(out / "cutouts" / path.name).pixels
        assert labels.max() >= 1
        np.testing.assert_array_equal(cut[..., 3] > 0, labels > 0)
    # Refinement makes the masks better than the coarse ones on these photos.
    from napari_boostseg.evaluate import evaluate_folders

    refined = evaluate_folders(out, shoot["truth"]).summary
    coarse = evaluate_folders(shoot["masks"], shoot["truth"]).summary
    assert refined["mba_mean"] > coarse["mba_mean"]

    before = tree_bytes(out)
    assert main(argv) == 1  # bad.jpg still fails
    err = capsys.readouterr().err
    assert f"0 done, {n_good} skipped" in err
    assert tree_bytes(out) == before

    (out / "labels" / "a.png").write_bytes(b"stale")
    good = [a for a in argv if a != str(shoot["images"])] + [str(shoot["images"] / "a.jpg")]
    assert main(good) == 0
    assert (out / "labels" / "a.png").read_bytes() == b"stale"
    assert main(good + ["--overwrite"]) == 0
    assert (out / "labels" / "a.png").read_bytes() == before["labels/a.png"]


def test_segment_usage_errors(tmp_path, capsys, monkeypatch):
    from napari_boostseg import batch

    shoot = make_shoot(tmp_path / "shoot", samples=0)
    # An installation without the bundled model needs weights for the model source.
    monkeypatch.setattr(batch, "bundled_weights", lambda: None)
    assert main(["segment", str(shoot["images"]), "--coarse", "model", "--out", str(tmp_path / "o")]) == 2
    assert "--weights" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["segment", str(tmp_path / "none*.jpg"), "--masks", str(shoot["masks"]), "--out", str(tmp_path / "o")]) == 2
    assert "no photos found" in capsys.readouterr().err
    assert main(["segment", str(shoot["images"]), "--masks", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert main(
        ["segment", str(shoot["images"]), "--masks", str(shoot["masks"]), "--out", str(tmp_path / "o"), "--band", "-1"]
    ) == 2
    assert "band" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["segment", str(shoot["images"]), "--out", "o", "--workers", "0"])


def test_evaluate_command(tmp_path, capsys):
    gt = np.zeros((6, 6), np.uint8)
    gt[1:4, 1:4] = 255
    pred = np.zeros((6, 6), np.uint8)
    pred[1:3, 1:3] = 1
    bio.write_labels(tmp_path / "gt" / "x.png", gt)
    bio.write_labels(tmp_path / "pred" / "x.png", pred)
    table, plot = tmp_path / "t.csv", tmp_path / "p.png"
    rc = main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--csv", str(table), "--plot", str(plot), "--json"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["iou_mean"] == pytest.approx(4 / 9)
    assert summary["mba_mean"] == pytest.approx(0.75)
    assert table.read_text().splitlines()[1].startswith("x,6,6,0.444444,0.750000,")
    assert plot.is_file()
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--csv", str(table)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_train_is_wired(tmp_path, capsys):
    # Checks happen before TensorFlow is imported, so this stays fast.
    assert main(["train", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "o"), "--init-weights", "x.h5"]) == 2
    assert "--init-weights" in capsys.readouterr().err


def _check_demo_outputs(out, names):
    from napari_boostseg import io as bio

    for name in names:
        coarse = bio.read_labels(out / f"{name}_coarse.png")
        labels = bio.read_labels(out / f"{name}_labels.png")
        photo = bio.read_image(out / f"{name}.png").pixels
        assert labels.shape == coarse.shape == photo.shape[:2]
        ids = [k for k in np.unique(labels) if k]
        assert ids and set(ids) <= set(np.unique(coarse))  # refinement keeps the coarse ids
        for k in ids:
            cut = bio.read_image(out / f"{name}_cutout_{k}.png").pixels
            assert cut.shape == photo.shape[:2] + (4,)
            np.testing.assert_array_equal(cut[..., 3] > 0, labels == k)
            np.testing.assert_array_equal(cut[..., :3][labels == k], photo[labels == k])


def test_demo_cuts_out_every_studio_product_without_a_model(tmp_path, capsys):
    from napari_boostseg import io as bio
    from napari_boostseg.metrics import match_instances
    from napari_boostseg.sample_photos import sample_photos

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-model"]) == 0
    printed = capsys.readouterr().out
    assert str(out.resolve()) in printed
    assert "astronaut: no plain backdrop" in printed and "skipped" in printed
    _check_demo_outputs(out, [s.name for s in sample_photos()])
    for sample in sample_photos():
        n = int(sample.truth.max())
        assert f"{sample.name}: backdrop: {n} product(s)" in printed
        assert f"{n}/{n} products found" in printed
        # One cut-out per product, each the whole product.
        labels = bio.read_labels(out / f"{sample.name}_labels.png")
        assert int(labels.max()) == n
        assert min(score for score, _ in match_instances(labels, sample.truth)) > 0.9
    before = (out / "sweater_labels.png").stat().st_mtime_ns
    assert main(["demo", "--out", str(out), "--no-model"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "sweater_labels.png").stat().st_mtime_ns == before
    assert main(["demo", "--out", str(out), "--no-model", "--overwrite"]) == 0
    assert main(["demo", "--out", str(tmp_path / "d2"), "--weights", str(tmp_path / "none.h5")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "d2").exists()


@pytest.mark.slow
def test_demo_runs_the_bundled_model_end_to_end(tmp_path, capsys):
    from napari_boostseg.models import default_weights

    if default_weights() is None:
        pytest.skip("this checkout has no bundled model")
    pytest.importorskip("tensorflow")
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    # The astronaut photo has no backdrop: the model finds the person.
    assert "astronaut: model: person" in printed and "no plain backdrop" in printed
    detected = [line.split(":")[0] for line in printed.splitlines() if ": backdrop: " in line or ": model: " in line]
    assert "astronaut" in detected and "sweater" in detected
    _check_demo_outputs(out, detected)


def test_segment_classes_are_checked_before_any_work(tmp_path, capsys):
    from napari_boostseg.mrcnn.config import MaskRCNNConfig

    weights = tmp_path / "m.h5"
    weights.write_bytes(b"")
    MaskRCNNConfig(class_names=("BG", "person", "top")).to_json(tmp_path / "m.json")
    photo = tmp_path / "p.png"
    photo.write_bytes(b"")
    out = tmp_path / "out"
    args = ["segment", str(photo), "--out", str(out), "--weights", str(weights)]
    assert main(args + ["--classes", "top,hat"]) == 2
    err = capsys.readouterr().err
    assert "unknown class hat" in err and "person, top" in err
    assert main(args + ["--classes", " , "]) == 2
    assert "no class named" in capsys.readouterr().err
    assert main(["segment", str(photo), "--out", str(out), "--masks", str(tmp_path), "--classes", "top"]) == 2
    assert "--classes needs Mask R-CNN" in capsys.readouterr().err
    assert not out.exists()
