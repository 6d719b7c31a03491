"""Arrows point down: app.py → functions/ → paver (the core) → storage; tooling beside them.

The core (``layers/paver``) is what every Lambda function ships; it must not reach up into the
app or the handlers, nor into the developer tooling (``paver_dev``), nor need a dev-only
library. Handlers must not need tooling either. Checked on the source with ``ast`` (every
import statement, lazy ones inside functions included).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "layers" / "paver"
HANDLERS = ROOT / "functions"
#: Top-level packages the core may never import: the layers above it, tooling, deployment,
#: and libraries only requirements-dev.txt installs (certify's optional readers aside).
CORE_FORBIDDEN = frozenset({"app", "functions", "paver_dev", "infra", "chalice", "click",
                            "tqdm", "moto", "requests"})
HANDLERS_FORBIDDEN = frozenset({"app", "paver_dev", "infra", "click", "tqdm", "moto",
                                "requests"})
#: Scripts that sit beside assets and are run by hand (never imported by a function).
_ASSET_SCRIPTS = frozenset({CORE / "assets" / "fonts" / "make_subset.py"})


def imported_roots(path: Path) -> dict[str, int]:
    """Top-level package of every import in ``path`` → first line it appears on."""
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            found.setdefault(name.split(".")[0], node.lineno)
    return found


def _violations(root: Path, forbidden: frozenset[str]) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        if path in _ASSET_SCRIPTS:
            continue
        for pkg, line in imported_roots(path).items():
            if pkg in forbidden:
                out.append(f"{path.relative_to(ROOT)}:{line} imports {pkg}")
    return out


def test_the_core_imports_nothing_above_it_nor_tooling() -> None:
    assert _violations(CORE, CORE_FORBIDDEN) == []


def test_handlers_import_no_tooling() -> None:
    assert _violations(HANDLERS, HANDLERS_FORBIDDEN) == []


@pytest.mark.parametrize("source, expected", [
    ("import app\n", {"app"}),
    ("def f():\n    from paver_dev.world import transfers\n", {"paver_dev"}),
    ("from functions._auth import principal\n", {"functions"}),
    ("from . import sibling\nimport numpy as np\n", {"numpy"}),
])
def test_the_check_sees_every_kind_of_import(tmp_path: Path, source: str,
                                             expected: set[str]) -> None:
    path = tmp_path / "mod.py"
    path.write_text(source, encoding="utf-8")
    assert set(imported_roots(path)) == expected


def test_only_entry_points_bind_the_storage_models() -> None:
    """The core assumes bound models: binding is the composition root's job (app.py's
    middleware, the certifier's handler, tooling), not a call scattered in every service."""
    callers = []
    for path in sorted(CORE.rglob("*.py")):
        if path == CORE / "storage" / "registry.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in ("bind", "bind_all"):
                    callers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert callers == []
