"""Fixtures and marks shared by the napari tests (imported by each test module).

``make_napari_viewer`` comes from napari's pytest plugin, which napari
registers itself. The viewer tests need a display: run them under Xvfb, e.g.
``xvfb-run -a pytest tests/napari``; without one they are skipped.

(Not a ``conftest.py``: other test modules import ``conftest`` by name.)
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")


def _have_display() -> bool:
    if not sys.platform.startswith("linux"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


#: For tests that open a viewer: skipped, rather than crash Qt, without a display.
needs_display = pytest.mark.skipif(
    not _have_display(), reason="needs a display; run under Xvfb: xvfb-run -a pytest tests/napari"
)


@pytest.fixture(autouse=True)
def no_tensorflow_beside_opengl(request):
    """Skip viewer tests in a test process that has loaded TensorFlow.

    TensorFlow's bundled LLVM clashes with the LLVM of Mesa's OpenGL drivers
    (as used under Xvfb): a process holding both crashes. The plugin never
    loads TensorFlow into napari; other test folders may, so run this folder
    in its own pytest process when they do.
    """
    if "gui" in request.keywords and "tensorflow" in sys.modules:
        pytest.skip("TensorFlow is loaded in this test process; run tests/napari on its own")


@pytest.fixture(autouse=True)
def no_product_model(request, monkeypatch):
    """Touching products split by colour, as on an installation without the product model.

    The split runs the product model in the detection process (seconds to
    start); the tests marked ``product_model`` use it, the others are spared.
    """
    if "product_model" not in request.keywords:
        from napari_boostseg import models

        monkeypatch.setattr(models, "product_weights", lambda: None)


@pytest.fixture
def shown(monkeypatch):
    """Messages the widgets show as napari notifications, by kind."""
    from napari_boostseg._napari import _widgets

    shown: dict[str, list[str]] = {"error": [], "warning": [], "info": []}
    for kind in shown:
        monkeypatch.setattr(_widgets, f"show_{kind}", shown[kind].append)
    return shown


@pytest.fixture
def leaky_dress():
    """The dress sample with a leak: a backdrop patch beside the dress that looks like it.

    Returns ``(photo, coarse, truth, patch, stroke)``: the coarse mask is the
    true one (as a careful hand would paint it); ``patch`` is the backdrop
    area made to continue the dress's fabric, so the watershed floods it as
    dress; ``stroke`` is a vertical line of (row, col) points through it.
    """
    from samples import load_sample

    sample = load_sample("dress")
    photo = sample.image.copy()
    truth = sample.truth
    rows = np.flatnonzero((truth == 1).any(axis=1))
    y = int(np.median(rows))
    x = int(np.flatnonzero(truth[y] == 1)[0])  # the dress's left outline on row y
    half_h, width = 30, 24
    for dx in range(1, width + 1):  # mirror the fabric across the outline
        photo[y - half_h : y + half_h, x - dx] = photo[y - half_h : y + half_h, x + dx - 1]
    patch = np.zeros(truth.shape, bool)
    patch[y - half_h : y + half_h, x - width : x] = True
    patch &= truth == 0
    stroke = [(r, x - width // 2) for r in range(y - half_h + 5, y + half_h - 5)]
    return photo, truth.copy(), truth, patch, stroke


def add_drawn_sample(viewer, name: str) -> None:
    """Add a drawn sample of ``benchmarks/samples.py`` as two layers: photo and coarse mask."""
    from samples import load_sample

    sample = load_sample(name)
    viewer.add_image(sample.image, name=name)
    viewer.add_labels(sample.coarse.copy(), name=f"{name} coarse", opacity=0.4)
