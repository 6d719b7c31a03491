"""``paver kyb``: know-your-business checks from the command line.

Contract (other tools parse it):

- ``paver kyb exif PHOTO`` prints ``{"lat": …, "lon": …, "datum": "WGS-84"}`` and exits 0, or
  prints ``{"error": code, "message": …}`` and exits 1 (``no_position``, ``unsupported_type``,
  ``too_large``, ``decompression_bomb``, ``corrupt_image``, ``empty_file``,
  ``unreadable_file``).
- ``paver kyb uscc CODE`` prints ``{"valid": bool, "reason": str | null}``; exits 0 when valid,
  1 otherwise.
"""

from __future__ import annotations

import json

import click

from paver.kyb.exif import photo_position
from paver.kyb.photo import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, PhotoError
from paver.kyb.uscc import validate_uscc

group = click.Group("kyb", help="Know-your-business checks for merchant binding.")


def _emit(payload: dict[str, object]) -> None:
    click.echo(json.dumps(payload, ensure_ascii=False))


@group.command("exif")
@click.argument("photo", type=str)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_BYTES,
    show_default=True,
    help="Refuse larger files.",
)
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_PIXELS,
    show_default=True,
    help="Refuse images with more pixels.",
)
def exif_command(photo: str, max_bytes: int, max_pixels: int) -> None:
    """Print the WGS-84 GPS position stored in PHOTO's EXIF as JSON."""
    try:
        point = photo_position(photo, max_bytes=max_bytes, max_pixels=max_pixels)
    except PhotoError as exc:
        _emit(exc.to_dict())
        raise SystemExit(1) from None
    _emit({"lat": point.lat, "lon": point.lon, "datum": point.datum})


@group.command("uscc")
@click.argument("code", type=str)
def uscc_command(code: str) -> None:
    """Validate a Unified Social Credit Code (GB 32100-2015); exit 1 when invalid."""
    valid, reason = validate_uscc(code)
    _emit({"valid": valid, "reason": reason})
    if not valid:
        raise SystemExit(1)
