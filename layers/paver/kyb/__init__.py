"""Know-your-business checks for merchant binding (issue 5): the pure-domain core.

- :mod:`paver.kyb.photo`: store-photo intake (byte sniffing, safe open, QR payloads).
- :mod:`paver.kyb.exif`: WGS-84 position from EXIF GPS.
- :mod:`paver.kyb.geo`: datums (WGS-84 → GCJ-02 → BD-09) and distances.
- :mod:`paver.kyb.uscc`: Unified Social Credit Code validation and generation.

Synthetic store photos for tests and demos are developer tooling: ``paver_dev.photo_gen``.
"""

import importlib
from typing import Any

#: Where each re-exported name lives. Loaded on first use (PEP 562): ``paver.kyb.uscc``, which
#: ingest needs for every row, must not pull in Pillow and pillow-heif through this package.
_HOME: dict[str, str] = {
    **dict.fromkeys(("NoPositionError", "gps_from_ifd", "photo_position", "read_gps"), "exif"),
    **dict.fromkeys(("BD09", "GCJ02", "WGS84", "GeoPoint", "distance_to_registered",
                     "gcj02_to_bd09", "haversine_m", "to_datum", "wgs84_to_gcj02"), "geo"),
    **dict.fromkeys(("DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "PhotoError",
                     "decode_qr_payloads", "open_photo", "sniff_image_type"), "photo"),
    **dict.fromkeys(("corrupt_uscc", "generate_uscc", "is_valid_uscc", "validate_uscc"),
                    "uscc"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "BD09",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "GCJ02",
    "WGS84",
    "GeoPoint",
    "NoPositionError",
    "PhotoError",
    "corrupt_uscc",
    "decode_qr_payloads",
    "distance_to_registered",
    "gcj02_to_bd09",
    "generate_uscc",
    "gps_from_ifd",
    "haversine_m",
    "is_valid_uscc",
    "open_photo",
    "photo_position",
    "read_gps",
    "sniff_image_type",
    "to_datum",
    "validate_uscc",
    "wgs84_to_gcj02",
]
