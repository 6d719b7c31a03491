"""Relation element groups of one event (claims 5–6), with a multi-hop latency budget.

A **relation group** is, per dimension type (``transaction``, ``device``, ``behaviour``,
``social``), a list of **relation elements** ``(source node, target node, edge attributes)``
describing the event's relation features in that dimension. The fixed feature vector of each
dimension (see :mod:`paver.risk.features` for the definitions) is computed from them.

Hops: hop 1 reads the parties' own associated data (always done); hop 2 reads the neighbours'
records (diamonds, the second level forward from the receiver and backward to the initiator);
hop 3 the third level forward. Before a hop the builder estimates its cost (frontier size ×
the store's ``cost_per_node_s``); if the elapsed time plus that estimate would exceed the budget
the hop is skipped, the features use the hops done and the result is marked ``partial``.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paver.risk.events import DIMENSIONS, TransferEvent
from paver.risk.features import (
    BURST_WINDOW,
    CONTACT_RECENT,
    DAY,
    DELAY_CAP_H,
    FORWARD_RATIO_CAP,
    FORWARD_WINDOW,
    HOUR,
    MAX_PATH,
    N_FEATURES,
    NEW_WINDOW,
    QR_CHANNELS,
    RECENT_CONTACTS_WINDOW,
    SLICES,
    account_age,
    cv,
    kyc,
)
from paver.risk.store import RISKY_NETWORKS, AssociatedDataStore, TransferLog

#: Hops of the full plan (see the module docstring).
HOPS = 3


@dataclass(frozen=True, slots=True)
class RelationElement:
    """``(source node, target node, edge attributes)`` of one dimension."""

    source: str
    target: str
    attrs: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "attrs": dict(self.attrs)}


@dataclass
class RelationGroup:
    """The relation elements of one dimension type (``omitted``: elements beyond the cap)."""

    dimension: str
    elements: list[RelationElement] = field(default_factory=list)
    omitted: int = 0

    def add(self, cap: int, source: str, target: str, **attrs: Any) -> None:
        if len(self.elements) < cap:
            self.elements.append(RelationElement(source, target, attrs))
        else:
            self.omitted += 1

    def add_many(self, cap: int, nbrs: Mapping[str, int], party: str, inward: bool, role: str,
                 skip: tuple[str, str]) -> None:
        """Add ``(neighbour → party)`` (or ``party → neighbour``) elements up to the cap."""
        room = cap - len(self.elements)
        other = skip[0] if inward else skip[1]
        total = len(nbrs) - (1 if party == (skip[1] if inward else skip[0])
                             and other in nbrs else 0)
        taken = 0
        if room > 0:
            for y, cnt in nbrs.items():
                src, dst = (y, party) if inward else (party, y)
                if (src, dst) == skip:
                    continue
                self.elements.append(RelationElement(src, dst, {"role": role, "count": cnt}))
                taken += 1
                if taken >= room:
                    break
        self.omitted += total - taken

    def to_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "elements": [e.to_dict() for e in self.elements],
                "omitted": self.omitted}


@dataclass
class RelationData:
    """Relation attribute data of one event: groups, feature vector and completeness."""

    event: TransferEvent
    groups: dict[str, RelationGroup]
    features: np.ndarray
    partial: bool
    hops_done: int
    elapsed_ms: float

    def dimension_features(self, dimension: str) -> np.ndarray:
        return self.features[SLICES[dimension]]


def _window(log: TransferLog, lo: float, hi: float) -> tuple[int, int]:
    return bisect_left(log.ts, lo), bisect_right(log.ts, hi)


def _cv_slice(log: TransferLog, i: int, j: int) -> float:
    return cv(log.amount[i:j])


def _meet(df: Mapping[str, int], db: Mapping[str, int]) -> int | None:
    """Shortest forward + backward distance over the nodes both sides reached."""
    small, big = (df, db) if len(df) < len(db) else (db, df)
    return min((small[n] + big[n] for n in small if n in big), default=None)


def _expand(level: Iterable[str], nbrs: Any, seen: dict[str, int], depth: int) -> list[str]:
    nxt: list[str] = []
    for u in level:
        for v in nbrs(u):
            if v not in seen:
                seen[v] = depth
                nxt.append(v)
    return nxt


class RelationBuilder:
    """Build :class:`RelationData` for single events from an :class:`AssociatedDataStore`.

    Parameters
    ----------
    store
        Where the associated data lives.
    budget_ms
        Latency budget of the multi-hop part; ``None`` means unlimited.
    max_elements
        Cap of relation elements kept per group (the features always use all the data).
    """

    def __init__(self, store: AssociatedDataStore, budget_ms: float | None = 50.0,
                 max_elements: int = 16) -> None:
        self.store = store
        self.budget_ms = budget_ms
        self.max_elements = max_elements

    def build(self, e: TransferEvent, with_elements: bool = True) -> RelationData:
        start = time.perf_counter()
        budget = None if self.budget_ms is None else self.budget_ms / 1000.0
        st = self.store
        cap = self.max_elements if with_elements else 0
        a, b, t, x = e.from_account, e.to_account, e.ts, e.amount
        groups = {d: RelationGroup(d) for d in DIMENSIONS}
        f = np.zeros(N_FEATURES, dtype=np.float64)
        cost = getattr(st, "cost_per_node_s", 1e-6)

        def fits(n_nodes: int) -> bool:
            if budget is None:
                return True
            return (time.perf_counter() - start) + n_nodes * cost <= budget

        # ---------------------------------------------------------------- hop 1
        out_a, in_a = st.out_neighbours(a), st.in_neighbours(a)
        out_b, in_b = st.out_neighbours(b), st.in_neighbours(b)
        la_out, la_in = st.transfers_out(a), st.transfers_in(a)
        lb_out, lb_in = st.transfers_out(b), st.transfers_in(b)
        g = groups["transaction"]
        g.add(cap, a, b, role="event", amount=x, ts=t, channel=e.channel)
        if cap:
            for role, nbrs, inward, party in (("in_a", in_a, True, a), ("out_a", out_a, False, a),
                                              ("in_b", in_b, True, b), ("out_b", out_b, False, b)):
                g.add_many(cap, nbrs, party, inward, role, skip=(a, b))
        T = f[SLICES["transaction"]]
        T[0] = math.log1p(x)
        T[1] = math.log1p(len(out_a))
        T[2] = math.log1p(len(in_a))
        T[3] = math.log1p(len(in_b))
        T[4] = math.log1p(len(out_b))
        i, j = _window(la_out, t - BURST_WINDOW, t + BURST_WINDOW)
        T[5] = math.log1p(j - i)
        T[15] = _cv_slice(la_out, i, j)
        i, j = _window(lb_in, t - BURST_WINDOW, t + BURST_WINDOW)
        T[6] = math.log1p(j - i)
        T[14] = _cv_slice(lb_in, i, j)
        T[7] = math.log1p(out_a.get(b, 0))
        i, j = _window(lb_out, t, t + FORWARD_WINDOW)
        T[9] = min(FORWARD_RATIO_CAP, math.fsum(lb_out.amount[i:j]) / max(x, 0.01))
        k = bisect_left(lb_out.ts, t)
        delay = (lb_out.ts[k] - t) / HOUR if k < len(lb_out) else DELAY_CAP_H
        T[10] = math.log1p(min(DELAY_CAP_H, delay))
        k = bisect_right(la_in.ts, t) - 1
        delay = (t - la_in.ts[k]) / HOUR if k >= 0 else DELAY_CAP_H
        T[11] = math.log1p(min(DELAY_CAP_H, delay))

        # back path: forward levels from b, backward levels to a (meet in the middle)
        df: dict[str, int] = {b: 0}
        db: dict[str, int] = {a: 0}
        lvl_f: list[str] = _expand([b], st.out_neighbours, df, 1)
        lvl_b: list[str] = _expand([a], st.in_neighbours, db, 1)
        hops_done = 1
        partial = False

        # ---------------------------------------------------------------- hop 2
        if fits(len(out_a) + 2 * len(in_a) + len(lvl_f)):
            hops_done = 2
            out_b_keys = out_b.keys()
            scat = 0
            for y in out_a:
                if y != b:
                    oy = st.out_neighbours(y)
                    small, big = (oy, out_b_keys) if len(oy) < len(out_b) else (out_b_keys, oy)
                    if any(c in big for c in small):
                        scat += 1
            # x ∈ N-(b)∖{a} sharing a sender with a: from whichever side is smaller
            if len(in_b) <= len(in_a):
                gath = 0
                for y in in_b:
                    if y != a:
                        iy = st.in_neighbours(y)
                        small_y, big_y = (iy, in_a) if len(iy) < len(in_a) else (in_a, iy)
                        if any(c in big_y for c in small_y):
                            gath += 1
            else:
                reach: set[str] = set()
                for s in in_a:
                    reach.update(st.out_neighbours(s))
                if len(reach) < len(in_b):
                    gath = sum(1 for y in reach if y != a and y in in_b)
                else:
                    gath = sum(1 for y in in_b if y != a and y in reach)
            T[12] = math.log1p(scat)
            T[13] = math.log1p(gath)
            lvl_b = _expand(lvl_b, st.in_neighbours, db, 2)
            lvl_f = _expand(lvl_f, st.out_neighbours, df, 2)
            # ------------------------------------------------------------ hop 3
            # only needed when no path of length ≤ 3 is known yet; nodes already reached
            # at level ≤ 2 carry their shorter distance, so only new ones are checked
            best = _meet(df, db)
            if best is None or best > 3:
                if fits(len(lvl_f)):
                    hops_done = 3
                    for u in lvl_f:
                        for v in st.out_neighbours(u):
                            dv = db.get(v)
                            if dv is not None and v not in df and (best is None
                                                                   or 3 + dv < best):
                                best = 3 + dv
                else:
                    partial = True
            else:
                hops_done = 3
        else:
            partial = True
            best = _meet(df, db)
        if best is not None:
            best = max(1, best)
            T[8] = 1.0 / best if best <= MAX_PATH else 0.0
            g.add(cap, b, a, role="back_path", length=best)

        # ---------------------------------------------------------------- device
        D = f[SLICES["device"]]
        gd = groups["device"]
        devs_a, devs_b = st.devices(a), st.devices(b)
        fd, td, fi, ti = e.from_device, e.to_device, e.from_ip, e.to_ip
        if fd:
            D[0] = 1.0
            u = devs_a.get(fd)
            D[1] = 1.0 if u is not None and u.first_seen >= t - NEW_WINDOW else 0.0
            accs = st.device_accounts(fd)
            D[2] = math.log1p(max(0, len(accs) - 1))
            if cap:
                gd.add(cap, a, fd, role="initiating_device", new=bool(D[1]),
                       first_seen=u.first_seen if u else None, uses=u.count if u else 0)
                for o in sorted(accs - {a})[:cap]:
                    gd.add(cap, fd, o, role="device_shared_with")
        if td:
            accs = st.device_accounts(td)
            D[3] = math.log1p(max(0, len(accs) - 1))
            if cap:
                gd.add(cap, b, td, role="receiving_device", accounts=len(accs))
        if fi:
            D[4] = math.log1p(max(0, len(st.ip_accounts(fi)) - 1))
            u = st.ips(a).get(fi)
            D[8] = 1.0 if u is not None and u.first_seen >= t - NEW_WINDOW else 0.0
            net = st.ip_network(fi)
            D[9] = 1.0 if net in RISKY_NETWORKS else 0.0
            if cap:
                gd.add(cap, a, fi, role="initiating_address", network=net, new=bool(D[8]))
        if ti:
            D[5] = math.log1p(max(0, len(st.ip_accounts(ti)) - 1))
            net = st.ip_network(ti)
            D[10] = 1.0 if net in RISKY_NETWORKS else 0.0
            if cap:
                gd.add(cap, b, ti, role="receiving_address", network=net)
        small_d, big_d = (devs_a, devs_b) if len(devs_a) < len(devs_b) else (devs_b, devs_a)
        shared = [d for d in small_d if d in big_d]
        D[6] = 1.0 if shared else 0.0
        D[7] = math.log1p(len(devs_a))
        for d in shared:
            gd.add(cap, a, b, role="shared_device", device=d)

        # ---------------------------------------------------------------- behaviour
        B = f[SLICES["behaviour"]]
        gb = groups["behaviour"]
        acc_a, acc_b = st.account(a), st.account(b)
        hour = int((t % DAY) // HOUR)
        B[0] = 1.0 if hour < 6 else 0.0
        B[1] = account_age(acc_a, t)
        B[2] = account_age(acc_b, t)
        n_out = len(la_out)
        mean_out = math.fsum(la_out.amount) / n_out if n_out else 0.0
        B[3] = math.log((x + 1.0) / (mean_out + 1.0))
        k = bisect_left(la_out.ts, t)
        cps = la_out.counterparty
        B[4] = 0.0 if any(cps[m] == b for m in range(k)) else 1.0
        B[5] = 1.0 if e.channel in QR_CHANNELS else 0.0
        B[6] = kyc(acc_a)
        B[7] = kyc(acc_b)
        if cap:
            gb.add(cap, a, f"hour:{hour:02d}", night=bool(B[0]))
            gb.add(cap, a, f"channel:{e.channel}", code_payment=bool(B[5]))
            gb.add(cap, a, b, new_payee=bool(B[4]), amount=x, usual_amount=round(mean_out, 2))
            gb.add(cap, a, "account", age_days=round(math.expm1(B[1]), 1), kyc=B[6])
            gb.add(cap, b, "account", age_days=round(math.expm1(B[2]), 1), kyc=B[7])

        # ---------------------------------------------------------------- social
        S = f[SLICES["social"]]
        gs = groups["social"]
        ca, cb = st.contacts(a), st.contacts(b)
        since = ca.get(b)
        S[0] = 1.0 if since is not None else 0.0
        S[1] = 1.0 if since is not None and t - CONTACT_RECENT <= since <= t else 0.0
        small_c, big_c = (ca, cb) if len(ca) < len(cb) else (cb, ca)
        common = [c for c in small_c if c in big_c]
        S[2] = math.log1p(len(common))
        S[3] = math.log1p(len(ca))
        S[4] = math.log1p(len(cb))
        lo = t - RECENT_CONTACTS_WINDOW
        recent = [c for c, s in cb.items() if lo <= s <= t]
        S[5] = math.log1p(len(recent))
        if in_b:
            small_i, big_i = (cb, in_b) if len(cb) < len(in_b) else (in_b, cb)
            S[6] = sum(1 for y in small_i if y in big_i) / len(in_b)
        if cap:
            if since is not None:
                gs.add(cap, a, b, role="contact", since=since, recent=bool(S[1]))
            for c in common:
                gs.add(cap, a, c, role="common_contact", via=b)
            for c in recent:
                gs.add(cap, b, c, role="recent_contact_of_receiver", since=cb[c])
        elapsed = (time.perf_counter() - start) * 1000.0
        return RelationData(e, groups, f, partial, hops_done, elapsed)
