"""Composition root: the Chalice app with one Blueprint per module of ``functions/``."""

from __future__ import annotations

import importlib
import os

from chalice import Chalice

os.environ.setdefault("OMP_NUM_THREADS", "1")  # single-row sklearn serving stalls with 2 threads

app = Chalice(app_name="paver")

#: Handler modules, each exposing ``bp``; registered in this order.
FUNCTION_MODULES: tuple[str, ...] = ("health", "codes", "merchants", "binding")

for _name in FUNCTION_MODULES:
    app.register_blueprint(importlib.import_module(f"functions.{_name}").bp)
