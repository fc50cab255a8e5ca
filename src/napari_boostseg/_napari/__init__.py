"""napari contributions: widgets, sample data and a labels writer.

Nothing here is imported when napari starts: the manifest names these
modules, and napari imports one only when its contribution is used.
"""
