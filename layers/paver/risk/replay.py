"""Point-in-time (``realtime``) relation features: replay a window event by event.

The stream handler screens a payment with what has happened so far; retrospective monitoring
of a window sees the whole window. :func:`realtime_features` reproduces the first for a whole
file: the events are replayed in timestamp order (file order breaks ties) into an empty
:class:`~paver.risk.store.InMemoryStore`, together with the side data at the time it came to
exist (a device or IP usage record at its ``first_seen``, an address-book link at its
``since``; account attributes are static), and each event's relation groups are built right
after it is recorded — from what happened before it and the event itself, never from a later
event. Relation building is unbudgeted here (results must not depend on the machine's speed);
the multi-hop search is bounded by its hop limits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from paver.risk.events import TransferTable
from paver.risk.features import N_FEATURES
from paver.risk.relations import RelationBuilder
from paver.risk.store import InMemoryStore

MODES: tuple[str, ...] = ("retrospective", "realtime")


@dataclass(frozen=True)
class SideEvent:
    """One piece of side data that comes to exist at ``ts``."""

    ts: float
    kind: str  # "device" | "ip" | "contact"
    account: str
    other: str
    network: str | None = None
    region: str | None = None


def side_timeline(store: InMemoryStore) -> list[SideEvent]:
    """Device/IP usage records (at first seen) and contacts (at since) of a loaded store."""
    out: list[SideEvent] = []
    for acc, devs in store.device_usage_items().items():
        out.extend(SideEvent(u.first_seen, "device", acc, d, region=store.device_region(d))
                   for d, u in devs.items())
    nets = store.ip_networks()
    for acc, ips in store.ip_usage_items().items():
        out.extend(SideEvent(u.first_seen, "ip", acc, ip, nets.get(ip)) for ip, u in ips.items())
    for acc, cs in store.contact_items().items():
        out.extend(SideEvent(since, "contact", acc, c) for c, since in cs.items() if acc < c)
    out.sort(key=lambda e: (e.ts, e.kind, e.account, e.other))
    return out


def _apply(store: InMemoryStore, s: SideEvent) -> None:
    """Record one piece of side data into ``store``."""
    if s.kind == "device":
        store.record_device(s.account, s.other, None, s.ts, region=s.region)
    elif s.kind == "ip":
        store.record_device(s.account, None, s.other, s.ts, s.network)
    else:
        store.add_contact(s.account, s.other, s.ts)


def realtime_features(table: TransferTable, side: InMemoryStore | None = None,
                      accounts: InMemoryStore | None = None) -> tuple[np.ndarray, float]:
    """Feature rows of ``table`` (in table order), each from the past and itself only.

    Parameters
    ----------
    table
        The events of the window.
    side
        A store holding the window's side data (devices, IPs, contacts; transfers in it are
        ignored); its account attributes are copied unless ``accounts`` is given.
    accounts
        Where to take account attributes from (default ``side``).

    Returns
    -------
    (features, seconds)
    """
    t0 = time.perf_counter()
    store = InMemoryStore()
    src = accounts if accounts is not None else side
    if src is not None:
        for acc, attrs in src.accounts_items().items():
            store._accounts[acc] = dict(attrs)
    timeline = side_timeline(side) if side is not None else []
    builder = RelationBuilder(store, budget_ms=None, max_elements=0)
    order = np.argsort(table.ts, kind="stable")
    X = np.zeros((len(table), N_FEATURES))
    k = 0
    for i in order.tolist():
        e = table.event(i)
        while k < len(timeline) and timeline[k].ts <= e.ts:
            _apply(store, timeline[k])
            k += 1
        store.record_transfer(e)
        X[i] = builder.build(e, with_elements=False).features
    return X, time.perf_counter() - t0


def past_store(table: TransferTable, side: InMemoryStore, row: int) -> InMemoryStore:
    """A store with what existed just before event ``row`` of ``table`` (in replay order):
    account attributes, side data up to its time and every earlier event — not the event."""
    store = InMemoryStore()
    for acc, attrs in side.accounts_items().items():
        store._accounts[acc] = dict(attrs)
    t = float(table.ts[row])
    for s in side_timeline(side):
        if s.ts > t:
            break
        _apply(store, s)
    for i in np.argsort(table.ts, kind="stable").tolist():
        if i == row:
            break
        store.record_transfer(table.event(i))
    return store
