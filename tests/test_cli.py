"""The ``boostseg`` command line, end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
from _photos import assert_cutout_of
from scipy import ndimage as ndi

from napari_boostseg import coarse_masks, cutouts, files
from napari_boostseg._text import counted
from napari_boostseg.cli import main

from _shoot import bundled_samples, make_shoot, tree_bytes

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
    argv = [
        "segment", str(shoot["images"]), "--masks", str(shoot["masks"]), "--out", str(out), "--jpeg", "--no-progress"
    ]
    n_good = 3 + len(bundled_samples())

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "FAILED bad.jpg: " in err
    assert f"{n_good + 1} photos: {n_good} done, 0 skipped (outputs exist), 1 failed" in err
    assert len(list((out / "labels").iterdir())) == n_good
    for path in (out / "labels").iterdir():
        labels = files.read_labels(path)
        assert labels.max() >= 1
        # One cut-out and one JPEG on white per product, cropped to it.
        ids = [int(k) for k in np.unique(labels) if k]
        for kind, suffix in (("cutouts", ".png"), ("white", ".jpg")):
            assert cutouts.cutout_files(out / kind, path.stem, suffix) == [
                out / kind / f"{path.stem}-{k}{suffix}" for k in sorted(ids, key=str)
            ]
        boxes = ndi.find_objects(labels)
        for k in ids:
            window = cutouts.product_window(boxes[k - 1], labels.shape)
            cut = files.read_image(out / "cutouts" / f"{path.stem}-{k}.png").pixels
            assert_cutout_of(cut, labels[window] == k)
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
    argv = ["segment", str(tmp_path / "none*.jpg"), "--masks", str(shoot["masks"]), "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    assert "no photos found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["segment", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    assert "no .bmp, .jpeg, .jpg, .png, .tif, .tiff, .webp file in the folder (--recursive" in capsys.readouterr().err
    assert main(["segment", str(shoot["images"]), "--masks", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert main(
        ["segment", str(shoot["images"]), "--masks", str(shoot["masks"]), "--out", str(tmp_path / "o"), "--band", "-1"]
    ) == 2
    assert "invalid refinement option: --band -1 (must be > 0)" in capsys.readouterr().err  # the option, as typed
    with pytest.raises(SystemExit):
        main(["segment", str(shoot["images"]), "--out", "o", "--workers", "0"])


def test_evaluate_command(tmp_path, capsys):
    gt = np.zeros((6, 6), np.uint8)
    gt[1:4, 1:4] = 255
    pred = np.zeros((6, 6), np.uint8)
    pred[1:3, 1:3] = 1
    files.write_labels(tmp_path / "gt" / "x.png", gt)
    files.write_labels(tmp_path / "pred" / "x.png", pred)
    table, plot = tmp_path / "t.csv", tmp_path / "p.png"
    rc = main(
        ["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--csv", str(table), "--plot", str(plot), "--json"]
    )
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["iou_mean"] == pytest.approx(4 / 9)
    assert summary["mba_mean"] == pytest.approx(0.75)
    assert table.read_text().splitlines()[1].startswith("x,6,6,0.444444,0.750000,")
    assert plot.is_file()
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--csv", str(table)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    # The table on stdout stays one CSV: the summary goes to stderr.
    assert main(["evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"), "--csv", "-", "--json"]) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines()[1:] == table.read_text().splitlines()[1:]
    assert json.loads(printed.err)["iou_mean"] == pytest.approx(4 / 9)


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    # ``boostseg evaluate ... --csv - | head -1``: the pipe closes while rows are still written.
    # More rows than a pipe holds (64 KiB), so the writer is still writing when it closes.
    for k in range(500):
        mask = np.zeros((8, 8), np.uint8)
        mask[1:1 + k % 6, 2:6] = 1
        name = f"{'a-photo-of-a-long-shoot-' * 6}{k:03d}.png"
        files.write_labels(tmp_path / "gt" / name, mask)
        files.write_labels(tmp_path / "pred" / name, mask)
    run = subprocess.Popen(
        [sys.executable, "-m", "napari_boostseg", "evaluate", str(tmp_path / "pred"), str(tmp_path / "gt"),
         "--csv", "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert run.stdout.readline().startswith(b"name,")
    run.stdout.close()
    err = run.stderr.read().decode()
    assert run.wait(timeout=120) == 141 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_train_is_wired(tmp_path, capsys):
    # Checks happen before TensorFlow is imported, so this stays fast.
    assert main(["train", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "o"), "--init-weights", "x.h5"]) == 2
    assert "--init-weights" in capsys.readouterr().err
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "o"), "--from-scratch", "--layers", "heads"]) == 2
    assert "boostseg train: error: --from-scratch trains all layers" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_train_starts_from_the_bundled_model_by_default(tmp_path):
    from napari_boostseg.cli import build_parser, train_setup
    from napari_boostseg.models import default_weights
    from napari_boostseg.mrcnn import MaskRCNNConfig

    parse = build_parser().parse_args
    args = parse(["train", str(tmp_path), "--out", str(tmp_path / "o")])
    assert (args.layers, args.optimizer, args.learning_rate, args.epochs, args.steps_per_epoch) == (
        None, "adam", 1e-4, 3, 20
    )  # no --layers: the heads, or all of them with --from-scratch
    config, weights = train_setup(args)
    assert weights == default_weights()
    assert config == MaskRCNNConfig.from_json(default_weights().with_suffix(".json"))
    assert config.name == "garments"
    config, weights = train_setup(parse(["train", str(tmp_path), "--out", "o", "--from-scratch"]))
    assert weights is None and config == MaskRCNNConfig()
    lonely = tmp_path / "lonely.h5"
    lonely.write_bytes(b"")
    with pytest.raises(ValueError, match="no config beside it"):
        train_setup(parse(["train", str(tmp_path), "--out", "o", "--init-weights", str(lonely)]))


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--learning-rate", "-1"], "must be > 0"),
        (["--layers", "foo"], "heads"),
        (["--from-scratch", "--init-weights", "x.h5"], "not allowed with"),
    ],
)
def test_train_refuses_bad_options_before_any_work(tmp_path, capsys, extra, words):
    with pytest.raises(SystemExit) as stop:
        main(["train", str(tmp_path), "--out", str(tmp_path / "o"), *extra])
    assert stop.value.code == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def _check_demo_outputs(out, names):
    from napari_boostseg import files

    for name in names:
        # In the folders segment writes.
        coarse = files.read_labels(out / "coarse" / f"{name}.png")
        labels = files.read_labels(out / "labels" / f"{name}.png")
        photo = files.read_image(out / "photos" / f"{name}.png").pixels
        assert labels.shape == coarse.shape == photo.shape[:2]
        ids = [k for k in np.unique(labels) if k]
        assert ids and set(ids) <= set(np.unique(coarse))  # refinement keeps the coarse ids
        boxes = ndi.find_objects(labels)
        for k in ids:
            # Named and cropped as segment names and crops them.
            window = cutouts.product_window(boxes[k - 1], labels.shape)
            cut = files.read_image(out / "cutouts" / f"{name}-{k}.png").pixels
            inside = labels[window] == k
            assert_cutout_of(cut, inside)
            core = ndi.binary_erosion(inside, iterations=2)
            np.testing.assert_array_equal(cut[..., :3][core], photo[window][core])


def test_segment_hard_edges(tmp_path, capsys):
    shoot = make_shoot(tmp_path / "shoot", samples=0)
    photo = shoot["images"] / "a.jpg"
    out = tmp_path / "out"
    assert main(["segment", str(photo), "--masks", str(shoot["masks"]), "--out", str(out),
                 "--hard-edges", "--no-progress"]) == 0
    labels = files.read_labels(out / "labels" / "a.png")
    window = cutouts.product_window(ndi.find_objects(labels)[0], labels.shape)
    cut = files.read_image(out / "cutouts" / "a-1.png").pixels
    np.testing.assert_array_equal(cut[..., 3], np.where(labels[window] == 1, 255, 0))


def test_demo_refuses_an_earlier_run_before_any_work(tmp_path, capsys, monkeypatch):
    from napari_boostseg import demo, files

    out = tmp_path / "demo"
    files.write_labels(out / "labels" / "street.png", np.ones((4, 4), np.uint8))

    def no_work(*_args, **_kwargs):
        raise AssertionError("the demo worked on a photo before refusing the earlier run's files")

    monkeypatch.setattr(demo, "_coarse", no_work)
    assert main(["demo", "--out", str(out), "--no-model"]) == 2
    printed = capsys.readouterr()
    assert "street.png exists" in printed.err and "--overwrite" in printed.err
    assert "IoU:" not in printed.out + printed.err  # the refusal comes alone, not after the demo's legend


def test_demo_cuts_out_every_studio_product_without_a_model(tmp_path, capsys):
    from napari_boostseg import files
    from napari_boostseg.metrics import match_instances
    from napari_boostseg.sample_photos import sample_photos

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-model"]) == 0
    printed = capsys.readouterr().out
    assert str(out.resolve()) in printed
    assert "street: no plain backdrop" in printed and "--no-model leaves it out: skipped" in printed
    studio = [s for s in sample_photos() if s.studio]
    _check_demo_outputs(out, [s.name for s in studio])
    total = sum(int(sample.truth.max()) for sample in studio)
    assert f"studio samples: {total}/{total} products found, mean IoU per photo 0.9" in printed
    for sample in studio:
        n = int(sample.truth.max())
        assert f"{sample.name}: backdrop: {counted(n, 'object')} on a " in printed
        assert f"{n}/{n} products found" in printed
        # One cut-out per product, each the whole product.
        labels = files.read_labels(out / "labels" / f"{sample.name}.png")
        assert int(labels.max()) == n
        assert min(score for score, _ in match_instances(labels, sample.truth)) > 0.9
    # An object whose refinement fell back is named by its cut-out, as segment names it.
    look = [line for line in printed.splitlines() if "; look at " in line]
    assert look and all((out / line.split("; look at ")[1].split(" (")[0]).is_file() for line in look)
    before = (out / "labels" / "sweater.png").stat().st_mtime_ns
    assert main(["demo", "--out", str(out), "--no-model"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "labels" / "sweater.png").stat().st_mtime_ns == before
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
    # The street photo has no backdrop: the model finds the woman, one object, whole.
    (street,) = [line for line in printed.splitlines() if line.startswith("street: ")]
    assert street.startswith("street: model: person ") and "no plain backdrop" in street
    assert "1/1 products found" in street
    assert float(street.split("->")[1].split(",")[0]) > 0.8  # refined IoU
    assert "studio samples: 8/8 products found" in printed  # the street photo is not among them
    detected = [line.split(":")[0] for line in printed.splitlines() if ": backdrop: " in line or ": model: " in line]
    assert "street" in detected and "sweater" in detected
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
    assert "no class 'hat'" in err and "person, top" in err
    assert main(args + ["--classes", " , "]) == 2
    assert "no class named" in capsys.readouterr().err
    assert main(["segment", str(photo), "--out", str(out), "--masks", str(tmp_path), "--classes", "top"]) == 2
    assert "--classes needs Mask R-CNN" in capsys.readouterr().err
    assert not out.exists()


def _segment(shoot, out, *extra):
    return ["segment", str(shoot["images"]), "--masks", str(shoot["masks"]), "--out", str(out), "--no-progress", *extra]


def test_output_folder_may_hold_the_photos(tmp_path, capsys, monkeypatch):
    shoot = make_shoot(tmp_path / "shoot", samples=0)
    # --out is the photo folder itself: its photos are segmented, its output
    # sub-folders are never taken for photos.
    argv = _segment(shoot, shoot["images"])
    assert main(argv) == 0
    assert "3 photos: 3 done" in capsys.readouterr().err
    assert sorted(p.name for p in (shoot["images"] / "labels").iterdir()) == ["a.png", "b.png", "c.png"]
    assert main(argv + ["--recursive"]) == 0
    assert "3 photos: 0 done, 3 skipped" in capsys.readouterr().err
    # --out . from the shoot's folder.
    monkeypatch.chdir(tmp_path / "shoot")
    assert main(["segment", "images", "--masks", "masks", "--out", ".", "--no-progress"]) == 0
    assert "3 photos: 3 done" in capsys.readouterr().err
    # A selection that only names outputs is an error, not an empty run.
    assert main(["segment", "labels", "--masks", "masks", "--out", ".", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "no photos left" in err and "output folders" in err


def test_rerun_with_other_options_is_refused_up_front(tmp_path, capsys):
    shoot = make_shoot(tmp_path / "shoot", samples=0)
    out = tmp_path / "out"
    assert main(_segment(shoot, out, "--jpeg")) == 0
    capsys.readouterr()
    before = tree_bytes(out)
    assert main(_segment(shoot, out, "--band", "3")) == 2
    err = capsys.readouterr().err
    assert "a.jpg: its outputs in" in err and "--band (was 1.0, now 3.0)" in err
    assert "The same stops 2 more photos: b.png, c.tif." in err
    assert "--jpeg/--jpeg-quality (was on, quality 95, now off)" in err
    assert tree_bytes(out) == before
    assert main(_segment(shoot, out, "--band", "3", "--overwrite")) == 0
    assert not (out / "white").exists() or not any((out / "white").iterdir())
    assert main(_segment(shoot, out, "--band", "3")) == 0
    assert "0 done, 3 skipped" in capsys.readouterr().err


def test_batch_level_problems_are_found_before_the_first_photo(tmp_path, capsys, monkeypatch):

    shoot = make_shoot(tmp_path / "shoot", samples=0)
    a_file = tmp_path / "out.txt"
    a_file.write_text("")
    assert main(_segment(shoot, a_file)) == 2
    assert "is a file" in capsys.readouterr().err
    if Path("/proc/self").is_dir():  # a folder nobody can create, root included
        assert main(_segment(shoot, Path("/proc/self/boostseg-out"))) == 2
        assert "cannot write to the output folder /proc/self/boostseg-out" in capsys.readouterr().err
    # Weights that do not load are tried once, and no photo is worked on.
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"not HDF5")
    tries = []

    def corrupt(path, config):
        tries.append(path)
        raise ValueError(f"{path} is not a weights file")

    monkeypatch.setattr(coarse_masks, "_DETECTORS", OrderedDict())
    monkeypatch.setattr(coarse_masks, "_build_detector", corrupt)
    argv = ["segment", str(shoot["images"]), "--weights", str(weights), "--out", str(tmp_path / "o"), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no Mask R-CNN config beside it" in err and "--config" in err
    (tmp_path / "w.json").write_text("{}")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cannot use the Mask R-CNN weights" in err and "not a weights file" in err
    assert len(tries) == 1
    assert not any((tmp_path / "o").rglob("*.png"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_output_folder_is_a_usage_error(tmp_path, capsys):
    shoot = make_shoot(tmp_path / "shoot", samples=0)
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert main(_segment(shoot, out)) == 2
        assert "cannot write to the output folder" in capsys.readouterr().err
    finally:
        out.chmod(0o755)


def test_photos_without_objects_are_listed_and_set_the_exit_status(tmp_path, capsys):
    shoot = make_shoot(tmp_path / "shoot", samples=0)
    files.write_labels(shoot["masks"] / "b.png", np.zeros((80, 112), np.uint8), overwrite=True)
    out = tmp_path / "out"
    assert main(_segment(shoot, out)) == 3
    err = capsys.readouterr().err
    assert "3 photos: 3 done, 0 skipped (outputs exist), 0 failed, 1 with no object found" in err
    assert "no object found in 1 photo; it has no cut-out:" in err and str(shoot["images"] / "b.png") in err
    # The rerun says so again: the record keeps the count.
    assert main(_segment(shoot, out)) == 3
    assert "1 with no object found" in capsys.readouterr().err


def test_help_shows_percent_signs_as_text():
    out = subprocess.run(
        [sys.executable, "-m", "napari_boostseg", "segment", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    text = " ".join(out.stdout.split())
    assert "changes of up to 4 % are tried" in text and "option_strings" not in text
    assert "``" not in text and ":func:" not in text and ":mod:" not in text  # plain text, no Sphinx markup
    assert "napari_boostseg." not in text  # no pointers into the Python code
    assert "--hard-edges cut-outs take the label image's hard 0/1 alpha" in text
    # Refinement values are named by their unit, not by their own name in capitals.
    assert "--band CELLS" in text and "--edge-sigma PX" in text and "--prior X" in text and "BAND" not in text
    # Another setting named in a help text is spelt as its option, never cut at a hyphen, and every
    # help starts with a capital.
    assert "under --keep-edge)" in text and "keep_edge" not in text and "moved_band" not in text
    assert "--moved- " not in out.stdout and "--moved-\n" not in out.stdout
    assert "--moved-prior X Prior for objects" in text and "RefineParams" not in text


@pytest.mark.slow
def test_tensorflow_start_up_is_quiet_unless_verbose():
    pytest.importorskip("tensorflow")
    # A child process, as a Dask worker is, imports quietly too.
    code = (
        "from napari_boostseg.cli import _quiet_tensorflow\n"
        "import subprocess, sys\n"
        "_quiet_tensorflow(verbose=sys.argv[1] == 'v')\n"
        "import tensorflow as tf\n"
        "print(float(tf.reduce_sum(tf.ones(3))))\n"
        "child = 'from napari_boostseg._tensorflow import import_tensorflow as i; i(); "
        "import tensorflow as tf; print(float(tf.reduce_sum(tf.ones(2))))'\n"
        "subprocess.run([sys.executable, '-c', child], check=True)\n"
    )
    # A user's environment: no level, and not the mark this process's own quiet
    # import of TensorFlow (an earlier test's) leaves for its children.
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "BOOSTSEG_QUIET_TENSORFLOW")}

    def run(*args):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, env=env)
        assert done.returncode == 0 and done.stdout.split() == ["3.0", "2.0"], done.stderr
        # TensorFlow's C++ log lines ("I0000 00:00:...", "E0000 ..."), absl's notice
        # before its log is set up, and any line naming a TensorFlow source file.
        chatter = re.compile(r"^[IWEF]\d{4} |^WARNING: All log messages|tensorflow/|cuda", re.I)
        return [line for line in done.stderr.splitlines() if chatter.search(line)]

    assert run("q") == []
    # --verbose shows the messages.
    assert run("v")
    # A level the user set is kept, in this process and in children. (Whether
    # TensorFlow prints anything at that level is TensorFlow's business: at
    # level 0 it does not always.)
    keep = (
        "import os, subprocess, sys\n"
        "from napari_boostseg._tensorflow import import_tensorflow\n"
        "import_tensorflow()\n"
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])\n"
        "subprocess.run([sys.executable, '-c', 'import os; print(os.environ[\"TF_CPP_MIN_LOG_LEVEL\"])'], check=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", keep], capture_output=True, text=True, timeout=300,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "1"},
    )
    assert done.returncode == 0 and done.stdout.split() == ["1", "1"], done.stderr


def test_evaluate_names_what_it_did_not_score(tmp_path, capsys):
    square = np.zeros((6, 6), np.uint8)
    square[1:4, 1:4] = 1
    for name in ("x", "y"):
        files.write_labels(tmp_path / "gt" / f"{name}.png", square)
    files.write_labels(tmp_path / "pred" / "x.png", square)
    files.write_labels(tmp_path / "pred" / "stray.png", square)
    pred, gt = str(tmp_path / "pred"), str(tmp_path / "gt")
    assert main(["evaluate", pred, gt]) == 0
    captured = capsys.readouterr()
    assert "1 prediction without ground truth" in captured.err and "stray" in captured.err
    assert "1 ground truth without prediction in " in captured.err and "scored as empty (IoU 0): y" in captured.err
    assert "missing predictions 1 (scored as empty)" in captured.out
    assert "without truth       1 prediction (not scored)" in captured.out
    assert "IoU mean            0.5000" in captured.out
    # Only the predicted photos, with a count of those left out.
    assert main(["evaluate", pred, gt, "--only-predicted", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 1 and summary["skipped_without_prediction"] == 1 and summary["iou_mean"] == 1.0
    # Every prediction missing: the folders do not belong together.
    files.write_labels(tmp_path / "other" / "z.png", square)
    assert main(["evaluate", str(tmp_path / "other"), gt]) == 2
    assert "none of the 2 ground truths" in capsys.readouterr().err
    # A folder given for --csv is a clear error, with or without --overwrite.
    (tmp_path / "tables").mkdir()
    assert main(["evaluate", pred, gt, "--csv", str(tmp_path / "tables"), "--overwrite"]) == 2
    assert "is a folder" in capsys.readouterr().err
    # A segment output folder given second: the folders were swapped.
    segmented = tmp_path / "out"
    files.write_labels(segmented / "labels" / "x.png", square)
    (segmented / "manifests").mkdir()
    assert main(["evaluate", gt, str(segmented)]) == 2
    assert "it is the output folder of 'boostseg segment': give it first" in capsys.readouterr().err


def test_segment_says_what_is_wrong_with_its_mask_options(tmp_path, capsys):
    from napari_boostseg import files

    shoot, masks = tmp_path / "shoot", tmp_path / "masks"
    shoot.mkdir()
    masks.mkdir()
    files.write_image(shoot / "wide.png", np.full((60, 120, 3), 200, np.uint8))
    out = tmp_path / "out"
    assert main(["segment", str(shoot), "--masks", str(masks), "--coarse", "backdrop", "--out", str(out)]) == 2
    assert "--coarse backdrop chooses them only without --masks" in capsys.readouterr().err
    a_file = tmp_path / "masks.txt"
    a_file.write_text("not a folder")
    assert main(["segment", str(shoot), "--masks", str(a_file), "--out", str(out)]) == 2
    assert "is a file; give the folder of mask files" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["segment", str(shoot), "--out", str(out), "--jpeg", "--jpeg-quality", "100"])
    assert stop.value.code == 2 and "must be 1-95" in capsys.readouterr().err
    assert not out.exists()
    # A mask of another aspect ratio: the photo's line says so in words, without an exception's name.
    mask = np.zeros((100, 100), np.uint8)
    mask[20:80, 20:80] = 1
    files.write_labels(masks / "wide.png", mask)
    assert main(["segment", str(shoot), "--masks", str(masks), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "mask of 100x100 px does not fit the photo of 120x60 px" in err
    assert "ValueError" not in err
    # A file that is no photo, without a mask: what is wrong with the file is said, not the mask.
    (shoot / "empty.jpg").write_bytes(b"")
    assert main(["segment", str(shoot), "--masks", str(masks), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "FAILED empty.jpg: cannot read" in err and "the file is empty" in err and "no coarse mask" not in err
    (shoot / "empty.jpg").unlink()
    # A mask at half the photo's size is scaled to it, and the photo's line says so.
    files.write_labels(masks / "wide.png", mask[20:50, :60], overwrite=True)
    assert main(["segment", str(shoot), "--masks", str(masks), "--out", str(out), "--no-progress"]) == 0
    assert "mask file wide.png (60x30 px, scaled to the photo)" in capsys.readouterr().err


def test_a_bare_command_shows_what_it_can_do(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "usage: boostseg" in err and "segment" in err and "train" in err


def test_the_summary_names_its_sources_and_where_the_outputs_are_on_a_rerun(tmp_path, capsys):
    from napari_boostseg import files

    shoot, masks, out = tmp_path / "shoot", tmp_path / "masks", tmp_path / "out"
    shoot.mkdir()
    photo = np.full((60, 80, 3), 220, np.uint8)
    photo[20:40, 20:60] = (40, 60, 120)
    files.write_image(shoot / "p.png", photo)
    mask = np.zeros((60, 80), np.uint8)
    mask[18:42, 18:62] = 1
    files.write_labels(masks / "p.png", mask)
    argv = ["segment", str(shoot), "--masks", str(masks), "--out", str(out), "--no-progress"]
    files.write_labels(masks / "p_typo.png", mask)
    files.write_image(shoot / "q.png", photo)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "coarse masks from mask files 1" in err
    # Named before the first photo's line: the photo without a mask and the mask without a photo.
    before = err.split("p.png: 1 object")[0]
    assert f"1 photo has no mask file in {masks} (q.png) and will fail" in before
    assert f"1 mask file in {masks} matches no photo (p_typo.png)" in before
    (shoot / "q.png").unlink()
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "1 skipped" in err and f"outputs in {out.resolve()}" in err


def test_a_wrong_option_is_one_line_that_says_where_the_options_are(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["segment", "shoot", "--out", "out", "--coarse", "foo"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "boostseg segment: error: argument --coarse: invalid choice: 'foo' (choose from 'auto', 'backdrop', "
        "'model') (see 'boostseg segment --help')"
    ]


def test_train_writes_one_line_per_epoch_to_a_log_file(tmp_path, capsys, monkeypatch):
    # stderr is not a terminal here (a log file): no bar, one line per epoch.
    from napari_boostseg import mrcnn
    from napari_boostseg.mrcnn.training import TrainProgress

    seen = {}

    def fake_train(config, data, out, **kwargs):
        seen.update(kwargs)
        for epoch in (1, 2):
            kwargs["progress"](TrainProgress(
                phase="epoch", epoch=epoch, epochs=2, step=20, steps=20,
                losses={"loss": 1.0 / epoch, "val_loss": 2.0 / epoch}, learning_rate=1e-4,
            ))
        return type("Result", (), {"log_dir": out / "run", "checkpoints": []})()

    monkeypatch.setattr(mrcnn, "train", fake_train)
    assert main(["train", str(tmp_path), "--out", str(tmp_path / "runs"), "--epochs", "2"]) == 0
    err = capsys.readouterr().err
    assert "epoch 1/2: loss 1.000, validation loss 2.000" in err and "epoch 2/2: loss 0.500" in err
    assert seen["verbose"] is False and seen["layers"] == "heads" and seen["optimizer"] == "adam"


def test_jpeg_quality_alone_asks_for_the_cutouts_on_white(tmp_path, capsys):
    from napari_boostseg import files

    shoot, masks, out = tmp_path / "shoot", tmp_path / "masks", tmp_path / "out"
    image = np.full((60, 120, 3), 200, np.uint8)
    image[20:40, 30:90] = 40
    files.write_image(shoot / "p.png", image)
    mask = np.zeros((60, 120), np.uint8)
    mask[18:42, 28:92] = 1
    files.write_labels(masks / "p.png", mask)
    (shoot / "p.CR2").write_bytes(b"raw")
    argv = ["segment", str(shoot), "--masks", str(masks), "--out", str(out), "--no-progress"]
    assert main([*argv, "--jpeg-quality", "80"]) == 0
    assert "left out 1 file of a kind not read here (.cr2 1): JPEG, PNG" in capsys.readouterr().err
    assert (out / "white" / "p-1.jpg").is_file()
    assert json.loads((out / "manifests" / "p.json").read_text())["recipe"]["outputs"]["jpeg"] == 80
