"""Reading photos and writing label images and cut-outs.

Everything that touches image files goes through this module, so the command
line, the napari widgets and the training data share one set of conventions:

* :func:`read_image` returns a :class:`Photo`: the pixels with the EXIF
  orientation applied, 8 or 16 bits per sample kept, and the embedded ICC
  profile, if any.
* :func:`write_labels` / :func:`read_labels` store instance label images
  (0 background, 1..N objects) as PNG (8 or 16 bit) or TIFF. These files are
  also the training format of the Mask R-CNN.
* :func:`cutout` makes a full-resolution RGBA cut-out, :func:`write_cutout`
  saves it as PNG (16-bit input stays 16-bit) with the photo's ICC profile,
  and :func:`flatten_on_white` composes it on white for JPEG output.

All writers are atomic: they write a temporary file in the destination folder
and rename it into place, so an interrupted run never leaves a half-written
file under the final name. None of them replaces an existing file unless
``overwrite=True``.
"""

from __future__ import annotations

import os
import re
import struct
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Photo",
    "ImageReadError",
    "IMAGE_SUFFIXES",
    "LABEL_SUFFIXES",
    "read_image",
    "read_labels",
    "write_labels",
    "write_image",
    "cutout",
    "write_cutout",
    "flatten_on_white",
    "apply_orientation",
    "atomic_write",
    "temporary_name",
    "TEMPORARY_NAME",
]

#: File name suffixes :func:`read_image` understands (lower case).
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp"}
)
#: File name suffixes :func:`write_labels` and :func:`read_labels` understand.
LABEL_SUFFIXES = frozenset({".png", ".tif", ".tiff"})

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
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            pixels, icc, orientation = _read_tiff(path)
        else:
            pixels, icc, orientation = _read_pillow(path)
    except ImageReadError as exc:
        raise ImageReadError(f"cannot read {path}: {exc}") from exc
    except Exception as exc:  # decoders raise OSError, SyntaxError, ValueError, ...
        raise ImageReadError(
            f"cannot read {path} as an image ({type(exc).__name__}: {exc}); "
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


def read_labels(path: str | os.PathLike) -> np.ndarray:
    """Read a label image (0 background, 1..N objects) or a binary mask.

    Single-channel PNG or TIFF files are read as they are, so a 0/255 mask
    gives labels 0 and 255. Colour-coded label images (RGB or RGBA) get one
    id per distinct colour, black being background, in order of colour value.

    Parameters
    ----------
    path : str or os.PathLike
        PNG or TIFF file.

    Returns
    -------
    (H, W) ndarray of int32

    Raises
    ------
    FileNotFoundError, ImageReadError
        As :func:`read_image`; ImageReadError also for ids beyond int32.
    """
    path = _as_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such label file: {path}")
    try:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            import tifffile

            a = tifffile.imread(path)
        else:
            from PIL import Image

            with Image.open(path) as im:
                im.load()
                # Palette images store the label id as the palette index.
                a = np.asarray(im) if im.mode in ("P", "L", "1") else _pil_to_array(im)
    except Exception as exc:
        raise ImageReadError(
            f"cannot read {path} as a label image ({type(exc).__name__}: {exc})"
        ) from exc
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 3:
        a = _colours_to_labels(a[..., :3])
    if a.ndim != 2:
        raise ImageReadError(f"{path} is not a 2-D label image (shape {a.shape})")
    if np.issubdtype(a.dtype, np.floating) or a.dtype == bool:
        a = a.astype(np.int64)
    if a.size and (int(a.min()) < 0 or int(a.max()) > np.iinfo(np.int32).max):
        raise ImageReadError(f"{path} holds label ids outside 0..2**31-1")
    return a.astype(np.int32)


def _colours_to_labels(rgb: np.ndarray) -> np.ndarray:
    flat = rgb.reshape(-1, rgb.shape[-1]).astype(np.int64)
    packed = (flat[:, 0] << 32) | (flat[:, 1] << 16) | flat[:, 2]
    values, inverse = np.unique(packed, return_inverse=True)
    # Background (black) gets 0, every other colour the next free id.
    ids = np.arange(values.size) + (0 if values[0] == 0 else 1)
    return ids[inverse].reshape(rgb.shape[:2])


# --------------------------------------------------------------------------- #
# Writing


def atomic_write(
    path: str | os.PathLike,
    write: Callable[[Path], None],
    *,
    overwrite: bool = False,
) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path`` atomically.

    The temporary file lies in the destination folder (a rename across file
    systems would not be atomic) and is removed if ``write`` fails.

    Parameters
    ----------
    path : str or os.PathLike
        Final file name. Its folder is created if needed.
    write : callable
        Writes the file at the path it is given. The temporary name keeps the
        final suffix, so writers that pick the format by suffix still work.
    overwrite : bool, optional
        Replace an existing file. Default False.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False, also when another
        process creates it while ``write`` runs: without ``overwrite`` the
        file is put in place with a hard link, which fails rather than
        replaces (where the file system has no hard links, the check and the
        rename are two steps).
    """
    path = _as_path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise _exists(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A random name rather than mkstemp: the writer creates the file itself, so
    # it gets the usual permissions (mkstemp's are owner-only) and they carry
    # over to the final file.
    tmp = path.parent / temporary_name(path)
    try:
        write(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_into_place(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def temporary_name(path: Path) -> str:
    """Name of a temporary file for ``path`` (hidden, random, same suffix).

    :data:`TEMPORARY_NAME` matches these names.
    """
    return f".{path.stem}.{os.urandom(6).hex()}.tmp{path.suffix}"


#: Matches the names :func:`temporary_name` makes; group 1 is the final stem.
TEMPORARY_NAME = re.compile(r"^\.(.+)\.[0-9a-f]{12}\.tmp(\.[^.]*)?$")


def _exists(path: Path) -> FileExistsError:
    return FileExistsError(
        f"{path} already exists; pass overwrite=True (--overwrite on the "
        "command line) to replace it, or choose another output folder"
    )


def _link_into_place(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` unless that exists, in one step."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise _exists(path) from None
    except OSError:
        # No hard links here (some network and FAT file systems).
        if path.exists():
            raise _exists(path) from None
        os.replace(tmp, path)
        return
    tmp.unlink()


def write_labels(
    path: str | os.PathLike, labels: ArrayLike, *, overwrite: bool = False
) -> Path:
    """Save a label image (0 background, 1..N objects).

    The format follows the suffix: ``.png`` stores 8 bits when the largest id
    is below 256 and 16 bits otherwise; ``.tif``/``.tiff`` stores 8, 16 or 32
    bits (zlib-compressed). Booleans are saved as 0/1.

    Parameters
    ----------
    path : str or os.PathLike
        Destination, ``.png``, ``.tif`` or ``.tiff``.
    labels : (H, W) array_like of int or bool
        Non-negative ids.
    overwrite : bool, optional
        Replace an existing file. Default False.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        For a wrong shape, negative or non-integer ids, ids over 65535 in a
        PNG, or an unknown suffix.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    path = _as_path(path)
    suffix = path.suffix.lower()
    if suffix not in LABEL_SUFFIXES:
        raise ValueError(
            f"cannot tell the label format from {path.name!r}: use a .png, .tif or "
            ".tiff file name"
        )
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must be 2-D (height, width), got shape {labels.shape}")
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers or booleans, got {labels.dtype}")
    top = int(labels.max()) if labels.size else 0
    if labels.size and int(labels.min()) < 0:
        raise ValueError("labels must be >= 0 (0 is background)")
    if top < 256:
        stored = labels.astype(np.uint8)
    elif top < 65536:
        stored = labels.astype(np.uint16)
    elif suffix == ".png":
        raise ValueError(
            f"label id {top} does not fit a 16-bit PNG; save as .tif instead"
        )
    else:
        stored = labels.astype(np.uint32)

    if suffix == ".png":
        from PIL import Image

        def write(tmp: Path) -> None:
            Image.fromarray(stored).save(tmp, format="PNG", compress_level=3)

    else:
        import tifffile

        def write(tmp: Path) -> None:
            tifffile.imwrite(tmp, stored, compression="zlib")

    return atomic_write(path, write, overwrite=overwrite)


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
    :func:`flatten_on_white`). Floats in [0, 1] are stored as 16 bits where
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


# --------------------------------------------------------------------------- #
# Cut-outs


def _alpha_from(mask_or_labels: np.ndarray, label: int | None, dtype: np.dtype) -> np.ndarray:
    top = 65535 if dtype == np.uint16 else 255
    m = mask_or_labels
    if np.issubdtype(m.dtype, np.floating):
        if label is not None:
            raise ValueError("label= selects an object in a label image, not in a soft mask")
        return np.round(np.clip(m, 0.0, 1.0) * top).astype(dtype)
    if m.dtype == bool:
        if label is not None:
            raise ValueError("label= selects an object in a label image, not in a boolean mask")
        sel = m
    elif label is None:
        sel = m != 0
    else:
        if label <= 0:
            raise ValueError(f"label must be a positive object id, got {label}")
        sel = m == label
    return sel.astype(dtype) * np.array(top, dtype=dtype)


def cutout(
    image: ArrayLike, mask_or_labels: ArrayLike, label: int | None = None
) -> np.ndarray:
    """Cut an object out of a photo as a full-resolution RGBA image.

    Parameters
    ----------
    image : (H, W), (H, W, 3) or (H, W, 4) array_like
        uint8 or uint16 photo (grey is repeated to RGB; an existing alpha
        channel is combined with the mask by taking the smaller value).
        Floats in [0, 1] are converted to uint16.
    mask_or_labels : (H, W) array_like
        A boolean mask, a label image (all objects unless ``label`` is given)
        or a soft mask of floats in [0, 1] used as alpha directly.
    label : int, optional
        Object id to cut out of a label image. Default: every non-zero id.

    Returns
    -------
    (H, W, 4) ndarray
        Same sample type as ``image`` (uint8 or uint16). Colour is zeroed
        where alpha is 0, so nothing of the background survives in the file.
    """
    image = np.asarray(image)
    m = np.asarray(mask_or_labels)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(
            f"expected a (H, W), (H, W, 3) or (H, W, 4) image, got shape {image.shape}"
        )
    if m.shape != image.shape[:2]:
        raise ValueError(
            f"mask {m.shape} and image {image.shape[:2]} differ in size; they must "
            "cover the same pixels"
        )
    if image.dtype not in (np.uint8, np.uint16):
        image = _to_storable(image)
    dtype = image.dtype
    alpha = _alpha_from(m, label, dtype)
    if image.ndim == 2:
        rgb = image[..., None]
    else:
        rgb = image[..., :3]
        if image.shape[2] == 4:
            alpha = np.minimum(alpha, image[..., 3])
    out = np.zeros(image.shape[:2] + (4,), dtype=dtype)
    # copyto with a mask is several times faster than boolean-index assignment.
    np.copyto(out[..., :3], rgb, where=(alpha != 0)[..., None])
    out[..., 3] = alpha
    return out


def write_cutout(
    path: str | os.PathLike,
    rgba: ArrayLike,
    *,
    icc_profile: bytes | None = None,
    overwrite: bool = False,
    compress_level: int = 3,
) -> Path:
    """Save an RGBA cut-out as PNG (8 or 16 bit, as given), atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; must end in ``.png``.
    rgba : (H, W, 4) array_like of uint8 or uint16
        From :func:`cutout`.
    icc_profile : bytes, optional
        The photo's ICC profile, so colours look the same as in the photo.
    overwrite : bool, optional
        Replace an existing file. Default False.
    compress_level : int, optional
        PNG zlib level 0-9. Default 3.

    Returns
    -------
    pathlib.Path
    """
    path = _as_path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"cut-outs are saved as PNG; got {path.name!r}")
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA image, got shape {rgba.shape}")
    return write_image(
        path, rgba, icc_profile=icc_profile, overwrite=overwrite, compress_level=compress_level
    )


def flatten_on_white(rgba: ArrayLike) -> np.ndarray:
    """Compose an RGBA image on a white background.

    Parameters
    ----------
    rgba : (H, W, 4) array_like of uint8 or uint16

    Returns
    -------
    (H, W, 3) ndarray
        Same sample type, ``rgb * a + white * (1 - a)`` rounded to nearest.
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"expected an (H, W, 4) RGBA image, got shape {rgba.shape}")
    if rgba.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected uint8 or uint16 samples, got {rgba.dtype}")
    top = np.iinfo(rgba.dtype).max
    alpha = rgba[..., 3]
    out = np.full(rgba.shape[:2] + (3,), top, dtype=rgba.dtype)
    np.copyto(out, rgba[..., :3], where=(alpha == top)[..., None])
    # Only partly transparent pixels need arithmetic; cut-outs of hard masks
    # have none, and soft edges are a thin rim.
    partial = (alpha != 0) & (alpha != top)
    if partial.any():
        # (c*a + top*(top-a) + top/2) // top rounds to nearest; the sum stays
        # below 2**32 even for 16-bit input.
        rgb = rgba[partial, :3].astype(np.uint32)
        a = alpha[partial].astype(np.uint32)[:, None]
        out[partial] = ((rgb * a + top * (top - a) + top // 2) // top).astype(rgba.dtype)
    return out
