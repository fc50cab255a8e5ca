"""The plugin as napari finds it: a valid manifest, light imports, sample data."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from _viewer_fixtures import needs_display, no_product_model, no_tensorflow_beside_opengl, shown  # noqa: F401


def test_manifest_is_valid_and_every_contribution_imports():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-boostseg")
    manifest.validate_imports()
    contributions = manifest.contributions
    names = {w.display_name for w in contributions.widgets}
    assert names == {"Detect", "Refine", "Export cut-outs", "Shoot review", "Train"}
    assert {s.key for s in contributions.sample_data} == {"sweater", "outfit", "man", "white_top", "street"}
    (writer,) = contributions.writers
    assert writer.layer_types == ["labels"]
    assert set(writer.filename_extensions) == {".png", ".tif", ".tiff"}


def test_plugin_modules_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "import napari_boostseg._napari._widgets, napari_boostseg._napari._writer\n"
        "import napari_boostseg._napari._sample_data, napari_boostseg._napari._detector\n"
        "import napari_boostseg._napari._shoot, napari_boostseg._napari._train\n"
        "import napari_boostseg._napari._trainer\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'tf_keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.gui
@needs_display
def test_sample_data_opens_the_sample_photos(make_napari_viewer):
    from napari.layers import Image

    from napari_boostseg.sample_photos import SAMPLE_PHOTOS, load_sample_photo

    viewer = make_napari_viewer()
    for name in SAMPLE_PHOTOS:
        viewer.open_sample("napari-boostseg", name)
        photo = viewer.layers[-1]
        assert isinstance(photo, Image) and photo.rgb and photo.name == name
        np.testing.assert_array_equal(photo.data, load_sample_photo(name).image)
    assert "street" in SAMPLE_PHOTOS  # the photo for the Mask R-CNN, no backdrop


@pytest.mark.gui
@needs_display
@pytest.mark.parametrize("name", ["Detect", "Refine", "Export cut-outs"])
def test_widgets_open_from_the_plugins_menu(make_napari_viewer, name):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-boostseg", "sweater")
    _dock, widget = viewer.window.add_plugin_dock_widget("napari-boostseg", name)
    assert widget.image.value.name == "sweater"  # the photo is picked already
    viewer.layers["sweater"].name = "shirt"
    assert [layer.name for layer in widget.image.choices] == ["shirt"]


@pytest.mark.gui
@needs_display
def test_napari_starts_without_importing_the_plugin():
    code = (
        "import sys\n"
        "import napari\n"
        "viewer = napari.Viewer(show=False)\n"
        "assert 'BoostSeg' in [m.display_name for m in __import__('npe2').PluginManager.instance().iter_manifests()]\n"
        "loaded = [m for m in sys.modules if m.startswith('napari_boostseg') or m == 'tensorflow']\n"
        "viewer.close()\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
