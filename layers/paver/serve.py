"""``paver serve``: the Chalice app on 127.0.0.1 against the embedded (or configured) AWS."""

from __future__ import annotations

import contextlib
import logging
import os
import sys

from paver.local_aws import LOOPBACK, aws_environment
from paver.local_gateway import create_server
from paver.project import project_root

log = logging.getLogger(__name__)


def serve_forever(port: int = 8000, stage: str = "local") -> None:
    """Start the local API server (blocking) on loopback only."""
    from chalice.cli import factory

    root = project_root()
    with aws_environment() as cfg:
        os.environ["PAVER_STAGE"] = cfg.stage
        sys.path.insert(0, str(root))
        f = factory.CLIFactory(project_dir=str(root), debug=False, environ=dict(os.environ))
        config = f.create_config_obj(chalice_stage_name=stage)
        server = create_server(config.chalice_app, config, LOOPBACK, port)
        print(f"paver: serving on http://{LOOPBACK}:{port} (AWS at "
              f"{cfg.endpoint_url or 'real AWS'}, stage {cfg.stage})", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
