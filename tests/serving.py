"""Run code the way the serving functions run it: without scipy and scikit-learn.

The zip functions get a layer without the training libraries (``infra.training``); only the
training routes run where they exist. :func:`serving_layer` makes them unimportable for the
duration (modules already loaded by other tests are set aside and restored after), so a serving
path that reaches for them fails its test here instead of its first request on Lambda. The
shared API client (``tests/conftest.py``) calls every other route and every function this way.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import sys
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from infra.training import TRAINING_MODULES


def _training(name: str) -> bool:
    return name.partition(".")[0] in TRAINING_MODULES


class _NotInServingLayer(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> Any:
        if _training(fullname):
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: the serving layer leaves out "
                f"{', '.join(sorted(TRAINING_MODULES))} (infra/training.py)", name=fullname)
        return None


@contextlib.contextmanager
def serving_layer() -> Iterator[None]:
    """Within the block, importing scipy or scikit-learn raises ``ModuleNotFoundError``."""
    saved = {k: sys.modules.pop(k) for k in [k for k in sys.modules if _training(k)]}
    finder = _NotInServingLayer()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.modules.update(saved)
