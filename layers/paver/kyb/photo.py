"""Store-photo intake: identify the image by its bytes, open it safely, find QR payloads.

Only JPEG, PNG, WebP and HEIC/HEIF are accepted, decided by magic numbers (never by file
name or declared content type). Opening enforces a byte limit and a pixel cap and treats
Pillow's ``DecompressionBombWarning`` as an error. Every failure on untrusted input surfaces
as :class:`PhotoError` with a machine ``code`` and a human ``message``.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from typing import BinaryIO, Literal

import pillow_heif
from PIL import Image

from paver.errors import InvalidInput

# The project's one QR reader (text as a wallet reads it), re-exported for the binding path.
from paver.qr_reader import read_payloads as decode_qr_payloads  # noqa: F401

pillow_heif.register_heif_opener()

ImageKind = Literal["jpeg", "png", "webp", "heif"]
PhotoSource = bytes | bytearray | memoryview | str | os.PathLike[str] | BinaryIO

#: Default byte limit for an uploaded photo (phone JPEG/HEIC photos are 1–8 MB).
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
#: Default pixel cap (a 48-MP phone sensor is ~48e6 pixels).
DEFAULT_MAX_PIXELS = 50_000_000

#: Pillow format name for each sniffed kind (used to open and to save).
PIL_FORMATS: dict[str, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "heif": "HEIF"}
#: Formats Pillow may report after opening each kind. Pillow's JPEG opener reports "MPO" for
#: multi-picture JPEGs (an APP2 MPF segment), which many phones write (HDR gain maps, depth).
_OPENED_AS: dict[str, frozenset[str]] = {
    "jpeg": frozenset({"JPEG", "MPO"}),
    "png": frozenset({"PNG"}),
    "webp": frozenset({"WEBP"}),
    "heif": frozenset({"HEIF"}),
}

_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})

#: How many leading bytes :func:`sniff_image_type` looks at (enough for an ``ftyp`` box).
SNIFF_BYTES = 64


class PhotoError(InvalidInput):
    """A photo was refused or could not be used.

    Parameters
    ----------
    code : str
        Machine-readable code: ``empty_file``, ``too_large``, ``unreadable_file``,
        ``unsupported_type``, ``decompression_bomb``, ``corrupt_image``, ``no_position``.
    message : str
        Human-readable explanation.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def to_dict(self) -> dict[str, str]:
        """Return the JSON error shape ``{"error": code, "message": message}``."""
        return {"error": self.code, "message": self.message}


def sniff_image_type(head: bytes) -> ImageKind | None:
    """Identify an accepted image type from its first bytes.

    Parameters
    ----------
    head : bytes
        The start of the file (at least :data:`SNIFF_BYTES` bytes when available).

    Returns
    -------
    str or None
        ``"jpeg"``, ``"png"``, ``"webp"`` or ``"heif"``; None for anything else (GIF, BMP,
        TIFF, AVIF, PDF, text, ...).
    """
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        (box_size,) = struct.unpack(">I", head[:4])
        major = head[8:12]
        if major in _AVIF_BRANDS:
            return None
        end = min(len(head), box_size) if box_size >= 16 else 12
        brands = {major} | {head[i : i + 4] for i in range(16, end - 3, 4)}
        if brands & _HEIF_BRANDS:
            return "heif"
    return None


def read_photo_bytes(source: PhotoSource, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read a photo into memory without reading more than ``max_bytes + 1`` bytes.

    Parameters
    ----------
    source : bytes, path or binary file object
        The photo.
    max_bytes : int
        Largest accepted size.

    Returns
    -------
    bytes
        The file content.

    Raises
    ------
    PhotoError
        ``too_large``, ``empty_file`` or ``unreadable_file``.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source[: max_bytes + 1])
    else:
        try:
            if isinstance(source, str | os.PathLike):
                with open(source, "rb") as fh:
                    data = fh.read(max_bytes + 1)
            else:
                data = source.read(max_bytes + 1)
        except OSError as exc:
            raise PhotoError("unreadable_file", f"cannot read the photo: {exc}") from exc
    if len(data) > max_bytes:
        raise PhotoError("too_large", f"photo is larger than {max_bytes} bytes")
    if not data:
        raise PhotoError("empty_file", "photo is empty")
    return data


def open_photo(
    source: PhotoSource,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """Open and fully decode an untrusted store photo.

    Parameters
    ----------
    source : bytes, path or binary file object
        The photo.
    max_bytes : int
        Byte limit (checked before any parsing).
    max_pixels : int
        Pixel cap (width × height, checked from the header before decoding). Pillow's own
        ``DecompressionBombWarning``/``DecompressionBombError`` are also refused.

    Returns
    -------
    PIL.Image.Image
        The decoded image (first frame); ``image.format`` is ``JPEG`` (or ``MPO`` for a
        multi-picture JPEG), ``PNG``, ``WEBP`` or ``HEIF``.

    Raises
    ------
    PhotoError
        ``empty_file``, ``too_large``, ``unreadable_file``, ``unsupported_type``,
        ``decompression_bomb`` or ``corrupt_image``.
    """
    data = read_photo_bytes(source, max_bytes)
    kind = sniff_image_type(data[:SNIFF_BYTES])
    if kind is None:
        raise PhotoError(
            "unsupported_type",
            f"not a JPEG, PNG, WebP or HEIC/HEIF image (starts with {data[:12].hex()})",
        )
    expected = PIL_FORMATS[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[expected])
            width, height = image.size
            if width <= 0 or height <= 0:
                raise PhotoError("corrupt_image", f"image has no pixels ({width}x{height})")
            if width * height > max_pixels:
                raise PhotoError(
                    "decompression_bomb",
                    f"{width}x{height} = {width * height} pixels exceeds the cap of {max_pixels}",
                )
            image.load()
        except PhotoError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoError("decompression_bomb", str(exc)) from exc
        except Exception as exc:
            # Untrusted bytes: Pillow and its plugins raise many types (OSError, SyntaxError,
            # ValueError, struct.error, EOFError, ...) on malformed input.
            raise PhotoError(
                "corrupt_image", f"cannot decode {expected} image: {type(exc).__name__}: {exc}"
            ) from exc
    if image.format not in _OPENED_AS[kind]:
        raise PhotoError("unsupported_type", f"decoded as {image.format}, expected {expected}")
    return image
