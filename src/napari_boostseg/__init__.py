"""napari-boostseg: pixel-accurate product cut-outs.

A coarse mask (from Mask R-CNN, or painted by hand) is refined to the photo's
edges by a marker-controlled watershed at full resolution. The core works on
NumPy arrays and imports neither napari, Qt nor TensorFlow::

    from napari_boostseg import refine
    labels = refine(image, coarse)

The names below are loaded on first use, so ``import napari_boostseg`` (and
the command line's ``--help``) does not pay for SciPy and Numba.
"""

import importlib
import sys
import types

#: The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "refine": "refine",
    "refine_with_report": "refine",
    "reflood": "refine",
    "ObjectReport": "safety",
    "Refinement": "refine",
    "RefineParams": "params",
    "make_markers": "markers",
    "UNDECIDED": "markers",
    "BACKGROUND": "markers",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """Keeps the function ``refine`` when the submodule of that name is imported.

    Importing ``napari_boostseg.refine`` sets the package's attribute
    ``refine`` to the submodule; the public name is the function.
    """

    def __setattr__(self, name: str, value) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
