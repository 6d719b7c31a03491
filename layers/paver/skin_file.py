"""The shape of a skin file as Pydantic models (types, ranges, choices, unknown fields):
:func:`paver.skins.parse_skin` validates a file with :class:`SkinFile`, then checks across
fields. Apart from :mod:`paver.skins` so that building these models costs nothing until a skin
file is first read (not on every cold start).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from paver.skins import (
    _HEX_RE,
    _NAME_RE,
    CAPTION_POSITIONS,
    FRAME_STYLES,
    LOGO_MARKS,
    MIN_CODE_MM,
    MIN_QUIET_ZONE,
    SIZE_KINDS,
)


def _color(value: str) -> str:
    if not _HEX_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not a #RRGGBB colour")
    return value.upper()


def _one_of(choices: frozenset[str]) -> Any:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {sorted(choices)}")
        return value
    return AfterValidator(check)


def _ascii(value: str | None) -> str | None:
    if value is not None and not value.isascii():
        raise ValueError(f"{value!r} must be ASCII (it is drawn with the built-in font)")
    return value


def _text(max_len: int) -> Any:
    return StringConstraints(min_length=1, max_length=max_len, pattern=r"\S")


def _mm(low: float, high: float) -> Any:
    return Field(ge=low, le=high)


_Color = Annotated[str, AfterValidator(_color)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class _PaletteIn(_In):
    module: _Color
    background: _Color
    frame: _Color
    accent: _Color
    text: _Color


class _FrameIn(_In):
    style: Annotated[str, _one_of(FRAME_STYLES)]
    border_mm: Annotated[float, _mm(0, 30)]
    panel_radius_mm: Annotated[float, _mm(0, 20)] = 0.0
    panel_padding_mm: Annotated[float, _mm(0, 15)] = 2.0


class _LogoIn(_In):
    mark: Annotated[str, _one_of(LOGO_MARKS)]
    fraction: Annotated[float, _mm(0.05, 1.0)]
    foreground: _Color
    background: _Color


class _CaptionIn(_In):
    text: Annotated[str, _text(24)]
    text_latin: Annotated[str, _text(40), AfterValidator(_ascii)]
    subtitle: Annotated[str | None, _text(60), AfterValidator(_ascii)] = None
    size_mm: Annotated[float, _mm(2, 20)]
    position: Annotated[str, _one_of(CAPTION_POSITIONS)] = "top"


class _SizeIn(_In):
    kind: Annotated[str, _one_of(SIZE_KINDS)]
    width_mm: Annotated[float, _mm(30, 400)]
    height_mm: Annotated[float, _mm(30, 600)]
    code_mm: Annotated[float, _mm(MIN_CODE_MM, 300)]


class SkinFile(_In):
    """The shape of a skin file (its checks across fields follow in :func:`parse_skin`)."""

    name: Annotated[str, StringConstraints(pattern=_NAME_RE.pattern)]
    title: Annotated[str, _text(60)]
    region: Annotated[str, _text(40)]
    description: Annotated[str, StringConstraints(max_length=300)] | None = None
    palette: _PaletteIn
    frame: _FrameIn
    logo: _LogoIn | None = None
    caption: _CaptionIn
    size: _SizeIn
    quiet_zone_modules: Annotated[int, Field(ge=MIN_QUIET_ZONE, le=10)] = MIN_QUIET_ZONE
