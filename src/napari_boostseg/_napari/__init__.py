"""napari contributions: widgets, sample data and a labels writer.

Nothing here is imported when napari starts: the manifest names these
modules, and napari imports one only when its contribution is used.
They need the ``napari`` extra (napari, magicgui, Qt); without it importing
them says so.
"""

from .._extras import require_installed

# Only looked up, not imported: the detection and training child processes
# import modules of this package and must not load napari.
require_installed(("napari", "magicgui", "qtpy"), "napari", "the napari widgets")
