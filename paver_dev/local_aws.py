"""The embedded local AWS: moto's ThreadedMotoServer on loopback, reached over real HTTP.

When ``AWS_ENDPOINT_URL`` is already set (DynamoDB Local, another moto, …) or real AWS
credentials come with ``PAVER_STAGE``, nothing is started and that endpoint is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

from paver.aws import reset_clients
from paver.config import Settings, settings
from paver.storage import registry

log = logging.getLogger(__name__)
LOOPBACK = "127.0.0.1"

#: Dummy credentials for the embedded server; never real ones.
_LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "paver-local",
    "AWS_SECRET_ACCESS_KEY": "paver-local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # moto 5 + recent botocore: Streams calls 404 without this (ARCHITECTURE.md pitfalls).
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def external_aws_configured(environ: dict[str, str] | None = None) -> bool:
    """True when the environment already names an AWS to use (so we start nothing)."""
    env = os.environ if environ is None else environ
    if env.get("AWS_ENDPOINT_URL"):
        return True
    real_creds = bool(env.get("AWS_ACCESS_KEY_ID") or env.get("AWS_PROFILE"))
    return real_creds and bool(env.get("PAVER_STAGE")) and env.get("PAVER_STAGE") != "local"


class LocalAWS:
    """A running moto server bound to 127.0.0.1 (never 0.0.0.0)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._server: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> LocalAWS:
        from moto.server import ThreadedMotoServer  # dev dependency: imported only locally

        self._server = ThreadedMotoServer(ip_address=LOOPBACK, port=self.port, verbose=False)
        self._server.start()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


@contextlib.contextmanager
def aws_environment(create: bool = True) -> Iterator[Settings]:
    """Yield settings for a usable AWS: the configured one, or a fresh embedded server.

    Parameters
    ----------
    create
        Create every table, bucket and queue that is missing.
    """
    if external_aws_configured():
        cfg = settings()
        registry.unbind()
        reset_clients()
        registry.bind_all(cfg)
        if create:
            registry.create_all(cfg)
        yield cfg
        return
    server = LocalAWS().start()
    saved = {k: os.environ.get(k) for k in [*_LOCAL_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(_LOCAL_ENV)
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint_url
    registry.unbind()
    reset_clients()
    try:
        cfg = registry.bind_all(settings())
        if create:
            registry.create_all(cfg)
        log.info("embedded AWS on %s", server.endpoint_url)
        yield cfg
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        registry.unbind()
        reset_clients()
