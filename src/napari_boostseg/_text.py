"""Wording shared by the messages of the command line and the napari widgets."""

from __future__ import annotations

__all__ = ["counted"]


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1.

    Examples
    --------
    >>> counted(1, "product"), counted(3, "region")
    ('1 product', '3 regions')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
