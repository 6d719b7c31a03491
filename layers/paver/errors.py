"""The one exception hierarchy of the core (python-stdnum's ``exceptions.py`` is the model).

Every error the core raises on purpose is a :class:`PaverError`, and every domain class
(``UnknownMerchant``, ``KBBuildError``, ``IllegalTransition`` …) derives from exactly one of
the categories below, which say what the caller can do about it::

    PaverError                    a fault of ours (configuration, stored state): 500
    ├── InvalidInput              the request is wrong; the message names the field: 400
    ├── Unauthorized              no valid credential: 401
    ├── Forbidden                 a valid principal outside its tenant: 403
    ├── NotFound                  the thing named does not exist: 404
    ├── Conflict                  the current state does not allow it (now): 409
    └── Unavailable               a dependency refused the work; retry later: 503

The HTTP mapping lives at the edge (``functions/_errors.py``, looked up along the class's
MRO) and the CLI maps the same classes to exit codes; the core never imports either.
``InvalidInput`` and ``Conflict`` are also ``ValueError``s and ``NotFound`` a ``LookupError``,
as the classes they replace were, so code catching the built-in kinds keeps working.
"""

from __future__ import annotations

import re
from typing import Any

_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]-]*): ")


class PaverError(Exception):
    """Base of every error the core raises on purpose (alone: a fault of ours, HTTP 500)."""


class InvalidInput(PaverError, ValueError):
    """The request cannot be honoured as given (HTTP 400).

    Parameters
    ----------
    message
        What is wrong, in words; by convention it starts with ``"<field>: "``.
    field
        The field at fault; when given, the message is prefixed with it.
    """

    def __init__(self, message: str = "", field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self._field = field

    @property
    def field(self) -> str | None:
        """The field at fault: the one given, else the ``"<field>: "`` prefix of the message."""
        if self._field:
            return self._field
        found = _FIELD.match(str(self))
        return found.group(1) if found else None


class Unauthorized(PaverError):
    """Missing, malformed, expired or forged credential (HTTP 401)."""


class Forbidden(PaverError):
    """A valid principal asking for something outside its tenant (HTTP 403)."""


class NotFound(PaverError, LookupError):
    """The campaign, partner, merchant, code, skin, dataset or version does not exist (404)."""


class Conflict(PaverError, ValueError):
    """The current state does not allow the request (HTTP 409).

    Parameters
    ----------
    message
        Why, in words.
    current
        Optionally the current state the caller conflicts with (sent in the 409 body).
    """

    def __init__(self, message: str = "", current: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.current = current


class Unavailable(PaverError):
    """A dependency refused the work; nothing was lost, retry the request (HTTP 503)."""


class UnknownMerchant(NotFound):
    """A merchant id names no merchant (accrual, binding and the merchant views share it)."""


#: The categories, most specific meaning first (the edge maps each to one status).
CATEGORIES: tuple[type[PaverError], ...] = (
    InvalidInput, Unauthorized, Forbidden, NotFound, Conflict, Unavailable)
