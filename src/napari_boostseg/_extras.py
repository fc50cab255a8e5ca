"""Optional dependencies: a clear message naming the extra that brings each.

napari (with Qt) and Dask come with the package's extras (``napari``,
``dask``, ``all``); the base install cuts out photos from Python and the
command line without them.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["MissingExtra", "require", "require_installed"]


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message says which extra brings it."""


def require(module: str, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or say which extra of napari-boostseg installs it.

    Parameters
    ----------
    module : str
        Module to import, e.g. ``"distributed"``.
    extra : str
        The extra that brings it: ``"napari"`` or ``"dask"``.
    purpose : str
        What needs it, for the message (``"--workers and --scheduler"``).

    Returns
    -------
    module

    Raises
    ------
    MissingExtra
        If the module cannot be imported.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(_message(module, extra, purpose)) from exc


def require_installed(modules: tuple[str, ...], extra: str, purpose: str) -> None:
    """Like :func:`require` for several modules, without importing them."""
    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise MissingExtra(_message(module, extra, purpose))


def _message(module: str, extra: str, purpose: str) -> str:
    return (
        f"{module} is not installed, and {purpose} cannot work without it; install the "
        f"{extra!r} extra: pip install 'napari-boostseg[{extra}]' (or [all])"
    )
