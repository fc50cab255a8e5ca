"""Photos: decoding (upright, 8 or 16 bits kept, ICC profile) and encoding.

* :func:`read_image` returns a :class:`Photo`: the pixels with the EXIF
  orientation applied, 8 or 16 bits per sample kept, and the embedded ICC
  profile, if any.
* :func:`write_image` saves PNG, JPEG or TIFF by suffix; 16-bit colour PNGs
  are encoded here (Pillow writes 16-bit PNGs for grey images only).

Writes are atomic (:mod:`napari_boostseg.files.atomic`) and replace nothing
unless ``overwrite=True``.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from .atomic import atomic_write

__all__ = [
    "Photo",
    "ImageReadError",
    "IMAGE_SUFFIXES",
    "read_image",
    "write_image",
    "apply_orientation",
]

#: File name suffixes :func:`read_image` understands (lower case).
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
)

_TIFF_SUFFIXES = frozenset({".tif", ".tiff"})
_JPEG_SUFFIXES = frozenset({".jpg", ".jpeg"})
_EXIF_ORIENTATION = 0x0112
_TIFF_ICC_TAG = 34675


class ImageReadError(OSError):
    """A file exists but cannot be read as an image (corrupt, truncated, unknown)."""


@dataclass(frozen=True, eq=False)
class Photo:
    """A decoded photo.

    Attributes
    ----------
    pixels : ndarray
        ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` array, upright (the EXIF
        orientation is applied). ``uint8`` or ``uint16`` as stored in the file;
        ``float32`` only for floating-point TIFFs.
    icc_profile : bytes or None
        The embedded ICC colour profile, to be carried over to outputs.
    path : pathlib.Path
        Where the photo was read from.
    """

    pixels: np.ndarray
    icc_profile: bytes | None
    path: Path

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return self.pixels.shape[0], self.pixels.shape[1]


# --------------------------------------------------------------------------- #
# Orientation


def apply_orientation(pixels: np.ndarray, orientation: int | None) -> np.ndarray:
    """Turn an image as stored into the upright image, given its EXIF orientation.

    Parameters
    ----------
    pixels : ndarray
        ``(H, W, ...)`` image as stored in the file.
    orientation : int or None
        EXIF/TIFF orientation tag, 1 to 8. None, 1 or an unknown value leave
        the image as it is (cameras write junk here now and then).

    Returns
    -------
    ndarray
        A view of ``pixels``, upright.
    """
    a = pixels
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return a.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(a, -1)
    if orientation == 7:
        return a.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(a, 1)
    return a


# --------------------------------------------------------------------------- #
# Reading


def _as_path(path: str | os.PathLike) -> Path:
    return Path(os.fspath(path))


def _png_bit_depth(path: Path) -> int | None:
    """Bit depth from a PNG's header, or None if the file is no PNG."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24]


def _read_tiff(path: Path) -> tuple[np.ndarray, bytes | None, int | None]:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        pixels = page.asarray()
        icc = page.tags.get(_TIFF_ICC_TAG)
        orient = page.tags.get(_EXIF_ORIENTATION)
        icc_bytes = bytes(icc.value) if icc is not None else None
        orientation = int(orient.value) if orient is not None else None
    if pixels.ndim == 3 and pixels.shape[0] in (3, 4) and pixels.shape[2] not in (3, 4):
        # Planar (separated) storage: channels first.
        pixels = np.moveaxis(pixels, 0, -1)
    return pixels, icc_bytes, orientation


def _pil_to_array(im) -> np.ndarray:
    """Pixels of a Pillow image as uint8/uint16/float32, grey, RGB or RGBA."""
    mode = im.mode
    if mode in ("L", "RGB", "RGBA", "LA"):
        a = np.asarray(im)
        if mode == "LA":
            # Grey with alpha: expand to RGBA so every caller sees 1, 3 or 4 channels.
            a = np.concatenate([np.repeat(a[..., :1], 3, axis=2), a[..., 1:]], axis=2)
        return a
    if mode.startswith("I;16"):
        return np.asarray(im).astype(np.uint16)
    if mode == "I":
        a = np.asarray(im)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ImageReadError("32-bit integer images are not supported as photos")
        return a.astype(np.uint16)
    if mode == "F":
        return np.asarray(im, dtype=np.float32)
    if mode == "1":
        return np.asarray(im.convert("L"))
    if mode == "P" or mode == "PA":
        has_alpha = "transparency" in im.info or mode == "PA"
        return np.asarray(im.convert("RGBA" if has_alpha else "RGB"))
    # CMYK, YCbCr, LAB, HSV, ...
    return np.asarray(im.convert("RGB"))


def _read_png16_cv2(path: Path) -> np.ndarray | None:
    """A 16-bit colour PNG through OpenCV, which keeps 16 bits; None without it."""
    try:
        import cv2
    except ImportError:
        return None
    a = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if a is None:
        return None
    if a.ndim == 3:
        # OpenCV orders colour channels BGR(A).
        a = a[..., [2, 1, 0, 3]] if a.shape[2] == 4 else a[..., ::-1]
    return np.ascontiguousarray(a)


def _read_pillow(path: Path) -> tuple[np.ndarray, bytes | None, int | None]:
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        icc = im.info.get("icc_profile") or None
        orientation = im.getexif().get(_EXIF_ORIENTATION)
        if im.mode == "CMYK":
            # A CMYK profile does not describe the RGB pixels we hand on.
            icc = None
        pixels = _pil_to_array(im)
        if im.format == "PNG" and im.mode in ("RGB", "RGBA") and _png_bit_depth(path) == 16:
            deep = _read_png16_cv2(path)
            if deep is not None:
                pixels = deep
            else:
                warnings.warn(
                    f"{path.name} is a 16-bit colour PNG; it is read with 8 bits "
                    "because OpenCV (opencv-python-headless) is not installed. "
                    "Install it, or use 16-bit TIFF, to keep 16 bits.",
                    stacklevel=3,
                )
    return pixels, icc, orientation


def read_image(path: str | os.PathLike) -> Photo:
    """Read a photo, upright and at its stored bit depth.

    JPEG, PNG, BMP and WebP are read with Pillow, TIFF with tifffile. The EXIF
    (or TIFF) orientation is applied, so ``pixels`` is what a viewer shows.
    16-bit TIFFs and greyscale PNGs keep 16 bits; 16-bit colour PNGs too when
    OpenCV is installed (Pillow reads them with 8 bits; a warning says so).

    Parameters
    ----------
    path : str or os.PathLike
        Image file.

    Returns
    -------
    Photo
        The pixels, the ICC profile (or None) and the path.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ImageReadError
        If the file is corrupt, truncated or not an image.
    """
    path = _as_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    if path.stat().st_size == 0:
        raise ImageReadError(f"cannot read {path}: the file is empty (0 bytes); copy it again from its source")
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            pixels, icc, orientation = _read_tiff(path)
        else:
            pixels, icc, orientation = _read_pillow(path)
    except ImageReadError as exc:
        raise ImageReadError(f"cannot read {path}: {exc}") from exc
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, ...
        raise ImageReadError(
            f"cannot read {path} as an image ({exc}); "
            "the file may be corrupt, truncated or of an unsupported format"
        ) from exc
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise ImageReadError(
            f"cannot use {path}: expected a grey, RGB or RGBA image, got pixel array "
            f"of shape {pixels.shape}"
        )
    if pixels.dtype not in (np.uint8, np.uint16, np.float32):
        if np.issubdtype(pixels.dtype, np.floating):
            pixels = pixels.astype(np.float32)
        else:
            raise ImageReadError(
                f"cannot use {path}: unsupported sample type {pixels.dtype}; "
                "photos must be 8 or 16 bit unsigned, or floating point"
            )
    pixels = np.ascontiguousarray(apply_orientation(pixels, orientation))
    return Photo(pixels=pixels, icc_profile=icc, path=path)


def _to_storable(pixels: np.ndarray) -> np.ndarray:
    """uint8/uint16 stay; bool becomes 0/255; floats in [0, 1] become uint16."""
    if pixels.dtype in (np.uint8, np.uint16):
        return pixels
    if pixels.dtype == bool:
        return pixels.astype(np.uint8) * 255
    if np.issubdtype(pixels.dtype, np.floating):
        return np.round(np.clip(pixels, 0.0, 1.0) * 65535).astype(np.uint16)
    raise ValueError(
        f"cannot store samples of type {pixels.dtype}; convert to uint8, uint16 "
        "or float in [0, 1]"
    )


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    # Exact rounding of v * 255 / 65535.
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def _encode_png16(pixels: np.ndarray, icc_profile: bytes | None, level: int) -> bytes:
    """A 16-bit PNG; Pillow cannot write 16-bit colour PNGs."""
    h, w = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    # Big-endian samples; ascontiguousarray because views (crops, channel
    # slices) must become one block before reinterpreting them as bytes.
    rows = np.ascontiguousarray(pixels, dtype=">u2").reshape(h, w * channels).view(np.uint8)
    # The "Up" filter (type 2): each row minus the one above, byte-wise modulo
    # 256. Photos compress markedly better with it than unfiltered.
    up = rows.copy()
    up[1:] -= rows[:-1]
    raw = np.empty((h, up.shape[1] + 1), dtype=np.uint8)
    raw[:, 0] = 2
    raw[:, 1:] = up
    out = [b"\x89PNG\r\n\x1a\n"]
    out.append(_png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)))
    if icc_profile:
        out.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    out.append(_png_chunk(b"IDAT", zlib.compress(raw.tobytes(), level)))
    out.append(_png_chunk(b"IEND", b""))
    return b"".join(out)


def write_image(
    path: str | os.PathLike,
    pixels: ArrayLike,
    *,
    icc_profile: bytes | None = None,
    overwrite: bool = False,
    quality: int = 95,
    compress_level: int = 3,
) -> Path:
    """Save a grey, RGB or RGBA image as PNG, JPEG or TIFF (by suffix).

    PNG and TIFF keep 16-bit samples; JPEG is 8-bit, so 16-bit input is
    rounded to 8 bits and an alpha channel is refused (flatten it first with
    :func:`napari_boostseg.cutouts.flatten_on_white`). Floats in [0, 1] are stored as 16 bits where
    the format allows.

    Parameters
    ----------
    path : str or os.PathLike
        Destination: ``.png``, ``.jpg``/``.jpeg`` or ``.tif``/``.tiff``.
    pixels : (H, W), (H, W, 3) or (H, W, 4) array_like
        uint8, uint16, bool or float in [0, 1].
    icc_profile : bytes, optional
        ICC profile to embed. Default none.
    overwrite : bool, optional
        Replace an existing file. Default False.
    quality : int, optional
        JPEG quality, 1-95. Default 95.
    compress_level : int, optional
        PNG zlib level, 0 (fast, large) to 9 (slow, small). Default 3, which
        is close to 6 in size at about half the time on photos.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        For a shape, type or suffix that cannot be stored.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = _as_path(path)
    suffix = path.suffix.lower()
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise ValueError(
            f"expected a (H, W), (H, W, 3) or (H, W, 4) image, got shape {pixels.shape}"
        )
    pixels = _to_storable(pixels)

    if suffix == ".png":
        if pixels.dtype == np.uint16:
            # Pillow writes 16-bit PNGs for grey images only; we encode them all.
            def write(tmp: Path) -> None:
                tmp.write_bytes(_encode_png16(pixels, icc_profile, compress_level))

        else:
            from PIL import Image

            def write(tmp: Path) -> None:
                kwargs = {"icc_profile": icc_profile} if icc_profile else {}
                Image.fromarray(np.ascontiguousarray(pixels)).save(
                    tmp, format="PNG", compress_level=compress_level, **kwargs
                )

    elif suffix in _JPEG_SUFFIXES:
        if pixels.ndim == 3 and pixels.shape[2] == 4:
            raise ValueError(
                "JPEG has no alpha channel; flatten the cut-out first "
                "(flatten_on_white) or save it as PNG"
            )
        pixels8 = _to_uint8(pixels)
        from PIL import Image

        def write(tmp: Path) -> None:
            kwargs = {"icc_profile": icc_profile} if icc_profile else {}
            Image.fromarray(np.ascontiguousarray(pixels8)).save(
                tmp, format="JPEG", quality=int(quality), **kwargs
            )

    elif suffix in _TIFF_SUFFIXES:
        import tifffile

        def write(tmp: Path) -> None:
            photometric = "minisblack" if pixels.ndim == 2 else "rgb"
            extra = {"extrasamples": ["unassalpha"]} if pixels.ndim == 3 and pixels.shape[2] == 4 else {}
            tifffile.imwrite(
                tmp,
                pixels,
                photometric=photometric,
                compression="zlib",
                iccprofile=icc_profile,
                **extra,
            )

    else:
        raise ValueError(
            f"cannot tell the image format from {path.name!r}: use .png, .jpg or .tif"
        )
    return atomic_write(path, write, overwrite=overwrite)
