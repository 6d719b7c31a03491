"""Cold start: ``import app`` against the minimal stack ``import boto3, pynamodb.models, chalice``.

One Chalice Lambda serves every route, so each cold start pays for everything the handler
modules import. Each import is timed in a fresh interpreter (the median of several runs; the
interpreter's own start-up is not counted), and the row ``app / minimal stack`` carries the
acceptance bound of issue #12: at most 2. The heavy libraries a cold start must not load
(scikit-learn, scipy, pandas) are listed as well, and so are the serving libraries the routes
load at their first call rather than at import (numpy, Pillow, PyJWT, PyYAML …: see
``paver.lazy``); ``tests/unit/test_cold_start.py`` holds both lists to none.

``python -m bench cold_start`` or ``python bench/cold_start.py [--quick]``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = "import boto3, pynamodb.models, chalice"
APP = "import app"
#: What serving must leave out of a cold start (training and data-frame libraries).
HEAVY = ("sklearn", "scipy", "pandas")
#: Serving libraries a route loads at its first call (``paver.lazy``), not ``import app``.
DEFERRED = ("numpy", "PIL", "pillow_heif", "zxingcpp", "jwt", "cryptography", "yaml",
            "durable", "qrcode")
MAX_RATIO = 2.0

_PROBE = """
import json, sys, time
t = time.perf_counter()
exec({stmt!r})
elapsed = time.perf_counter() - t
top = {{m.split('.')[0] for m in sys.modules}}
print(json.dumps({{"s": elapsed, "heavy": sorted(top & set({heavy!r})),
                  "deferred": sorted(top & set({deferred!r}))}}))
"""


def time_import(stmt: str) -> dict[str, Any]:
    """Seconds ``stmt`` takes in a fresh interpreter, and which heavy libraries it loaded."""
    probe = _PROBE.format(stmt=stmt, heavy=HEAVY, deferred=DEFERRED)
    proc = subprocess.run([sys.executable, "-c", probe],
                          cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Median of 5 (``quick``: 1) fresh-interpreter imports of each; one row per figure."""
    runs = 1 if quick else 5
    # one warm-up each: the first run after an install also compiles bytecode
    time_import(MINIMAL)
    time_import(APP)
    minimal = [time_import(MINIMAL)["s"] for _ in range(runs)]
    app_probes = [time_import(APP) for _ in range(runs)]
    t_min = statistics.median(minimal)
    t_app = statistics.median(p["s"] for p in app_probes)
    heavy = sorted({m for p in app_probes for m in p["heavy"]})
    deferred = sorted({m for p in app_probes for m in p["deferred"]})
    ratio = t_app / t_min
    return [
        {"benchmark": "cold_start", "metric": MINIMAL, "value": round(t_min * 1000, 1),
         "unit": "ms"},
        {"benchmark": "cold_start", "metric": APP, "value": round(t_app * 1000, 1),
         "unit": "ms"},
        {"benchmark": "cold_start", "metric": "app / minimal stack", "value": round(ratio, 2),
         "unit": "x", "target": MAX_RATIO, "ok": ratio <= MAX_RATIO},
        {"benchmark": "cold_start", "metric": "heavy libraries loaded by import app",
         "value": ", ".join(heavy) or "none", "unit": "", "target": "none", "ok": not heavy},
        {"benchmark": "cold_start", "metric": "first-call libraries loaded by import app",
         "value": ", ".join(deferred) or "none", "unit": "", "target": "none",
         "ok": not deferred},
    ]


if __name__ == "__main__":  # run as a script: the same table as `python -m bench`
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from bench.__main__ import main

    raise SystemExit(main(["cold_start", *sys.argv[1:]]))
