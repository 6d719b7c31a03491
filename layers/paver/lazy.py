"""Heavy libraries imported on first use, so that importing a module does not import them.

One Chalice Lambda serves every route, so whatever any handler module imports is paid on every
cold start, even by routes that never touch it: pandas alone costs about 0.2 s here (and
scikit-learn 0.7 s). Modules that need pandas only inside their functions bind it as::

    if TYPE_CHECKING:
        import pandas as pd
    else:
        pd = lazy_module("pandas")

and the first attribute read (``pd.DataFrame``) imports it; type checkers see the real module.
The handler modules of ``functions/`` bind the core modules they call the same way
(``service = lazy_module("paver.risk.service")``), so numpy, Pillow, PyJWT, PyYAML and the
rule engine load at a route's first call, not at ``import app``.
``tests/unit/test_cold_start.py`` checks in a fresh interpreter that ``import app`` leaves
pandas, scipy and scikit-learn, and those serving libraries, unloaded; ``make bench`` times it.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _LazyModule:
    """Stands in for a module until its first attribute is read."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)

    def __repr__(self) -> str:
        state = "loaded" if self._module is not None else "not loaded yet"
        return f"<lazy module {self._name!r} ({state})>"


def lazy_module(name: str) -> Any:
    """A proxy that imports module ``name`` on its first attribute read.

    Parameters
    ----------
    name
        Absolute module name, e.g. ``"pandas"``.

    Returns
    -------
    Any
        The proxy (typed ``Any``: annotate with the real module under ``TYPE_CHECKING``).
    """
    return _LazyModule(name)
