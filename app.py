"""Composition root: the Chalice app with one Blueprint per module of ``functions/``, the
authentication middleware and the one mapping of the core's errors to HTTP (every route)."""

from __future__ import annotations

import importlib
import os

from chalice import Chalice

from functions import _errors
from functions._auth import authenticate
from paver.logs import configure
from paver.storage.registry import bind_all

os.environ.setdefault("OMP_NUM_THREADS", "1")  # single-row sklearn serving stalls with 2 threads
configure()  # JSON log lines, personal data masked

# configure_logs=False: Chalice would give the "paver" logger (our package namespace) its own
# unmasked stdout handler and stop propagation to the masking handler.
app = Chalice(app_name="paver", configure_logs=False)
app.api.binary_types.append("application/pdf")  # print sheets (base64 through API Gateway)


# "all": every route, SQS/stream/S3 event and direct invoke. Registered first, so it runs
# before the authentication middleware (which reads the caller's merchant).
@app.middleware("all")
def _bind_storage(event, get_response):  # chalice middleware signature
    """Bind the storage models once per process (cheap after the first event)."""
    bind_all()
    return get_response(event)


#: Handler modules, each exposing ``bp``; registered in this order.
FUNCTION_MODULES: tuple[str, ...] = (
    "health", "partners", "campaigns", "ingest", "codes", "merchants", "binding", "risk",
    "alerts", "web", "skins", "drift",
)

for _name in FUNCTION_MODULES:
    app.register_blueprint(importlib.import_module(f"functions.{_name}").bp)
_errors.install(app)  # after every route is registered: each answers paver.errors the same way


@app.middleware("http")
def _authenticate(event, get_response):  # chalice middleware signature
    return authenticate(event, get_response)


@app.middleware("http")
def _limit_body(event, get_response):  # runs after _authenticate (registration order)
    return _errors.limit_body(event, get_response)
