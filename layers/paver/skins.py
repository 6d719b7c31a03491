"""Skins (码牌物料): the printed material around an aggregated code, as validated data.

A skin is one YAML file in ``paver/assets/skins/`` (palette, frame, logo, caption, regional
theme, sticker or stand size); ``catalog.yaml`` beside them says which skin is the default for
a partner kind, a region or a given partner, and which skins a merchant may choose from.

Validation keeps every skin scannable before anything is drawn: modules dark on a light
background with a WCAG contrast ratio of at least :data:`MIN_MODULE_CONTRAST`, a quiet zone of at
least four modules, a logo no wider than :data:`MAX_LOGO_FRACTION` of the code (well inside what
error-correction level H recovers), and a code large enough to print. The renderer
(:mod:`paver.render`) still decodes every code it draws before returning it.

A skin file's shape is a Pydantic model (types, ranges, choices, unknown fields), its checks
across fields (contrast, fit) follow; every problem names the file and line, the skin and the
field (``lingnan_red.yaml:7: skin 'lingnan_red': field 'palette.module': …``), as the rule
files do (:mod:`paver.yaml_source`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paver.errors import InvalidInput
from paver.lazy import lazy_module
from paver.yaml_source import load_with_lines, located_errors, yaml_error_line

if TYPE_CHECKING:
    import yaml
else:  # when the skin files are first read, not at import app
    yaml = lazy_module("yaml")

__all__ = [
    "FRAME_STYLES",
    "LOGO_MARKS",
    "MAX_LOGO_FRACTION",
    "MIN_MODULE_CONTRAST",
    "MIN_QUIET_ZONE",
    "SKINS_DIR",
    "Caption",
    "Frame",
    "Logo",
    "Palette",
    "Size",
    "Skin",
    "SkinChoice",
    "SkinError",
    "contrast_ratio",
    "get_skin",
    "load_catalog",
    "load_skins",
    "relative_luminance",
    "skins_for_partner",
]

SKINS_DIR = Path(__file__).resolve().parent / "assets" / "skins"
CATALOG_FILE = "catalog.yaml"

#: WCAG contrast ratio required between module colour and code background.
MIN_MODULE_CONTRAST = 4.5
#: WCAG contrast ratio required between caption text and the frame it sits on.
MIN_TEXT_CONTRAST = 3.0
#: Quiet zone around the code, in modules (ISO/IEC 18004 asks for 4).
MIN_QUIET_ZONE = 4
#: Largest logo width as a fraction of the code width (area ≤ 6.25 %, far below the ~30 %
#: that level H recovers; logos beyond ~0.40 of the width stop scanning).
MAX_LOGO_FRACTION = 0.25
#: Smallest printed code edge, in millimetres.
MIN_CODE_MM = 20.0

#: Frame motifs and logo marks the renderer knows how to draw.
FRAME_STYLES = frozenset({"plain", "waves", "kapok", "peppers", "snowflakes", "dunes"})
LOGO_MARKS = frozenset({"pay", "wave", "kapok", "pepper", "snowflake", "sun"})
SIZE_KINDS = frozenset({"sticker", "stand"})
CAPTION_POSITIONS = frozenset({"top", "bottom"})

_NAME_RE = re.compile(r"[a-z][a-z0-9_]{1,40}")
_HEX_RE = re.compile(r"#[0-9A-Fa-f]{6}")


class SkinError(InvalidInput):
    """A skin or the catalog is invalid, or a requested skin is unknown or not allowed."""


def _hex_to_rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@functools.lru_cache(maxsize=64)
def image_colors(png: bytes) -> tuple[str, ...]:
    """``#RRGGBB`` colours of a palette PNG (a partner logo), in palette order."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        used = sorted({c for _, c in rgb.getcolors(maxcolors=256) or []})
    return tuple(f"#{r:02X}{g:02X}{b:02X}" for r, g, b in used)


def relative_luminance(color: str) -> float:
    """WCAG 2 relative luminance of a ``#RRGGBB`` colour (0 black – 1 white)."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in _hex_to_rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#RRGGBB`` colours (1–21, symmetric)."""
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


@dataclass(frozen=True)
class Palette:
    """Colours of a skin (``#RRGGBB``).

    Attributes
    ----------
    module
        Dark QR modules.
    background
        Code panel and quiet zone (light).
    frame
        Body of the sticker or stand.
    accent
        Frame motif.
    text
        Caption text (on the frame).
    """

    module: str
    background: str
    frame: str
    accent: str
    text: str


@dataclass(frozen=True)
class Frame:
    """Frame geometry and motif.

    Attributes
    ----------
    style
        One of :data:`FRAME_STYLES`.
    border_mm
        Margin between the material's edge and its content.
    panel_radius_mm
        Corner radius of the light code panel.
    panel_padding_mm
        Panel margin around the code's own quiet zone.
    """

    style: str
    border_mm: float
    panel_radius_mm: float
    panel_padding_mm: float


@dataclass(frozen=True)
class Logo:
    """Logo drawn in the middle of the code (modules under it are cleared).

    Attributes
    ----------
    mark
        One of :data:`LOGO_MARKS`.
    fraction
        Logo width as a fraction of the code width (≤ :data:`MAX_LOGO_FRACTION`).
    foreground, background
        Colours of the mark and of its rounded tile.
    image
        A partner's own logo instead of a drawn mark (``mark`` is then ``"image"``): a square
        palette PNG, already validated and reduced to a few colours
        (:mod:`paver.partner_skins`); its colours join the skin's palette.
    """

    mark: str
    fraction: float
    foreground: str
    background: str
    image: bytes | None = None


@dataclass(frozen=True)
class Caption:
    """Caption printed on the frame.

    Attributes
    ----------
    text
        The caption (may be Chinese: drawn with the shipped CJK font, see ``assets/fonts``).
    text_latin
        ASCII rendition of the caption (for readers of the data; the PNG draws ``text`` with
        the shipped CJK font).
    subtitle
        Optional ASCII line under the code (e.g. "Scan with any payment app").
    size_mm
        Caption text height.
    position
        ``"top"`` or ``"bottom"`` of the code panel.
    """

    text: str
    text_latin: str
    subtitle: str | None
    size_mm: float
    position: str


@dataclass(frozen=True)
class Size:
    """Physical size of the material.

    Attributes
    ----------
    kind
        ``"sticker"`` (码贴) or ``"stand"`` (台卡).
    width_mm, height_mm
        Material size.
    code_mm
        Edge of the code square including its quiet zone.
    """

    kind: str
    width_mm: float
    height_mm: float
    code_mm: float


@dataclass(frozen=True)
class Skin:
    """A validated skin.

    Attributes
    ----------
    name
        Identifier (the YAML file stem).
    title
        Display name.
    region
        Regional theme key (``"jiangnan"``, ``"lingnan"``...) or ``"neutral"``.
    quiet_zone_modules
        Quiet zone in modules (≥ :data:`MIN_QUIET_ZONE`).
    """

    name: str
    title: str
    region: str
    description: str
    palette: Palette
    frame: Frame
    logo: Logo | None
    caption: Caption
    size: Size
    quiet_zone_modules: int = MIN_QUIET_ZONE

    def colors(self) -> tuple[str, ...]:
        """All distinct colours the skin uses, upper-case, in a stable order."""
        seen: dict[str, None] = {}
        values = [self.palette.background, self.palette.module, self.palette.frame,
                  self.palette.accent, self.palette.text]
        if self.logo is not None:
            values += [self.logo.background, self.logo.foreground]
            if self.logo.image is not None:
                values += list(image_colors(self.logo.image))
        for value in values:
            seen.setdefault(value.upper(), None)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (for ``paver qr skins --json``)."""
        return {
            "name": self.name,
            "title": self.title,
            "region": self.region,
            "description": self.description,
            "kind": self.size.kind,
            "size_mm": [self.size.width_mm, self.size.height_mm],
            "code_mm": self.size.code_mm,
            "palette": vars(self.palette).copy(),
            "frame_style": self.frame.style,
            "logo": self.logo.mark if self.logo else None,
            "caption": self.caption.text,
            "module_contrast": round(contrast_ratio(self.palette.module,
                                                    self.palette.background), 2),
        }


# --------------------------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------------------------

def _problem(skin: str, field: str, problem: str, where: str = "") -> SkinError:
    return SkinError(f"{where}skin {skin!r}: field {field or '<root>'!r}: {problem}")


def parse_skin(name: str, data: Any, *, lines: Mapping[tuple[Any, ...], int] | None = None,
               source: str | None = None) -> Skin:
    """Validate one skin's data and build a :class:`Skin`.

    Parameters
    ----------
    name
        Expected skin name (the file stem); the data's ``name`` must match.
    data
        The parsed YAML mapping.
    lines, source
        Where the data came from (:func:`paver.yaml_source.load_with_lines` of the file
        ``source``): errors then start with ``source:line:``.

    Returns
    -------
    Skin
        The validated skin.

    Raises
    ------
    SkinError
        Naming the skin and the field, e.g. ``skin 'x': field 'palette.module': ...`` (every
        problem of the file's shape, one per line; then the first problem across fields).
    """
    from pydantic import ValidationError

    from paver.skin_file import SkinFile

    def at(*path: str) -> str:
        line = (lines or {}).get(tuple(path)) or (lines or {}).get(tuple(path[:1]))
        return f"{source}:{line}: " if source and line else f"{source}: " if source else ""

    if not isinstance(data, Mapping):
        raise _problem(name, "", f"must be a mapping, got {type(data).__name__}", at())
    try:
        spec = SkinFile.model_validate(data)
    except ValidationError as exc:
        raise SkinError("\n".join(
            f"{source + ':' + str(line) + ': ' if source else ''}skin {name!r}: "
            f"field {field or '<root>'!r}: {msg}"
            for line, field, msg in located_errors(exc, dict(lines or {})))) from None
    if not _NAME_RE.fullmatch(name):
        raise _problem(name, "name", f"{name!r} must be lower-case letters, digits and _",
                       at("name"))
    if spec.name != name:
        raise _problem(name, "name", f"{spec.name!r} does not match the file name {name!r}",
                       at("name"))
    palette = Palette(**spec.palette.model_dump())
    if relative_luminance(palette.module) >= relative_luminance(palette.background):
        raise _problem(name, "palette.module", f"modules {palette.module} must be darker than "
                       f"the background {palette.background} (dark on light)",
                       at("palette", "module"))
    ratio = contrast_ratio(palette.module, palette.background)
    if ratio < MIN_MODULE_CONTRAST:
        raise _problem(name, "palette.module", f"contrast {ratio:.2f}:1 against background "
                       f"{palette.background} is below {MIN_MODULE_CONTRAST}:1",
                       at("palette", "module"))
    text_ratio = contrast_ratio(palette.text, palette.frame)
    if text_ratio < MIN_TEXT_CONTRAST:
        raise _problem(name, "palette.text", f"contrast {text_ratio:.2f}:1 against frame "
                       f"{palette.frame} is below {MIN_TEXT_CONTRAST}:1", at("palette", "text"))
    frame = Frame(**spec.frame.model_dump())
    logo = Logo(**spec.logo.model_dump()) if spec.logo else None
    if logo is not None and logo.fraction > MAX_LOGO_FRACTION:
        raise _problem(name, "logo.fraction", f"{logo.fraction} of the code width exceeds "
                       f"{MAX_LOGO_FRACTION} (the code would stop scanning)",
                       at("logo", "fraction"))
    caption = Caption(**spec.caption.model_dump())
    size = Size(**spec.size.model_dump())
    room = size.width_mm - 2 * (frame.border_mm + frame.panel_padding_mm)
    if size.code_mm > room:
        raise _problem(name, "size.code_mm", f"{size.code_mm} mm does not fit: width "
                       f"{size.width_mm} mm leaves {room:g} mm inside border and panel "
                       "padding", at("size", "code_mm"))
    needed = size.code_mm + 2 * (frame.border_mm + frame.panel_padding_mm) \
        + 2.2 * caption.size_mm + (2.2 * caption.size_mm if caption.subtitle else 0)
    if size.height_mm < needed:
        raise _problem(name, "size.height_mm", f"{size.height_mm} mm is too short for code, "
                       f"border and captions (needs {needed:g} mm)", at("size", "height_mm"))
    return Skin(name=name, title=spec.title, region=spec.region,
                description=spec.description or "", palette=palette, frame=frame, logo=logo,
                caption=caption, size=size, quiet_zone_modules=spec.quiet_zone_modules)


def _read_yaml(path: Path) -> Any:
    return _read_yaml_lines(path)[0]


def _read_yaml_lines(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        return load_with_lines(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line = yaml_error_line(exc)
        raise SkinError(f"{path.name}{f':{line}' if line else ''}: not valid YAML: {exc}"
                        ) from exc


def load_skins(directory: Path | str | None = None) -> dict[str, Skin]:
    """Load and validate every skin file (``*.yaml`` except the catalog).

    Parameters
    ----------
    directory
        Folder of skin files; the shipped ``assets/skins`` by default (cached).

    Returns
    -------
    dict[str, Skin]
        Skins by name, sorted by name.

    Raises
    ------
    SkinError
        The first invalid skin, naming the skin and the field.
    """
    if directory is None:
        return dict(_shipped_skins())
    return _load_dir(Path(directory))


def _load_dir(directory: Path) -> dict[str, Skin]:
    skins: dict[str, Skin] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == CATALOG_FILE:
            continue
        data, lines = _read_yaml_lines(path)
        skins[path.stem] = parse_skin(path.stem, data, lines=lines, source=path.name)
    if not skins:
        raise SkinError(f"no skin files in {directory}")
    return skins


@functools.cache
def _shipped_skins() -> Mapping[str, Skin]:
    return _load_dir(SKINS_DIR)


def get_skin(name: str) -> Skin:
    """Return a shipped skin by name.

    Raises
    ------
    SkinError
        Unknown name (the message lists the known skins).
    """
    skins = _shipped_skins()
    if name not in skins:
        raise SkinError(f"unknown skin {name!r}; known skins: {', '.join(sorted(skins))}")
    return skins[name]


# --------------------------------------------------------------------------------------------
# Catalog: defaults per partner kind, region and partner
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SkinChoice:
    """The skins offered to a partner's merchants.

    Attributes
    ----------
    default
        The skin printed unless the merchant picks another.
    choices
        Skins a merchant may choose from (``default`` first).
    """

    default: Skin
    choices: tuple[Skin, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the choices, default first."""
        return tuple(s.name for s in self.choices)

    def pick(self, requested: str | None = None) -> Skin:
        """The merchant's requested skin, or the default when ``requested`` is ``None``.

        Raises
        ------
        SkinError
            ``requested`` is not among the choices.
        """
        if requested is None:
            return self.default
        for skin in self.choices:
            if skin.name == requested:
                return skin
        raise SkinError(f"skin {requested!r} is not offered here; choose one of "
                        f"{', '.join(self.names)}")


@dataclass(frozen=True)
class Catalog:
    """Validated ``catalog.yaml``: default skin, partner kinds, regions, partner overrides."""

    default: str
    partner_kinds: Mapping[str, tuple[str, tuple[str, ...]]]
    regions: Mapping[str, tuple[str, ...]]
    region_aliases: Mapping[str, str]
    partners: Mapping[str, tuple[str | None, tuple[str, ...]]]


def _names(owner: str, value: Any, skins: Mapping[str, Skin]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SkinError(f"catalog: {owner} must be a list of skin names")
    for v in value:
        if v not in skins:
            raise SkinError(f"catalog: {owner} names unknown skin {v!r}")
    return tuple(value)


def parse_catalog(data: Any, skins: Mapping[str, Skin]) -> Catalog:
    """Validate the catalog against the loaded skins.

    Raises
    ------
    SkinError
        Naming the catalog entry and the unknown skin or bad field.
    """
    if not isinstance(data, Mapping):
        raise SkinError("catalog: must be a mapping")
    default = data.get("default")
    if default not in skins:
        raise SkinError(f"catalog: default names unknown skin {default!r}")
    kinds: dict[str, tuple[str, tuple[str, ...]]] = {}
    for kind, entry in (data.get("partner_kinds") or {}).items():
        if not isinstance(entry, Mapping):
            raise SkinError(f"catalog: partner_kinds.{kind} must be a mapping")
        kind_default = entry.get("default", default)
        if kind_default not in skins:
            raise SkinError(f"catalog: partner_kinds.{kind}.default names unknown skin "
                            f"{kind_default!r}")
        kinds[str(kind)] = (kind_default, _names(f"partner_kinds.{kind}.choices",
                                                 entry.get("choices"), skins))
    regions: dict[str, tuple[str, ...]] = {}
    aliases: dict[str, str] = {}
    for region, entry in (data.get("regions") or {}).items():
        if not isinstance(entry, Mapping):
            raise SkinError(f"catalog: regions.{region} must be a mapping")
        regions[str(region)] = _names(f"regions.{region}.skins", entry.get("skins"), skins)
        if not regions[str(region)]:
            raise SkinError(f"catalog: regions.{region}.skins is empty")
        aliases[_norm(str(region))] = str(region)
        for alias in entry.get("provinces") or []:
            key = _norm(str(alias))
            if key in aliases and aliases[key] != region:
                raise SkinError(f"catalog: province {alias!r} is in two regions")
            aliases[key] = str(region)
    partners: dict[str, tuple[str | None, tuple[str, ...]]] = {}
    for partner_id, entry in (data.get("partners") or {}).items():
        if not isinstance(entry, Mapping):
            raise SkinError(f"catalog: partners.{partner_id} must be a mapping")
        p_default = entry.get("default")
        if p_default is not None and p_default not in skins:
            raise SkinError(f"catalog: partners.{partner_id}.default names unknown skin "
                            f"{p_default!r}")
        partners[str(partner_id)] = (p_default, _names(f"partners.{partner_id}.choices",
                                                       entry.get("choices"), skins))
    return Catalog(default, kinds, regions, aliases, partners)


def _norm(text: str) -> str:
    """Normalise a region or province name: lower case, no spaces, no 省/市/自治区 suffix."""
    key = text.strip().lower().replace(" ", "").replace("-", "").replace("_", "")
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市",
                   "province", "city"):
        if key.endswith(suffix) and len(key) > len(suffix):
            key = key[: -len(suffix)]
            break
    return key


def load_catalog(directory: Path | str | None = None) -> Catalog:
    """Load and validate ``catalog.yaml`` (shipped one by default, cached)."""
    if directory is None:
        return _shipped_catalog()
    directory = Path(directory)
    return parse_catalog(_read_yaml(directory / CATALOG_FILE), _load_dir(directory))


@functools.cache
def _shipped_catalog() -> Catalog:
    return parse_catalog(_read_yaml(SKINS_DIR / CATALOG_FILE), _shipped_skins())


def region_of(place: str | None, catalog: Catalog | None = None) -> str | None:
    """Regional theme key for a region key or province name (pinyin or Chinese), or None."""
    if not place:
        return None
    catalog = catalog or load_catalog()
    return catalog.region_aliases.get(_norm(place))


def skins_for_partner(partner_kind: str, region: str | None = None,
                      partner_id: str | None = None) -> SkinChoice:
    """The default skin and the merchant's choices for a partner.

    The default is, first found: the partner's own default (``partners`` in the catalog), the
    regional theme of ``region``, the partner kind's default, the catalog default. The choices
    are the union of those sources' skins, default first.

    Parameters
    ----------
    partner_kind
        Partner kind key of the catalog (``"acquiring_bank"``, ``"service_provider"``...).
    region
        Region key or province (``"jiangnan"``, ``"zhejiang"``, ``"浙江省"``); unknown regions
        fall back to the kind's default.
    partner_id
        Partner whose catalog entry, if any, overrides the default and adds choices.

    Returns
    -------
    SkinChoice
        Validated skins.

    Raises
    ------
    SkinError
        Unknown partner kind (the message lists the known ones).
    """
    catalog = load_catalog()
    skins = _shipped_skins()
    if partner_kind not in catalog.partner_kinds:
        raise SkinError(f"unknown partner kind {partner_kind!r}; known: "
                        f"{', '.join(sorted(catalog.partner_kinds))}")
    kind_default, kind_choices = catalog.partner_kinds[partner_kind]
    theme = region_of(region, catalog)
    regional = catalog.regions.get(theme, ()) if theme else ()
    p_default, p_choices = catalog.partners.get(partner_id or "", (None, ()))
    default = p_default or (regional[0] if regional else None) or kind_default \
        or catalog.default
    names = dict.fromkeys([default, *p_choices, *regional, kind_default, *kind_choices])
    return SkinChoice(skins[default], tuple(skins[n] for n in names))
