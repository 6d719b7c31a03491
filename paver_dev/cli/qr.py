"""``paver qr``: parse, render and read aggregated codes; list skins.

Contract (other tools depend on it):

- ``paver qr parse PAYLOAD`` prints the :meth:`paver.emv.ParseResult.to_dict` JSON; exit 0 when
  ``valid``, 1 otherwise. ``PAYLOAD`` ``-`` reads standard input.
- ``paver qr render PAYLOAD --skin NAME --out FILE.png|FILE.svg`` writes a verified,
  print-ready code and prints a JSON summary; unknown skin or extension: exit 2; a payload that
  cannot be rendered or does not scan back: exit 1.
- ``paver qr skins [--json]`` lists the shipped skins.
- ``paver qr decode IMAGE`` prints each payload read from a photo or scan, one per line;
  exit 1 when none is found.
- ``paver qr certify [--skin NAME] [--json]`` reads a long Chinese and a long ASCII payload on
  each skin (default: every shipped skin), and on a plain symbol (the floor), under each camera
  condition with four readers; prints the matrix (``--json``: one object, see below) and exits
  1 on any miss, 2 for an unknown skin or a missing reader (dev dependency).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

__all__ = ["group"]

group = click.Group("qr", help="EMV aggregated codes: parse, render on a skin, read back.")


def _payload_arg(payload: str) -> str:
    if payload == "-":
        payload = sys.stdin.read()
    # A payload never starts or ends with whitespace (it starts with 00, ends with the CRC);
    # shells and files add newlines.
    return payload.strip()


@group.command("parse")
@click.argument("payload")
def parse_cmd(payload: str) -> None:
    """Decode PAYLOAD (EMV MPM) and print the fields as JSON."""
    from paver import emv

    result = emv.decode(_payload_arg(payload))
    click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    sys.exit(0 if result.valid else 1)


@group.command("render")
@click.argument("payload")
@click.option("--skin", "skin_name", default="neutral_default", show_default=True,
              help="Skin name (see `paver qr skins`).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file: .png (300 dpi) or .svg (vector).")
def render_cmd(payload: str, skin_name: str, out: Path) -> None:
    """Render PAYLOAD on a skin, verify it scans, and write OUT."""
    from paver.render import FORMATS, RenderError, render_code
    from paver.skins import SkinError, get_skin

    fmt = out.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise click.BadParameter(f"{out.name!r}: the extension must be .png or .svg",
                                 param_hint="--out")
    try:
        skin = get_skin(skin_name)
    except SkinError as exc:
        raise click.BadParameter(str(exc), param_hint="--skin") from exc
    try:
        code = render_code(_payload_arg(payload), skin, fmt)
    except RenderError as exc:
        raise click.ClickException(str(exc)) from exc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(code.data)
    click.echo(json.dumps({
        "out": str(out), "content_type": code.content_type, "skin": code.skin,
        "verified": code.verified, "width_px": code.width_px, "height_px": code.height_px,
        "dpi": 300, "modules": code.modules, "module_px": code.module_px,
        "bytes": len(code.data),
        "timings_ms": {k: round(v, 3) for k, v in code.timings.items()},
    }))


@group.command("skins")
@click.option("--json", "as_json", is_flag=True, help="Print the skins as a JSON list.")
def skins_cmd(as_json: bool) -> None:
    """List the shipped skins."""
    from paver.skins import load_skins

    skins = load_skins()
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in skins.values()], ensure_ascii=False,
                              indent=2))
        return
    for skin in skins.values():
        size = f"{skin.size.width_mm:g}x{skin.size.height_mm:g}mm"
        click.echo(f"{skin.name:<18} {skin.region:<10} {skin.size.kind:<8} {size:<11} "
                   f"{skin.title}")


@group.command("decode")
@click.argument("image", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def decode_cmd(image: Path) -> None:
    """Print the payload of every QR code found in IMAGE (photo or scan)."""
    from PIL import UnidentifiedImageError

    from paver.render import decode_image

    try:
        payloads = decode_image(image)
    except (UnidentifiedImageError, OSError) as exc:
        raise click.BadParameter(f"cannot read {image}: {exc}", param_hint="IMAGE") from exc
    if not payloads:
        click.echo(f"Error: no QR code found in {image}", err=True)
        sys.exit(1)
    for payload in payloads:
        click.echo(payload)


@group.command("certify")
@click.option("--skin", "skin_names", multiple=True,
              help="Skin to certify (repeatable); default: every shipped skin.")
@click.option("--json", "as_json", is_flag=True,
              help="Print {passed, readers, conditions, skins: [{skin, passed, seconds, "
                   "cells, misses}], matrix: [{skin, payload, condition, reader, ok, got}]}.")
def certify_cmd(skin_names: tuple[str, ...], as_json: bool) -> None:
    """Certify skins: every reader reads them under phone-camera conditions."""
    from paver.skins import SkinError, get_skin, load_skins

    try:
        from paver import certify
        reader_map = certify.readers()
    except ImportError as exc:
        raise click.UsageError(f"certification needs the dev readers ({exc}); "
                               "install requirements-dev.txt") from exc
    names = list(skin_names) or sorted(load_skins())
    for name in names:
        try:
            get_skin(name)
        except SkinError as exc:
            raise click.BadParameter(str(exc), param_hint="--skin") from exc
    reports = [certify.certify_skin(n, reader_map) for n in [certify.PLAIN, *names]]
    passed = all(r.passed for r in reports)
    if as_json:
        click.echo(json.dumps({
            "passed": passed, "readers": list(reader_map),
            "conditions": {c.name: c.description for c in certify.CONDITIONS},
            "skins": [r.to_dict() for r in reports],
            "matrix": [c.to_dict() for r in reports for c in r.cells]},
            ensure_ascii=False, indent=2))
    else:
        click.echo(certify.format_matrix(reports))
    sys.exit(0 if passed else 1)
