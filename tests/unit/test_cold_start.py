"""A cold start (``import app``) loads no training or data-frame library, and the serving
libraries (numpy, Pillow, PyJWT, PyYAML …) only at a route's first call.

One Chalice Lambda serves every route, so what any handler module imports is paid on every cold
start. Checked in a fresh interpreter: this test process has long imported everything. The time
itself is measured by ``bench/cold_start.py`` (``make bench``), never asserted here; the bench
must print the figure issue #12 bounds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.cold_start import DEFERRED, HEAVY, MAX_RATIO

ROOT = Path(__file__).resolve().parents[2]


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
        "top = {m.split('.')[0] for m in sys.modules}\n"
        f"print(json.dumps({{'routes': len(app.app.routes), 'heavy': sorted("
        f"top & set({HEAVY!r})), 'deferred': sorted(top & set({DEFERRED!r}))}}))")
    assert got["routes"] > 10  # the app really registered its blueprints
    assert got["heavy"] == []
    assert got["deferred"] == []


def test_a_route_loads_its_libraries_at_its_first_call() -> None:
    """The lazy bindings of the handler modules are the real core modules once called."""
    got = _fresh(
        "import json, sys\n"
        "import app\n"
        "from functions import risk\n"
        "before = 'numpy' in sys.modules\n"
        "fn = risk.service.screen_event\n"
        "print(json.dumps({'before': before, 'after': 'numpy' in sys.modules,\n"
        "                  'fn': fn.__module__ + '.' + fn.__name__}))")
    assert got == {"before": False, "after": True, "fn": "paver.risk.service.screen_event"}


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


def test_bench_prints_the_cold_start_ratio() -> None:
    """``make bench`` shows import app against the minimal stack, with the bound of issue #12."""
    code = "import json; from bench.cold_start import run; print(json.dumps(run(quick=True)))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PAVER_STAGE": "test"})
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout.splitlines()[-1])
    by_metric = {r["metric"]: r for r in rows}
    minimal = by_metric["import boto3, pynamodb.models, chalice"]["value"]
    full = by_metric["import app"]["value"]
    ratio = by_metric["app / minimal stack"]
    assert minimal > 0 and full > 0
    assert ratio["target"] == MAX_RATIO and ratio["unit"] == "x"
    assert abs(ratio["value"] - full / minimal) < 0.01 + 0.01 * ratio["value"]
    assert ratio["ok"] == (ratio["value"] <= MAX_RATIO)
    assert by_metric["heavy libraries loaded by import app"]["value"] == "none"
