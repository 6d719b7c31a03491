"""Skins a partner defines itself: validated at the edge, certified by four readers, then offered.

A partner (or an operator for it) sends a :class:`SkinSpec`: palette, caption (zh and en), its
own logo image, the material format (``sticker`` or ``stand``, the catalogue's geometry) and a
frame motif from the catalogue. :func:`submit` validates it (the logo by its bytes, with byte
and pixel caps, through :func:`paver.kyb.photo.open_photo`), builds a :class:`~paver.skins.Skin`
and stores it ``pending``. :func:`certify_stored` then runs the certification of
:mod:`paver.certify` (zxing-cpp, OpenCV's WeChat engine, OpenCV's QRCodeDetector and zbar under
phone-camera conditions) and records ``certified`` or ``refused`` with the failing cells. Only a
certified skin joins ``Partner.skins``, so only a certified skin is offered to the partner's
merchants, can be the partner's default, and can be rendered for them.

Where certification runs (:func:`certification_mode`): OpenCV and zbar are dev/test
dependencies, not in the Lambda layer. ``inline`` (the default on the ``local`` and ``test``
stages) certifies in the same process, before the API answers; ``queue`` (every other stage)
sends a message to the ``skin-certify`` queue, which the certifier function — a container
image with the readers, ``functions/skin_certifier.py`` — consumes. The API answers what is
true when it answers: 202 ``pending`` (queued), 201 ``certified`` or 422 ``refused``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import functools
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from paver.aws import client, queue_url
from paver.batch import sqs_batch
from paver.config import Settings, settings
from paver.errors import Conflict, InvalidInput, NotFound
from paver.lazy import lazy_module
from paver.skins import (
    FRAME_STYLES,
    SKINS_DIR,
    Logo,
    Skin,
    SkinError,
    _read_yaml,
    load_skins,
    parse_skin,
)
from paver.storage.models import Partner, PartnerSkin
from paver.storage.registry import condition_failed

if TYPE_CHECKING:
    from paver.kyb import photo
else:  # Pillow, pillow-heif and the QR readers when a logo arrives, not at import app
    photo = lazy_module("paver.kyb.photo")

log = logging.getLogger(__name__)

#: Largest logo upload and its pixel cap (a logo is small artwork, not a photo).
LOGO_MAX_BYTES = 512 * 1024
LOGO_MAX_PIXELS = 4_000_000
LOGO_MIN_EDGE = 32
#: The stored logo: at most this edge in pixels, reduced to this many colours (it joins the
#: print's palette; the renderer draws palette PNGs).
LOGO_EDGE = 256
LOGO_COLORS = 8
#: Largest logo width as a fraction of the code accepted at the edge. Shipped skins stay at
#: or below 0.25; between that and this the readers decide (logos beyond ~0.40 stop scanning).
MAX_LOGO_FRACTION = 0.40
#: Material formats: the catalogue skin whose geometry (size, border, panel, caption size) a
#: partner skin takes.
FORMATS = {"sticker": "neutral_default", "stand": "neutral_stand"}
STATUSES = ("pending", "certified", "refused")
MODES = ("inline", "queue")
QUEUE = "skin-certify"
_HEX = r"^#[0-9A-Fa-f]{6}$"


class SkinSpecError(InvalidInput):
    """The definition cannot become a skin (400); the message names the field."""


# No such partner or skin: :class:`paver.errors.NotFound` (404 to operators; partners only
# ever ask about their own). A different, not refused, skin of that name: ``Conflict`` (409).


# --------------------------------------------------------------------------------------------
# The definition (validated at the edge)
# --------------------------------------------------------------------------------------------

class PaletteIn(BaseModel):
    """Colours ``#RRGGBB``: dark modules on a light background, as every shipped skin."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    module: str = Field(pattern=_HEX)
    background: str = Field(pattern=_HEX)
    frame: str = Field(pattern=_HEX)
    accent: str = Field(pattern=_HEX)
    text: str = Field(pattern=_HEX)


@functools.cache
def font_characters() -> frozenset[str]:
    """Characters the shipped font can draw (a caption with others would print as boxes)."""
    from paver.render import CJK_OUTLINES

    return frozenset(json.loads(CJK_OUTLINES.read_text(encoding="utf-8"))["glyphs"])


class CaptionIn(BaseModel):
    """``zh``: printed above the code; ``en``: ASCII, printed below it."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    zh: str = Field(min_length=1, max_length=24)
    en: str = Field(min_length=1, max_length=40, pattern=r"^[\x20-\x7e]+$")


def check_drawable(caption: str) -> None:
    """Refuse a caption the shipped font cannot draw: one of the skin rules (checked with
    them in :func:`build_skin`), since thousands of glyphs are no publishable schema."""
    missing = sorted(set(caption) - font_characters())
    if missing:
        raise SkinSpecError(f"caption.zh: characters {''.join(missing)!r} are not in the "
                            "shipped font (assets/fonts: rebuild the subset with make_subset.py)")


class LogoIn(BaseModel):
    """The partner's logo: a PNG, JPEG or WebP image, base64, on a light tile."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    image_base64: str = Field(min_length=8, max_length=(LOGO_MAX_BYTES * 4) // 3 + 4)
    fraction: float = Field(default=0.2, ge=0.05, le=MAX_LOGO_FRACTION)
    background: str = Field(default="#FFFFFF", pattern=_HEX)


class SkinSpec(BaseModel):
    """A partner's skin definition (``POST /partners/{id}/skins``)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$", json_schema_extra=lambda s: s.update(
        {"not": {"enum": sorted(load_skins())}}))
    title: str = Field(min_length=1, max_length=60)
    frame: str = Field(pattern="^(" + "|".join(FORMATS) + ")$")
    motif: str = Field(json_schema_extra=lambda s: s.update(enum=sorted(FRAME_STYLES)))
    palette: PaletteIn
    caption: CaptionIn
    logo: LogoIn | None = None

    @field_validator("motif")
    @classmethod
    def _motif(cls, value: str) -> str:
        if value not in FRAME_STYLES:
            raise ValueError(f"{value!r} is not one of {sorted(FRAME_STYLES)}")
        return value

    @field_validator("name")
    @classmethod
    def _not_catalogue(cls, value: str) -> str:
        if value in load_skins():
            raise ValueError(f"{value!r} is a catalogue skin; choose another name")
        return value


def normalise_logo(image_base64: str, background: str) -> bytes:
    """Decode, validate by its bytes (type, byte and pixel caps) and reduce a logo.

    Returns
    -------
    bytes
        A square palette PNG of at most :data:`LOGO_EDGE` px and :data:`LOGO_COLORS` colours,
        transparency flattened onto ``background``.

    Raises
    ------
    SkinSpecError
        Naming ``logo.image_base64`` and the reason (``too_large``, ``unsupported_type``,
        ``decompression_bomb``, ``corrupt_image``, too small).
    """
    from PIL import Image

    field = "logo.image_base64"
    try:
        data = base64.b64decode(image_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SkinSpecError(f"{field}: not valid base64 ({exc})") from exc
    try:
        image = photo.open_photo(data, max_bytes=LOGO_MAX_BYTES, max_pixels=LOGO_MAX_PIXELS)
    except photo.PhotoError as exc:
        raise SkinSpecError(f"{field}: {exc.code}: {exc.message}") from exc
    w, h = image.size
    if min(w, h) < LOGO_MIN_EDGE:
        raise SkinSpecError(f"{field}: {w}x{h} px is too small (at least {LOGO_MIN_EDGE} px "
                            "each side)")
    side = max(w, h)
    rgb = tuple(int(background[i:i + 2], 16) for i in (1, 3, 5))
    canvas = Image.new("RGBA", (side, side), (*rgb, 255))
    canvas.alpha_composite(image.convert("RGBA"), ((side - w) // 2, (side - h) // 2))
    canvas.thumbnail((LOGO_EDGE, LOGO_EDGE), Image.Resampling.LANCZOS)
    reduced = canvas.convert("RGB").quantize(LOGO_COLORS, method=Image.Quantize.MEDIANCUT,
                                             dither=Image.Dither.NONE)
    out = io.BytesIO()
    reduced.save(out, "PNG", optimize=True)
    return out.getvalue()


_FIELD_NAMES = {"caption.text_latin": "caption.en", "caption.subtitle": "caption.en",
                "caption.text": "caption.zh", "frame.style": "motif"}


def build_skin(partner_id: str, spec: dict[str, Any], logo_png: bytes | None) -> Skin:
    """The :class:`Skin` of a validated definition (``SkinSpec.model_dump()``, logo bytes
    apart), checked by the same rules as the shipped skins (dark on light, WCAG contrast of
    modules and caption, fits the material, a caption the font draws)."""
    check_drawable(spec["caption"]["zh"])
    base = copy.deepcopy(_read_yaml(SKINS_DIR / f"{FORMATS[spec['frame']]}.yaml"))
    logo = spec.get("logo")
    data = {
        **base, "name": spec["name"], "title": spec["title"], "region": "partner",
        "description": f"partner {partner_id}'s own skin",
        "palette": spec["palette"], "frame": {**base["frame"], "style": spec["motif"]},
        "caption": {**base["caption"], "text": spec["caption"]["zh"],
                    "text_latin": spec["caption"]["en"], "subtitle": spec["caption"]["en"]},
        # the drawn mark stands in while the shared rules run; the image replaces it below
        "logo": None if logo is None else {"mark": "pay", "fraction": 0.2,
                                           "foreground": logo["background"],
                                           "background": logo["background"]},
    }
    try:
        skin = parse_skin(spec["name"], data)
    except SkinError as exc:
        # "skin 'x': field 'palette.module': problem" -> "palette.module: problem"
        found = re.search(r"field '([^']+)': (.*)", str(exc), re.S)
        where, problem = found.groups() if found else ("body", str(exc))
        raise SkinSpecError(f"{_FIELD_NAMES.get(where, where)}: {problem}") from exc
    if logo is not None:
        skin = dataclasses.replace(skin, logo=Logo(
            "image", float(logo["fraction"]), logo["background"].upper(),
            logo["background"].upper(), image=logo_png))
    return skin


# --------------------------------------------------------------------------------------------
# Storage and certification
# --------------------------------------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC)


def certification_mode(cfg: Settings | None = None) -> str:
    """``PAVER_SKIN_CERTIFICATION`` (``inline`` | ``queue``); by default ``inline`` on the
    ``local`` and ``test`` stages (the readers are installed there), ``queue`` elsewhere."""
    cfg = cfg or settings()
    mode = cfg.skin_certification or (
        "inline" if cfg.stage in ("local", "test") else "queue")
    if mode not in MODES:
        raise ValueError(f"PAVER_SKIN_CERTIFICATION={mode!r}: one of {', '.join(MODES)}")
    return mode


def skin_view(item: PartnerSkin) -> dict[str, Any]:
    """The JSON view of a partner skin (the logo as its size, not its bytes)."""
    cert = item.certification or {}
    return {
        "partner_id": item.partner_id, "name": item.name, "status": item.status,
        "offered": item.status == "certified", "spec": item.spec,
        "logo_bytes": len(item.logo) if item.logo else 0,
        "failures": item.failures or [],
        "certification": cert or None,
        "created_at": item.created_at.isoformat() if item.created_at else None,
        "certified_at": item.certified_at.isoformat() if item.certified_at else None,
    }


def _partner(partner_id: str) -> Partner:
    try:
        return Partner.get(partner_id)
    except DoesNotExist as exc:
        raise NotFound(f"partner {partner_id!r} not found") from exc


def get_skin(partner_id: str, name: str) -> PartnerSkin:
    """A partner's own skin (any status), or :class:`NotFound`."""
    try:
        return PartnerSkin.get(partner_id, name)
    except DoesNotExist as exc:
        raise NotFound(f"skin {name!r} of partner {partner_id!r} not found") from exc


def list_skins(partner_id: str) -> list[PartnerSkin]:
    _partner(partner_id)
    return list(PartnerSkin.query(partner_id))


def skin_of(item: PartnerSkin) -> Skin:
    """The renderable :class:`Skin` of a stored definition."""
    return build_skin(item.partner_id, item.spec, item.logo)


def certified_skin(partner_id: str, name: str) -> Skin:
    """A certified partner skin, ready to render (:class:`NotFound` for any other status)."""
    item = get_skin(partner_id, name)
    if item.status != "certified":
        raise NotFound(f"skin {name!r} of partner {partner_id!r} is {item.status}, not "
                       "certified")
    return skin_of(item)


def _hash(spec: dict[str, Any], logo: bytes | None) -> str:
    h = hashlib.sha256(json.dumps(spec, sort_keys=True).encode())
    h.update(logo or b"")
    return h.hexdigest()


def submit(partner_id: str, spec: SkinSpec, cfg: Settings | None = None
           ) -> tuple[PartnerSkin, bool]:
    """Validate and store a definition ``pending``, then request its certification.

    A retried submit of the same definition changes nothing (and requests certification
    again only while it is still pending); a refused skin may be replaced by a new
    definition of the same name; any other name clash is a :class:`Conflict`.

    Returns
    -------
    (PartnerSkin, bool)
        The stored skin (certified or refused already in ``inline`` mode) and whether this
        call created it.
    """
    cfg = cfg or settings()
    _partner(partner_id)
    logo_png = None if spec.logo is None else normalise_logo(spec.logo.image_base64,
                                                             spec.logo.background)
    stored = spec.model_dump(exclude={"logo": {"image_base64"}})
    build_skin(partner_id, stored, logo_png)  # every shared rule, before anything is stored
    digest = _hash(stored, logo_png)
    item = PartnerSkin(partner_id=partner_id, name=spec.name, status="pending", spec=stored,
                       spec_hash=digest, logo=logo_png, created_at=_now())
    created = True
    try:
        item.save(condition=PartnerSkin.name.does_not_exist()
                  | (PartnerSkin.status == "refused"))
    except PutError as exc:
        if not condition_failed(exc):
            raise
        item, created = get_skin(partner_id, spec.name), False
        if item.spec_hash != digest:
            raise Conflict(f"name: partner {partner_id!r} already has a {item.status} skin "
                           f"{spec.name!r} with another definition") from exc
    if item.status == "pending":
        item = request_certification(item, cfg)
    return item, created


def request_certification(item: PartnerSkin, cfg: Settings | None = None) -> PartnerSkin:
    """Certify now (``inline``) or queue the certification (``queue``)."""
    cfg = cfg or settings()
    if certification_mode(cfg) == "inline":
        return certify_stored(item.partner_id, item.name, item.spec_hash, cfg)
    client("sqs", cfg).send_message(
        QueueUrl=queue_url(QUEUE, cfg),
        MessageBody=json.dumps({"partner_id": item.partner_id, "name": item.name,
                                "spec_hash": item.spec_hash}))
    return item


def certify_stored(partner_id: str, name: str, spec_hash: str, cfg: Settings | None = None,
                   reader_map: dict[str, Any] | None = None) -> PartnerSkin:
    """Run the four-reader certification of a pending skin and record the verdict.

    Idempotent: a skin no longer pending, or redefined since (another ``spec_hash``), is
    returned unchanged. Needs the readers (``requirements-dev.txt``, or the certifier image).
    """
    from paver.certify import READERS, certify_skin
    from paver.render import RenderError

    item = get_skin(partner_id, name)
    if item.status != "pending" or item.spec_hash != spec_hash:
        return item
    skin = skin_of(item)
    try:
        report = certify_skin(skin, reader_map)
        failures = [c.to_dict() for c in report.cells if not c.ok]
        cert = {"readers": list(READERS), "cells": len(report.cells),
                "seconds": round(report.seconds, 1)}
    except RenderError as exc:  # the renderer's own read-back already failed
        failures = [{"skin": name, "payload": "*", "condition": "render", "reader": "zxing",
                     "ok": False, "got": str(exc)[:200], "module_px": None}]
        cert = {"readers": list(READERS), "cells": 0, "seconds": 0.0}
    status = "refused" if failures else "certified"
    try:
        item.update(actions=[PartnerSkin.status.set(status),
                             PartnerSkin.failures.set(failures),
                             PartnerSkin.certification.set(cert),
                             PartnerSkin.certified_at.set(_now())],
                    condition=(PartnerSkin.status == "pending")
                    & (PartnerSkin.spec_hash == spec_hash))
    except UpdateError as exc:
        if condition_failed(exc):
            return get_skin(partner_id, name)  # a concurrent certifier recorded it first
        raise
    if status == "certified":
        Partner(partner_id).update(actions=[
            Partner.skins.set((Partner.skins | []).append([name])),
            Partner.updated_at.set(_now())])
    log.info("partner skin %s/%s %s (%d failing cells)", partner_id, name, status,
             len(failures))
    return item


def set_default(partner_id: str, name: str) -> dict[str, Any]:
    """Make a skin the partner's default: a certified own skin or one of its catalogue skins."""
    from paver.rollout.service import allowed_skins

    partner = _partner(partner_id)
    allowed = allowed_skins(partner)
    if name not in allowed:
        try:
            status = get_skin(partner_id, name).status
            why = f"is {status}, not certified"
        except NotFound:
            why = "is not one of the partner's skins"
        raise SkinSpecError(f"skin: {name!r} {why}; choose one of {', '.join(allowed)}")
    partner.update(actions=[Partner.default_skin.set(name), Partner.updated_at.set(_now())])
    return {"partner_id": partner_id, "default_skin": name, "skins": allowed_skins(partner)}


def process_records(records: Iterable[dict[str, Any]], cfg: Settings | None = None
                    ) -> dict[str, list[dict[str, str]]]:
    """SQS batch logic of the certifier: certify each message's skin.

    A malformed message or one naming no stored skin cannot succeed: it is logged and
    dropped (the skin, if any, stays ``pending`` and a new submit re-queues it). Anything
    else is reported in ``batchItemFailures`` for retry (then the queue's DLQ).
    """
    def certify(rec: Mapping[str, Any]) -> None:
        msg = json.loads(rec.get("body") or "")
        keys = [msg.get(k) if isinstance(msg, dict) else None
                for k in ("partner_id", "name", "spec_hash")]
        if not all(isinstance(k, str) and k for k in keys):
            raise ValueError("partner_id, name, spec_hash: required strings")
        certify_stored(*keys, cfg=cfg)

    return sqs_batch(records, certify, what="skin certification",
                     permanent=(ValueError, NotFound))
