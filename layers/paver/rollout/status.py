"""The life of an issued code: issued → shipped → installed → active, nothing else."""

from __future__ import annotations

from paver.errors import Conflict

STATUSES: tuple[str, ...] = ("issued", "shipped", "installed", "active")
_NEXT = {"issued": "shipped", "shipped": "installed", "installed": "active"}


class IllegalTransition(Conflict):
    """A status change the code's life does not allow."""


def check_transition(current: str, target: str) -> None:
    """Raise :class:`IllegalTransition` unless ``target`` directly follows ``current``."""
    if target not in STATUSES:
        raise IllegalTransition(f"status: unknown status {target!r}; one of {', '.join(STATUSES)}")
    if _NEXT.get(current) != target:
        allowed = _NEXT.get(current)
        hint = f"only {allowed!r} may follow" if allowed else "it is final"
        raise IllegalTransition(f"status: {current!r} → {target!r} is not allowed ({hint})")
