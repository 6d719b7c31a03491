"""Where the project's own files are (the Chalice project root), from an editable install."""

from __future__ import annotations

from pathlib import Path


class ProjectNotFound(RuntimeError):
    """The Chalice project (app.py + .chalice/) is not beside this package."""


def project_root() -> Path:
    """The directory holding ``app.py`` and ``.chalice/`` (``layers/paver`` → two levels up)."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent.parent, Path.cwd()):
        if (cand / "app.py").is_file() and (cand / ".chalice" / "config.json").is_file():
            return cand
    raise ProjectNotFound(
        "app.py and .chalice/config.json not found: run from a checkout of the Paver repository"
    )
