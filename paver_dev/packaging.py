"""``paver package``: run ``chalice package`` on a staging copy of the project.

The staging directory holds ``app.py``, ``.chalice/`` and ``vendor/`` whose entries are symlinks
to ``functions/``, ``layers/paver`` and ``rules/`` (Chalice zips ``vendor/`` at the zip root).
Its ``requirements.txt`` is empty: the dependencies ship as a Lambda layer built from the
project's pinned ``requirements.txt`` (see ``infra/``), so packaging never downloads wheels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from paver_dev.project import project_root

#: What reaches the zip root through vendor/ (name in zip → path in repo).
VENDORED = {"functions": "functions", "paver": "layers/paver", "rules": "rules"}


class PackagingError(RuntimeError):
    """``chalice package`` failed; the message carries its output."""


def stage_project(stage_dir: Path, root: Path | None = None) -> Path:
    """Lay out a staging copy of the Chalice project in ``stage_dir``."""
    root = root or project_root()
    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    (stage_dir / "vendor").mkdir(parents=True)
    shutil.copy2(root / "app.py", stage_dir / "app.py")
    shutil.copytree(root / ".chalice", stage_dir / ".chalice",
                    ignore=shutil.ignore_patterns("deployments", "venv"))
    for name, rel in VENDORED.items():
        (stage_dir / "vendor" / name).symlink_to((root / rel).resolve(), target_is_directory=True)
    (stage_dir / "requirements.txt").write_text(
        "# dependencies ship in the Lambda layer (infra/)\n", encoding="utf-8"
    )
    return stage_dir


def package_app(out_dir: Path, stage: str = "dev") -> dict[str, Any]:
    """Package the app into ``out_dir/sam`` and return the paths written.

    Every function gets the dependencies layer ``out_dir/layer.zip`` (``make layer`` builds it;
    the template names it relative to ``sam.json`` so ``sam deploy`` uploads it).
    """
    out_dir = out_dir.resolve()
    staged = stage_project(out_dir / "stage")
    sam_dir = out_dir / "sam"
    if sam_dir.exists():
        shutil.rmtree(sam_dir)
    # chalice wants a region even though the template uses pseudo-parameters for it.
    env = {**os.environ, "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
           "PAVER_STAGE": stage}
    merge = out_dir / "merge-template.json"
    layer_zip = out_dir / "layer.zip"
    gen = subprocess.run([sys.executable, "-m", "infra.template", str(merge),
                          os.path.relpath(layer_zip, sam_dir)],
                         cwd=project_root(), capture_output=True, text=True, check=False, env=env)
    if gen.returncode != 0:
        raise PackagingError(f"merge template failed ({gen.returncode}):\n{gen.stderr}")
    chalice = Path(sys.executable).with_name("chalice")
    cmd = [str(chalice) if chalice.exists() else "chalice", "package", "--stage", stage,
           "--merge-template", str(merge), str(sam_dir)]
    proc = subprocess.run(cmd, cwd=staged, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise PackagingError(f"chalice package failed ({proc.returncode}):\n{proc.stderr}")
    zip_path = sam_dir / "deployment.zip"
    template = sam_dir / "sam.json"
    if not zip_path.is_file() or not template.is_file():
        raise PackagingError(f"chalice package wrote no deployment.zip/sam.json in {sam_dir}")
    return {"zip": str(zip_path), "template": str(template), "merge_template": str(merge),
            "stage": stage, "layer_zip": str(layer_zip), "layer_built": layer_zip.is_file()}
