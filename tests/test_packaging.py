"""What the base install brings, and what asks for an extra."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from napari_boostseg import __version__
from napari_boostseg.cli import main

from _shoot import make_shoot

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_the_base_install_needs_no_napari_qt_or_dask():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    base = " ".join(project["dependencies"]).lower()
    for name in ("napari", "qt", "magicgui", "dask", "distributed", "imageio"):
        assert name not in base, name
    assert "tensorflow>=" in base and "tf-keras>=" in base and "==" not in base
    extras = project["optional-dependencies"]
    assert {"napari", "dask", "all", "testing"} <= set(extras)
    assert "version" in project["dynamic"]


def test_importing_the_package_loads_nothing_heavy():
    done = _run(
        "import sys, napari_boostseg\n"
        "print(sorted(m for m in ('scipy', 'numba', 'skimage', 'tensorflow', 'napari') if m in sys.modules))\n"
        "print(napari_boostseg.__version__)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", __version__]


def test_the_public_names_are_loaded_on_first_use():
    done = _run(
        "import napari_boostseg.refine\n"  # importing the submodule keeps the function
        "from napari_boostseg import refine, RefineParams, make_markers, ObjectReport\n"
        "import inspect\n"
        "print(inspect.isfunction(refine), RefineParams().band, make_markers.__module__, ObjectReport.__name__)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1.0", "napari_boostseg.markers", "ObjectReport"]


def test_workers_without_dask_name_the_extra_before_any_work(tmp_path, capsys, monkeypatch):
    shoot = make_shoot(tmp_path / "shoot", samples=0)
    monkeypatch.setitem(sys.modules, "distributed", None)
    out = tmp_path / "out"
    argv = ["segment", str(shoot["images"]), "--masks", str(shoot["masks"]), "--out", str(out), "--workers", "2"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "pip install 'napari-boostseg[dask]'" in err
    assert not out.exists()


def test_the_napari_widgets_without_napari_name_the_extra():
    done = _run("import sys\nsys.modules['magicgui'] = None\nimport napari_boostseg._napari._widgets\n")
    assert done.returncode != 0
    assert "pip install 'napari-boostseg[napari]'" in done.stderr


@pytest.mark.parametrize("module", ["napari_boostseg._napari._detector", "napari_boostseg._napari._trainer"])
def test_the_child_processes_do_not_load_napari(module):
    done = _run(f"import sys, {module}\nprint('napari' in sys.modules, 'qtpy' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_pytest_hides_the_pydantic_deprecations_of_napari_s_plugin_engine(tmp_path):
    pytest.importorskip("npe2")
    (tmp_path / "test_engine.py").write_text(
        "def test_import():\n    import npe2.manifest.schema  # noqa: F401\n    import napari_boostseg\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(PYPROJECT), str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=PYPROJECT.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "Pydantic" not in done.stdout + done.stderr and "warning" not in done.stdout
