"""Wording shared by the messages of the command line and the napari widgets."""

from __future__ import annotations

__all__ = ["counted", "first_few"]


def counted(n: int, noun: str) -> str:
    """``n`` and ``noun``, plural unless ``n`` is 1.

    Examples
    --------
    >>> counted(1, "product"), counted(3, "region")
    ('1 product', '3 regions')
    """
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def first_few(names, most: int = 5) -> str:
    """The first ``most`` of ``names``, joined by commas, and "..." when there are more.

    Examples
    --------
    >>> first_few(["a", "b"]), first_few("abcdefg", 3)
    ('a, b', 'a, b, c, ...')
    """
    names = list(names)
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")
