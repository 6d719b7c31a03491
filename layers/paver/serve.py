"""``paver serve``: the Chalice app on 127.0.0.1 against the embedded (or configured) AWS."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
from typing import Any

from paver.local_aws import LOOPBACK, aws_environment
from paver.logs import mask
from paver.project import project_root

log = logging.getLogger(__name__)


def masked_handler_class() -> type:
    """Chalice's request handler, answering like API Gateway (``paver.local_gateway``), with its
    access log masked (``paver.logs.mask``).

    ``BaseHTTPRequestHandler`` prints the request line, query string included, to stderr:
    phone numbers, account ids, credentials and bearer tokens put in a URL would land in the
    terminal and any log collector reading it.
    """
    from paver.local_gateway import GatewayRequestHandler

    class MaskedRequestHandler(GatewayRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(mask(f"{self.address_string()} - - [{self.log_date_time_string()}]"
                                  f" {format % args}") + "\n")

    return MaskedRequestHandler


def serve_forever(port: int = 8000, stage: str = "local") -> None:
    """Start the local API server (blocking) on loopback only."""
    from chalice.cli import factory

    root = project_root()
    with aws_environment() as cfg:
        os.environ["PAVER_STAGE"] = cfg.stage
        sys.path.insert(0, str(root))
        f = factory.CLIFactory(project_dir=str(root), debug=False, environ=dict(os.environ))
        config = f.create_config_obj(chalice_stage_name=stage)
        server = f.create_local_server(config.chalice_app, config, LOOPBACK, port)
        # the same handler chalice builds, with the masked access log
        server.server.RequestHandlerClass = functools.partial(
            masked_handler_class(), app_object=server.app_object, config=config)
        print(f"paver: serving on http://{LOOPBACK}:{port} (AWS at "
              f"{cfg.endpoint_url or 'real AWS'}, stage {cfg.stage})", file=sys.stderr, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
