"""A cold start (``import app``) loads no training or data-frame library.

One Chalice Lambda serves every route, so what any handler module imports is paid on every cold
start. Checked in a fresh interpreter: this test process has long imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sklearn", "scipy", "pandas")


def _fresh(code: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "PAVER_STAGE": "test", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_app_leaves_training_libraries_out() -> None:
    got = _fresh(
        "import json, sys\n"
        "import app\n"
        f"print(json.dumps({{'routes': len(app.app.routes), 'heavy': sorted("
        f"{{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))}}))")
    assert got["routes"] > 10  # the app really registered its blueprints
    assert got["heavy"] == []


def test_pandas_loads_when_partner_frames_are_first_built() -> None:
    """The lazy binding is real pandas at first use (scoring still works after a cold start)."""
    got = _fresh(
        "import json, sys\n"
        "import app\n"
        "from paver.trust.store import _partner_frame\n"
        "before = 'pandas' in sys.modules\n"
        "frame = _partner_frame([{'partner_id': 'P0001'}])\n"
        "print(json.dumps({'before': before, 'after': 'pandas' in sys.modules,\n"
        "                  'type': type(frame).__module__ + '.' + type(frame).__name__,\n"
        "                  'rows': len(frame)}))")
    assert got["before"] is False
    assert got["after"] is True
    assert got["type"].startswith("pandas") and got["type"].endswith(".DataFrame")
    assert got["rows"] == 1
