"""Lambda sizes: the serving layer every zip function gets, and the training image's own
dependencies, against Lambda's 250 MB (function code + layers, unzipped).

Each is built by ``infra.layer.build`` (pinned wheels, tests and bytecode stripped, the
runtime's own boto3 dropped, extension modules stripped) from the wheels this interpreter can
install, which an offline mirror holds (``here=True``): the sizes stand for the runtime's
within a few per cent, the layer itself would not run on Lambda. Issue #12 asks for at least
60 MB of headroom under 250 MB, or the heavy functions in container images with their size
written down (README, "Lambda layer"): the serving layer (``requirements.txt`` less
``infra.layer.TRAINING``: scipy, scikit-learn) is what ``make layer`` ships; the training
routes run in an image (``infra/training.py``) whose dependencies are the full set (the row
"training image"; the image adds them to AWS's Python base image, and Lambda allows 10 GB).

The rows: both builds, what the training libraries add, and the largest packages. About a
minute (no download).

``python -m bench layer_size`` or ``python bench/layer_size.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: infra is a top-level package of the repo
    sys.path.insert(0, str(ROOT))

from infra.layer import MB, TRAINING, UNZIPPED_LIMIT, build  # noqa: E402

#: Issue #12: the layer leaves at least this much room under Lambda's 250 MB.
MIN_HEADROOM_MB = 60.0


def _row(metric: str, value: Any, unit: str = "MB", **extra: Any) -> dict[str, Any]:
    return {"benchmark": "layer_size", "metric": metric, "value": value, "unit": unit, **extra}


def _layer(work: Path, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    name = "serving" if leave_out else "full"
    return build(work / name, ROOT / "requirements.txt", here=True, leave_out=leave_out)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Build both layers (``quick`` changes nothing: no smaller input exists); one row each."""
    rows: list[dict[str, Any]] = []
    limit = UNZIPPED_LIMIT / MB
    with tempfile.TemporaryDirectory(prefix="paver-layer-") as tmp:
        full = _layer(Path(tmp))
        serving = _layer(Path(tmp), TRAINING)
    serving_label = "serving layer (without " + ", ".join(sorted(TRAINING)) + ")"
    for label, result in ((serving_label, serving),
                          ("training image: its dependencies (requirements.txt)", full)):
        size = int(result["layer_unzipped_bytes"]) / MB  # type: ignore[call-overload]
        zipped = int(result["layer_zipped_bytes"]) / MB  # type: ignore[call-overload]
        rows.append(_row(f"{label}: unzipped", round(size, 1)))
        rows.append(_row(f"{label}: zipped", round(zipped, 1)))
        if result is serving:  # the image is not bound by the 250 MB of zip functions
            headroom = limit - size
            rows.append(_row(f"{label}: headroom under {limit:.0f} MB", round(headroom, 1),
                             target=MIN_HEADROOM_MB, ok=headroom >= MIN_HEADROOM_MB))
    added = (int(full["layer_unzipped_bytes"])  # type: ignore[call-overload]
             - int(serving["layer_unzipped_bytes"])) / MB  # type: ignore[call-overload]
    rows.append(_row("training libraries add", round(added, 1)))
    packages: dict[str, int] = full["packages_bytes"]  # type: ignore[assignment]
    for name, size in list(packages.items())[:8]:
        rows.append(_row(f"package {name}", round(size / MB, 1)))
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
