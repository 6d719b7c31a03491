"""The static web assets shipped with the package (``paver/assets/web``)."""

from __future__ import annotations

import re
from pathlib import Path

WEB_DIR = Path(__file__).parent / "assets" / "web"
#: Served file types (text only: no build step, no binaries).
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
                 ".json": "application/json"}
APPS = ("console", "m")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}\.(html|js|css|svg|json)$")


def read_asset(app: str, name: str) -> tuple[bytes, str] | None:
    """An asset of ``app`` (its own directory first, then ``shared/``), or ``None``.

    Names are plain file names (no path separators, no dot-files), so nothing outside the
    asset directories can be read.
    """
    if app not in APPS or not _NAME.match(name):
        return None
    for folder in (WEB_DIR / app, WEB_DIR / "shared"):
        path = folder / name
        if path.is_file():
            return path.read_bytes(), path.suffix
    return None
