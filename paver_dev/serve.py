"""``paver serve``: the whole system on 127.0.0.1 — the API, the console and the event sources.

The Chalice app answers HTTP (API routes, ``/console/`` and ``/m/``) while
:mod:`paver_dev.local_events` delivers the rollout queue, the Transactions stream and the S3
notifications to the same handlers Lambda would call. ``--demo`` first loads the demo world
(partners ingested and scored, a campaign selected and rolled out, store photos bound, payments
accrued, a risk knowledge base built and events screened). Ctrl-C (or SIGTERM) stops the HTTP
server, then the event sources, then the embedded AWS.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from paver.config import Settings
from paver.logs import mask
from paver_dev.local_aws import LOOPBACK, aws_environment
from paver_dev.project import project_root

log = logging.getLogger(__name__)


def masked_handler_class() -> type:
    """Chalice's request handler, answering like API Gateway (``paver_dev.local_gateway``), with its
    access log masked (``paver.logs.mask``).

    ``BaseHTTPRequestHandler`` prints the request line, query string included, to stderr:
    phone numbers, account ids, credentials and bearer tokens put in a URL would land in the
    terminal and any log collector reading it.
    """
    from paver_dev.local_gateway import GatewayRequestHandler

    class MaskedRequestHandler(GatewayRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(mask(f"{self.address_string()} - - [{self.log_date_time_string()}]"
                                  f" {format % args}") + "\n")

    return MaskedRequestHandler


def _say(msg: str) -> None:
    print(f"paver: {msg}", file=sys.stderr, flush=True)


def load_demo_world(cfg: Settings, opts: Any, work_dir: Path, quiet: bool = True) -> dict:
    """Run every demo stage against ``cfg`` (the served AWS) so the first screen is full."""
    from paver_dev.demo.context import DemoContext
    from paver_dev.demo.runner import STAGES
    from paver_dev.world import generate_world

    ctx = DemoContext(cfg=cfg, world_dir=work_dir / "world", out_dir=work_dir, seed=opts.seed,
                      quiet=quiet)
    generate_world(opts, ctx.world_dir)
    for _title, ref in STAGES:
        module, func = ref.split(":")
        getattr(importlib.import_module(module), func)(ctx)
    load_world_people(ctx)
    return ctx.summary


def load_world_people(ctx: Any) -> int:
    """Put the world's associated data into the served DynamoDB, as the stream handler reads it.

    The demo stages load only the few accounts their examples need. A payment someone posts to
    the served system comes from the world's people (their accounts, devices, IPs, contacts
    and transfer history), so all of it is loaded: screening then sees, say, a phone shared
    by a ring of accounts. Returns the number of items written.
    """
    from paver.risk.dynamo_store import DynamoStore
    from paver.risk.screening import load_dataset

    wd = ctx.world_dir
    with ctx.progress("risk: load accounts, devices, contacts, transfers", 1) as bar:
        ds = load_dataset(wd / "transactions.csv", wd / "labels.csv", wd)
        n = DynamoStore(ctx.cfg).bulk_load(ds.store, ds.store.accounts_items())
        bar.update(1)
    return n


@contextlib.contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """SIGTERM stops like Ctrl-C (only the main thread may install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _raise)
    # Ctrl-C even when started with SIGINT ignored (e.g. in the background of a script).
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _quiet_disconnects(http_server: Any) -> None:
    """A browser dropping a keep-alive connection is normal: no traceback for it."""
    report = http_server.handle_error

    def handle_error(request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            return
        report(request, client_address)

    http_server.handle_error = handle_error


def serve_forever(port: int = 8000, stage: str = "local", demo: Any = None,
                  events: bool = True) -> None:
    """Start the local system (blocking) on loopback only.

    Parameters
    ----------
    port
        HTTP port on 127.0.0.1.
    stage
        Chalice config stage.
    demo
        :class:`paver_dev.world.WorldOptions` to preload the demo world with, or ``None``.
    events
        Deliver queue, stream and S3 events to the handlers (off: HTTP only).
    """
    from chalice.cli import factory

    from paver_dev.local_events import EventPump, sources_from_app

    root = project_root()
    with _stop_on_sigterm(), contextlib.suppress(KeyboardInterrupt), \
            aws_environment() as cfg, tempfile.TemporaryDirectory(prefix="paver-serve-") as tmp:
        os.environ["PAVER_STAGE"] = cfg.stage
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))
        if demo is not None:
            _say("loading the demo world (partners, campaign, rollout, binding, risk)…")
            summary = load_demo_world(cfg, demo, Path(tmp), quiet=False)
            _say("demo world loaded: " + ", ".join(f"{k} {v}" for k, v in summary.items()))
        f = factory.CLIFactory(project_dir=str(root), debug=False, environ=dict(os.environ))
        config = f.create_config_obj(chalice_stage_name=stage)
        pump = None
        if events:
            from infra.template import S3_TRIGGERS  # the deployment's S3 wiring, reused

            sqs, streams, s3 = sources_from_app(config.chalice_app, cfg, S3_TRIGGERS)
            # After a demo preload its stages have consumed the stream themselves.
            pump = EventPump(cfg, sqs, streams, s3,
                             stream_start="LATEST" if demo is not None else "TRIM_HORIZON").start()
            pump.streams_ready.wait(30)  # no payment may slip in before the stream is read
        server = f.create_local_server(config.chalice_app, config, LOOPBACK, port)
        # the same handler chalice builds, with the masked access log
        server.server.RequestHandlerClass = functools.partial(
            masked_handler_class(), app_object=server.app_object, config=config)
        _quiet_disconnects(server.server)
        _say(f"serving on http://{LOOPBACK}:{port} — console http://{LOOPBACK}:{port}/console/ "
             f"(AWS at {cfg.endpoint_url or 'real AWS'}, stage {cfg.stage}; Ctrl-C stops)")
        try:
            server.serve_forever()
        finally:
            _say("stopping…")
            with contextlib.suppress(Exception):
                server.server.server_close()
            if pump is not None:
                pump.stop()
    _say("stopped")
