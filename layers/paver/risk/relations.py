"""Relation element groups of one event (claims 5–6), with a multi-hop latency budget.

A **relation group** is, per dimension type (``transaction``, ``device``, ``behaviour``,
``social``), a list of **relation elements** ``(source node, target node, edge attributes)``
describing the event's relation features in that dimension. The fixed feature vector of each
dimension (see :mod:`paver.risk.features` for the definitions) is computed from them.

Hops: hop 1 reads the parties' own associated data (always done; back paths of length ≤ 2);
hop 2 reads the neighbours' records (diamonds, and back paths of length 3–4); hop 3 one more
level (back paths of length 5). The back path is searched from both ends at once, each level
growing the smaller frontier (forward from the receiver or backward to the initiator) and
stopping at the first level where the two sides meet, so a hub account on one side does not
make the other side's levels expensive; the length found is the same shortest length the batch
path computes. Before a hop the builder estimates its cost (frontier size × the store's
``cost_per_node_s``); if the elapsed time plus that estimate would exceed the budget the hop is
skipped, the features use the hops done and the result is marked ``partial``.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from paver.risk.events import DIMENSIONS, TransferEvent
from paver.risk.features import (
    BURST_WINDOW,
    CHAIN_DECAY,
    CHAIN_WINDOW,
    CO_PAYERS_CAP,
    CONTACT_RECENT,
    DAY,
    DELAY_CAP_H,
    FEATURES,
    FORWARD_RATIO_CAP,
    FORWARD_WINDOW,
    HOUR,
    MAX_CHAIN,
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
from paver.risk.places import region_distance_km
from paver.risk.store import RISKY_NETWORKS, AssociatedDataStore, TransferLog

#: Hops of the full plan (see the module docstring).
HOPS = 3


class RelationElement(NamedTuple):
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
            els = self.elements
            for y, cnt in nbrs.items():
                src, dst = (y, party) if inward else (party, y)
                if src == skip[0] and dst == skip[1]:
                    continue
                els.append(RelationElement(src, dst, {"role": role, "count": cnt}))
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


def _step(frontier: Iterable[str], nbrs: Any, visited: set[str]) -> set[str]:
    """The next BFS level: neighbours of ``frontier`` not yet ``visited`` (marked visited)."""
    new: set[str] = set()
    for u in frontier:
        new.update(nbrs(u))
    new -= visited
    visited |= new
    return new


def chain_up(store: AssociatedDataStore, acc: str, t: float, x: float,
             seen: set[str] | None = None) -> tuple[int, float]:
    """Layering depth upstream of ``x`` paid by ``acc`` at ``t`` and the first hop's ratio.

    Each hop is the latest transfer into the current payer within :data:`CHAIN_WINDOW` before
    it that kept 90–100 % of the amount; at most :data:`MAX_CHAIN` hops. The payers met are
    added to ``seen``.
    """
    depth, ratio = 0, 0.0
    while depth < MAX_CHAIN:
        log = store.transfers_in(acc)
        i, j = _window(log, t - CHAIN_WINDOW, t)
        hi = x / CHAIN_DECAY
        amounts = log.amount
        k = j - 1
        while k >= i and not (x <= amounts[k] <= hi):
            k -= 1
        if k < i:
            break
        if depth == 0:
            ratio = x / amounts[k] if amounts[k] > 0 else 1.0
        depth += 1
        acc, t, x = log.counterparty[k], log.ts[k], amounts[k]
        if seen is not None:
            seen.add(acc)
    return depth, ratio


def chain_down(store: AssociatedDataStore, acc: str, t: float, x: float,
               seen: set[str] | None = None) -> int:
    """Layering depth downstream: ``acc``'s earliest transfer within :data:`CHAIN_WINDOW`
    after ``t`` of 90–100 % of ``x``, then onwards (at most :data:`MAX_CHAIN` hops)."""
    depth = 0
    while depth < MAX_CHAIN:
        log = store.transfers_out(acc)
        i, j = _window(log, t, t + CHAIN_WINDOW)
        lo = CHAIN_DECAY * x
        amounts = log.amount
        k = i
        while k < j and not (lo <= amounts[k] <= x):
            k += 1
        if k >= j:
            break
        depth += 1
        acc, t, x = log.counterparty[k], log.ts[k], amounts[k]
        if seen is not None:
            seen.add(acc)
    return depth


_N_T = len(FEATURES["transaction"])
_N_D = len(FEATURES["device"])
_N_B = len(FEATURES["behaviour"])
_N_S = len(FEATURES["social"])
assert _N_T + _N_D + _N_B + _N_S == N_FEATURES
assert [SLICES[d].start for d in DIMENSIONS] == [0, _N_T, _N_T + _N_D, _N_T + _N_D + _N_B]


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

    Stores may offer incremental per-account aggregates (``out_amount_total``,
    ``first_transfer_ts``; see :class:`~paver.risk.store.InMemoryStore`) that make hub accounts
    cost O(1) instead of O(transfers); without them the builder reads the transfer records.
    """

    def __init__(self, store: AssociatedDataStore, budget_ms: float | None = 50.0,
                 max_elements: int = 16) -> None:
        self.store = store
        self.budget_ms = budget_ms
        self.max_elements = max_elements
        self._out_total = getattr(store, "out_amount_total", None)
        self._first_ts = getattr(store, "first_transfer_ts", None)

    def build(self, e: TransferEvent, with_elements: bool = True) -> RelationData:
        start = time.perf_counter()
        budget = None if self.budget_ms is None else self.budget_ms / 1000.0
        st = self.store
        cap = self.max_elements if with_elements else 0
        a, b, t, x = e.from_account, e.to_account, e.ts, e.amount
        groups = {d: RelationGroup(d) for d in DIMENSIONS}
        cost = getattr(st, "cost_per_node_s", 1e-6)
        out_nb, in_nb = st.out_neighbours, st.in_neighbours
        log1p = math.log1p

        def fits(n_nodes: int) -> bool:
            if budget is None:
                return True
            return (time.perf_counter() - start) + n_nodes * cost <= budget

        # ---------------------------------------------------------------- hop 1
        out_a, in_a = out_nb(a), in_nb(a)
        out_b, in_b = out_nb(b), in_nb(b)
        la_out, la_in = st.transfers_out(a), st.transfers_in(a)
        lb_out, lb_in = st.transfers_out(b), st.transfers_in(b)
        g = groups["transaction"]
        g.add(cap, a, b, role="event", amount=x, ts=t, channel=e.channel)
        if cap:
            for role, nbrs, inward, party in (("in_a", in_a, True, a), ("out_a", out_a, False, a),
                                              ("in_b", in_b, True, b), ("out_b", out_b, False, b)):
                g.add_many(cap, nbrs, party, inward, role, skip=(a, b))
        T = [0.0] * _N_T
        T[0] = log1p(x)
        T[1] = log1p(len(out_a))
        T[2] = log1p(len(in_a))
        T[3] = log1p(len(in_b))
        T[4] = log1p(len(out_b))
        i, j = _window(la_out, t - BURST_WINDOW, t + BURST_WINDOW)
        T[5] = log1p(j - i)
        T[15] = cv(la_out.amount[i:j])
        i, j = _window(lb_in, t - BURST_WINDOW, t + BURST_WINDOW)
        T[6] = log1p(j - i)
        T[14] = cv(lb_in.amount[i:j])
        T[7] = log1p(out_a.get(b, 0))
        k, j = _window(lb_out, t, t + FORWARD_WINDOW)  # k: b's first outgoing at or after t
        T[9] = min(FORWARD_RATIO_CAP, math.fsum(lb_out.amount[k:j]) / max(x, 0.01))
        delay = (lb_out.ts[k] - t) / HOUR if k < len(lb_out) else DELAY_CAP_H
        T[10] = log1p(min(DELAY_CAP_H, delay))
        k = bisect_right(la_in.ts, t) - 1
        delay = (t - la_in.ts[k]) / HOUR if k >= 0 else DELAY_CAP_H
        T[11] = log1p(min(DELAY_CAP_H, delay))
        ups: set[str] = set()
        downs: set[str] = set()
        T[17], T[18] = chain_up(st, a, t, x, ups)
        T[19] = chain_down(st, b, t, x, downs)
        T[21] = 1.0 if b in ups or a in downs else 0.0
        i, j = _window(la_in, t - CHAIN_WINDOW, t)
        T[22] = log1p(j - i)
        i, j = _window(lb_out, t, t + CHAIN_WINDOW)
        T[23] = log1p(j - i)

        # back path b ⇝ a: hop 1 knows every node within one step forward of b and one step
        # backward of a, i.e. every path of length ≤ 2
        best: int | None
        if a == b:
            best = 0
        elif a in out_b:
            best = 1
        elif not out_b.keys().isdisjoint(in_a.keys()):
            best = 2
        else:
            best = None
        hops_done = 1
        partial = False

        # ---------------------------------------------------------------- hop 2
        if fits(len(out_a) + 2 * len(in_a) + len(out_b)
                + (len(in_b) if len(in_b) <= CO_PAYERS_CAP else 0)):
            hops_done = 2
            # x ∈ N+(a)∖{b} with N+(x) ∩ N+(b) ≠ ∅
            out_b_keys = out_b.keys()
            scat = 0
            for y in out_a:
                if y != b and not out_nb(y).keys().isdisjoint(out_b_keys):
                    scat += 1
            # x ∈ N-(b)∖{a} sharing a sender with a: from whichever side is smaller
            if len(in_b) <= len(in_a):
                in_a_keys = in_a.keys()
                gath = 0
                for y in in_b:
                    if y != a and not in_nb(y).keys().isdisjoint(in_a_keys):
                        gath += 1
            else:
                reach: set[str] = set()
                for s in in_a:
                    reach.update(out_nb(s))
                reach.discard(a)
                gath = len(reach & in_b.keys()) if len(reach) < len(in_b) else \
                    len(in_b.keys() & reach)
            T[12] = log1p(scat)
            T[13] = log1p(gath)
            if len(in_b) <= CO_PAYERS_CAP:  # bipartite overlap; a hub receiver is skipped
                targets = out_a.keys() - {b}
                co = 0
                for y in in_b:
                    if y != a and not targets.isdisjoint(out_nb(y).keys()):
                        co += 1
                T[20] = log1p(co)
            # paths of length 3 and 4, then (hop 3) 5: meet in the middle, always growing the
            # smaller frontier; the first level where the two sides meet gives the shortest
            # length, so it stops there (and hop 3 is only needed while none is known)
            if best is None:
                vis_f, vis_b = set(out_b), set(in_a)
                vis_f.add(b)
                vis_b.add(a)
                fr_f, fr_b = vis_f - {b}, vis_b - {a}
                depth = 2
                while best is None and depth < 4 and fr_f and fr_b:
                    depth += 1
                    if len(fr_f) <= len(fr_b):
                        fr_f = _step(fr_f, out_nb, vis_f)
                        if not fr_f.isdisjoint(vis_b):
                            best = depth
                    else:
                        fr_b = _step(fr_b, in_nb, vis_b)
                        if not fr_b.isdisjoint(vis_f):
                            best = depth
                # ------------------------------------------------------------ hop 3
                if best is None and fr_f and fr_b:
                    fwd = len(fr_f) <= len(fr_b)
                    if fits(len(fr_f) if fwd else len(fr_b)):
                        hops_done = 3
                        frontier, nbrs, other = ((fr_f, out_nb, vis_b) if fwd
                                                 else (fr_b, in_nb, vis_f))
                        for u in frontier:
                            if not nbrs(u).keys().isdisjoint(other):
                                best = 5
                                break
                    else:
                        partial = True
                else:
                    hops_done = 3
            else:
                hops_done = 3
        else:
            partial = True
        if best is not None:
            best = max(1, best)
            T[8] = 1.0 / best if best <= MAX_PATH else 0.0
            T[16] = 1.0 if T[8] > 0 else 0.0
            g.add(cap, b, a, role="back_path", length=best)

        # ---------------------------------------------------------------- device
        D = [0.0] * _N_D
        gd = groups["device"]
        devs_a, devs_b = st.devices(a), st.devices(b)
        fd, td, fi, ti = e.from_device, e.to_device, e.from_ip, e.to_ip
        if fd:
            D[0] = 1.0
            u = devs_a.get(fd)
            D[1] = 1.0 if u is not None and u.first_seen >= t - NEW_WINDOW else 0.0
            accs = st.device_accounts(fd)
            D[2] = log1p(max(0, len(accs) - 1))
            if cap:
                gd.add(cap, a, fd, role="initiating_device", new=bool(D[1]),
                       first_seen=u.first_seen if u else None, uses=u.count if u else 0)
                for o in sorted(accs - {a})[:cap]:
                    gd.add(cap, fd, o, role="device_shared_with")
        if td:
            accs = st.device_accounts(td)
            D[3] = log1p(max(0, len(accs) - 1))
            if cap:
                gd.add(cap, b, td, role="receiving_device", accounts=len(accs))
        if fi:
            D[4] = log1p(max(0, len(st.ip_accounts(fi)) - 1))
            u = st.ips(a).get(fi)
            D[8] = 1.0 if u is not None and u.first_seen >= t - NEW_WINDOW else 0.0
            net = st.ip_network(fi)
            D[9] = 1.0 if net in RISKY_NETWORKS else 0.0
            if cap:
                gd.add(cap, a, fi, role="initiating_address", network=net, new=bool(D[8]))
        if ti:
            D[5] = log1p(max(0, len(st.ip_accounts(ti)) - 1))
            net = st.ip_network(ti)
            D[10] = 1.0 if net in RISKY_NETWORKS else 0.0
            if cap:
                gd.add(cap, b, ti, role="receiving_address", network=net)
        reg_f = st.device_region(fd) if fd else None
        reg_t = st.device_region(td) if td else None
        if reg_f and reg_t:
            D[11] = 1.0 if reg_f != reg_t else 0.0
            D[12] = log1p(region_distance_km(reg_f, reg_t))
        home = (st.account(a) or {}).get("region")
        if reg_f and home:
            D[13] = 1.0 if reg_f != str(home) else 0.0
        if cap and (reg_f or reg_t):
            gd.add(cap, a, b, role="places", sender_region=reg_f, receiver_region=reg_t,
                   distance_km=round(region_distance_km(reg_f, reg_t), 1))
        small_d, big_d = (devs_a, devs_b) if len(devs_a) < len(devs_b) else (devs_b, devs_a)
        shared = [d for d in small_d if d in big_d]
        D[6] = 1.0 if shared else 0.0
        D[7] = log1p(len(devs_a))
        for d in shared:
            gd.add(cap, a, b, role="shared_device", device=d)

        # ---------------------------------------------------------------- behaviour
        B = [0.0] * _N_B
        gb = groups["behaviour"]
        acc_a, acc_b = st.account(a), st.account(b)
        hour = int((t % DAY) // HOUR)
        B[0] = 1.0 if hour < 6 else 0.0
        B[1] = account_age(acc_a, t)
        B[2] = account_age(acc_b, t)
        n_out = len(la_out)
        if not n_out:
            mean_out = 0.0
        elif self._out_total is not None:
            mean_out = self._out_total(a) / n_out
        else:
            mean_out = math.fsum(la_out.amount) / n_out
        B[3] = math.log((x + 1.0) / (mean_out + 1.0))
        # new payee: no transfer a → b before t
        if self._first_ts is not None:
            first = self._first_ts(a, b)
            B[4] = 0.0 if first is not None and first < t else 1.0
        else:
            k = bisect_left(la_out.ts, t)
            B[4] = 0.0 if b in la_out.counterparty[:k] else 1.0
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
        S = [0.0] * _N_S
        gs = groups["social"]
        ca, cb = st.contacts(a), st.contacts(b)
        since = ca.get(b)
        S[0] = 1.0 if since is not None else 0.0
        S[1] = 1.0 if since is not None and t - CONTACT_RECENT <= since <= t else 0.0
        small_c, big_c = (ca, cb) if len(ca) < len(cb) else (cb, ca)
        common = [c for c in small_c if c in big_c]
        S[2] = log1p(len(common))
        S[3] = log1p(len(ca))
        S[4] = log1p(len(cb))
        lo = t - RECENT_CONTACTS_WINDOW
        recent = [c for c, s in cb.items() if lo <= s <= t]
        S[5] = log1p(len(recent))
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
        f = np.array(T + D + B + S, dtype=np.float64)
        elapsed = (time.perf_counter() - start) * 1000.0
        return RelationData(e, groups, f, partial, hops_done, elapsed)
