"""The fixed relation feature vector per dimension, and its batched (vectorised) computation.

Notation: the event is ``a → b`` at time ``t`` for amount ``x``. ``N+(u)``/``N-(u)`` are the
distinct accounts ``u`` sent to / received from, ``C(u)`` its contacts (undirected), all over the
associated data held by the store (the event itself included: it is recorded before it is
screened). ``log1p`` is applied to every count. Windows: burst ±24 h, forwarding 72 h, delays
capped at 168 h, "new" = first seen in the 24 h before ``t``, recent contact 48 h, recent
contacts of the receiver 7 days.

``transaction`` (source node → target node, edge = the transfer and the parties' transfer records)
    ``log_amount`` log1p(x) · ``a_out_degree`` |N+(a)| · ``a_in_degree`` |N-(a)| ·
    ``b_in_degree`` |N-(b)| · ``b_out_degree`` |N+(b)| · ``a_out_burst`` transfers out of a in
    t±24h · ``b_in_burst`` transfers into b in t±24h · ``pair_count`` transfers a→b ·
    ``back_path`` 1/L for the shortest directed path b ⇝ a of length L ≤ 5 (3 hops forward from
    b, 2 back from a; 0 if none) · ``b_forward_ratio`` amount b sent out in [t, t+72h] / x
    (capped at 3) · ``b_forward_delay`` log1p(hours to b's first outgoing transfer at or after t,
    cap 168) · ``a_fund_delay`` log1p(hours since a's last incoming transfer at or before t, cap
    168) · ``scatter_converge`` accounts x ∈ N+(a)∖{b} with N+(x) ∩ N+(b) ≠ ∅ ·
    ``gather_common_source`` accounts x ∈ N-(b)∖{a} with N-(x) ∩ N-(a) ≠ ∅ ·
    ``b_in_amount_cv`` / ``a_out_amount_cv`` coefficient of variation of b's incoming / a's
    outgoing amounts in t±24h (0 below two transfers, capped at 3) · ``closes_loop`` 1 when a
    back path b ⇝ a of length ≤ 5 exists (the event closes a cycle of 2–6 accounts) ·
    ``layer_depth_in`` layering depth upstream: how many times the money can be followed back
    — the latest transfer into the payer within 72 h before that kept 90–100 % of the amount
    (amount decay along a path), up to 5 hops · ``layer_ratio_in`` x / the amount of that first
    upstream transfer (0 if none) · ``layer_depth_out`` the same downstream: b's earliest
    transfer within 72 h after t of 90–100 % of x, then onwards (up to 5) ·
    ``co_payers`` bipartite overlap: accounts x ∈ N-(b)∖{a} that also pay another of a's payees
    (N+(x) ∩ N+(a)∖{b} ≠ ∅); 0 when b has more than 16 payers (a hub: bounded search) ·
    ``chain_loop`` 1 when the layering chain closes on the event's parties (b among the payers
    met upstream of a, or a among the payees met downstream of b): the amount went round ·
    ``a_in_recent`` transfers into a in [t−72h, t] · ``b_out_soon`` transfers out of b in
    [t, t+72h] (gather then scatter around a hub).
``device`` (account → device / IP, edge = usage record)
    ``a_device_known`` the initiating device is given · ``a_device_new`` it was first used by a
    in the 24 h before t · ``a_device_accounts`` / ``b_device_accounts`` other accounts that used
    the initiating / receiving device · ``a_ip_accounts`` / ``b_ip_accounts`` other accounts seen
    on the initiating / receiving IP · ``shared_device_ab`` a and b used a common device ·
    ``a_device_count`` devices a used · ``a_ip_new`` the initiating IP was first used by a in
    the 24 h before t · ``a_net_risky`` / ``b_net_risky`` the network type of the initiating /
    receiving IP is proxy, vpn, tor or hosting · addresses as places (the region a device
    reports, :mod:`paver.risk.places`): ``region_mismatch`` the initiating and receiving devices
    report different regions · ``region_distance_km`` log1p(km between their regions' centres)
    · ``a_region_unusual`` the initiating device reports another region than the sender's home
    (``accounts.csv`` ``region``); 0 when a region is unknown.
``behaviour`` (account → behaviour state, edge = how this event compares with the habit)
    ``night`` UTC hour < 6 · ``a_account_age`` / ``b_account_age`` log1p(days since the account
    was created; 1000 when unknown) · ``a_amount_ratio`` log((x+1)/(mean amount a sends+1)) ·
    ``new_payee`` no earlier transfer a→b · ``channel_qr`` a code payment · ``a_kyc`` /
    ``b_kyc`` KYC level / 3 (0.5 when unknown).
``social`` (account → contact, edge = the address-book link and its age)
    ``contact_link`` a and b are contacts · ``contact_recent`` their link was made in the 48 h
    before t · ``common_contacts`` |C(a) ∩ C(b)| · ``a_contact_degree`` |C(a)| ·
    ``b_contact_degree`` |C(b)| · ``b_recent_contacts`` links of b made in the 7 days before t ·
    ``b_in_from_contacts`` share of N-(b) that are contacts of b.

:mod:`paver.risk.relations` computes the same vector for one event from its relation element
groups; :class:`BatchRelationBuilder` computes it for many events at once from an
:class:`~paver.risk.store.InMemoryStore` (the two are tested to agree).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from paver.risk.events import DIMENSIONS, TransferTable
from paver.risk.store import RISKY_NETWORKS, InMemoryStore

FEATURES: dict[str, tuple[str, ...]] = {
    "transaction": (
        "log_amount", "a_out_degree", "a_in_degree", "b_in_degree", "b_out_degree",
        "a_out_burst", "b_in_burst", "pair_count", "back_path", "b_forward_ratio",
        "b_forward_delay", "a_fund_delay", "scatter_converge", "gather_common_source",
        "b_in_amount_cv", "a_out_amount_cv", "closes_loop", "layer_depth_in",
        "layer_ratio_in", "layer_depth_out", "co_payers", "chain_loop", "a_in_recent",
        "b_out_soon",
    ),
    "device": (
        "a_device_known", "a_device_new", "a_device_accounts", "b_device_accounts",
        "a_ip_accounts", "b_ip_accounts", "shared_device_ab", "a_device_count", "a_ip_new",
        "a_net_risky", "b_net_risky", "region_mismatch", "region_distance_km",
        "a_region_unusual",
    ),
    "behaviour": (
        "night", "a_account_age", "b_account_age", "a_amount_ratio", "new_payee", "channel_qr",
        "a_kyc", "b_kyc",
    ),
    "social": (
        "contact_link", "contact_recent", "common_contacts", "a_contact_degree",
        "b_contact_degree", "b_recent_contacts", "b_in_from_contacts",
    ),
}
assert tuple(FEATURES) == DIMENSIONS

#: What each feature means, in a risk operator's words ("sender" = a, "receiver" = b; counts
#: are on a log scale). Explanations carry these next to the numbers.
MEANINGS: dict[str, str] = {
    "log_amount": "size of this payment",
    "a_out_degree": "how many different accounts the sender pays",
    "a_in_degree": "how many different accounts pay the sender",
    "b_in_degree": "how many different accounts pay the receiver",
    "b_out_degree": "how many different accounts the receiver pays",
    "a_out_burst": "payments the sender made within a day of this one",
    "b_in_burst": "payments the receiver got within a day of this one",
    "pair_count": "earlier payments between these two accounts",
    "back_path": "money can flow from the receiver back to the sender (closer = shorter loop)",
    "b_forward_ratio": "share of this amount the receiver passed on within 3 days",
    "b_forward_delay": "how soon the receiver passed money on (short = fast pass-through)",
    "a_fund_delay": "how soon after being funded the sender paid out",
    "scatter_converge": "sender's other payees that pay the same accounts as the receiver",
    "gather_common_source": "receiver's other payers funded from the sender's sources",
    "b_in_amount_cv": "how uneven the amounts reaching the receiver are",
    "a_out_amount_cv": "how uneven the sender's outgoing amounts are",
    "closes_loop": "this payment closes a loop back to the sender (2-6 accounts)",
    "layer_depth_in": "hops the money can be traced back with almost the same amount",
    "layer_ratio_in": "this amount against what the sender just received",
    "layer_depth_out": "hops the money is passed on with almost the same amount",
    "co_payers": "other payers of the receiver that also pay the sender's other payees",
    "chain_loop": "the money goes round: traced along near-equal amounts back to a party",
    "a_in_recent": "payments the sender received in the 3 days before",
    "b_out_soon": "payments the receiver made in the 3 days after",
    "a_device_known": "the paying device is known",
    "a_device_new": "the sender uses a device first seen in the last day",
    "a_device_accounts": "other accounts using the sender's device",
    "b_device_accounts": "other accounts using the receiver's device",
    "a_ip_accounts": "other accounts seen on the sender's IP address",
    "b_ip_accounts": "other accounts seen on the receiver's IP address",
    "shared_device_ab": "sender and receiver used the same device",
    "a_device_count": "how many devices the sender uses",
    "a_ip_new": "the sender's IP address is new in the last day",
    "a_net_risky": "the sender is on a proxy, VPN, Tor or hosting network",
    "b_net_risky": "the receiver is on a proxy, VPN, Tor or hosting network",
    "region_mismatch": "sender's and receiver's devices report different regions",
    "region_distance_km": "distance between the sender's and the receiver's device regions",
    "a_region_unusual": "the sender's device reports a region other than the sender's home",
    "night": "paid between midnight and 6 am (UTC)",
    "a_account_age": "age of the sender's account",
    "b_account_age": "age of the receiver's account",
    "a_amount_ratio": "this amount against what the sender usually pays",
    "new_payee": "first payment from this sender to this receiver",
    "channel_qr": "paid by scanning a payment code",
    "a_kyc": "sender's identity-verification level",
    "b_kyc": "receiver's identity-verification level",
    "contact_link": "sender and receiver are in each other's contacts",
    "contact_recent": "they became contacts within the last 2 days",
    "common_contacts": "contacts the two have in common",
    "a_contact_degree": "size of the sender's contact list",
    "b_contact_degree": "size of the receiver's contact list",
    "b_recent_contacts": "contacts the receiver added in the last week",
    "b_in_from_contacts": "share of the receiver's payers that are its contacts",
}
assert set(MEANINGS) == {f for fs in FEATURES.values() for f in fs}
#: All feature names in vector order (``dimension.feature``).
FEATURE_NAMES: tuple[str, ...] = tuple(f"{d}.{f}" for d in DIMENSIONS for f in FEATURES[d])
#: :data:`MEANINGS` in vector order.
FEATURE_MEANINGS: tuple[str, ...] = tuple(MEANINGS[f] for d in DIMENSIONS for f in FEATURES[d])
#: Column slice of each dimension in the full vector.
SLICES: dict[str, slice] = {}
_start = 0
for _d in DIMENSIONS:
    SLICES[_d] = slice(_start, _start + len(FEATURES[_d]))
    _start += len(FEATURES[_d])
N_FEATURES = _start

HOUR = 3600.0
DAY = 86400.0
BURST_WINDOW = 24 * HOUR
FORWARD_WINDOW = 72 * HOUR
DELAY_CAP_H = 168.0
NEW_WINDOW = 24 * HOUR
CONTACT_RECENT = 48 * HOUR
RECENT_CONTACTS_WINDOW = 7 * DAY
FORWARD_HOPS = 3
BACKWARD_HOPS = 2
MAX_PATH = FORWARD_HOPS + BACKWARD_HOPS
DEFAULT_AGE_DAYS = 1000.0
CV_CAP = 3.0
FORWARD_RATIO_CAP = 3.0
CHAIN_WINDOW = 72 * HOUR
CHAIN_DECAY = 0.9  # a laundering hop keeps at least this share of the amount
MAX_CHAIN = 5
CO_PAYERS_CAP = 16
QR_CHANNELS = frozenset({"qr", "code", "code_payment"})
_MARGIN = 8 * DAY  # larger than every window


def account_age(attrs: Any, t: float) -> float:
    created = attrs.get("created_ts") if attrs else None
    if created is None:
        return math.log1p(DEFAULT_AGE_DAYS)
    return math.log1p(max(0.0, (t - float(created)) / DAY))


def kyc(attrs: Any) -> float:
    lvl = attrs.get("kyc_level") if attrs else None
    try:
        return float(lvl) / 3.0 if lvl is not None else 0.5
    except (TypeError, ValueError):
        return 0.5


def cv(vals: list[float]) -> float:
    """Coefficient of variation (population deviation / mean; 0 below two values), two-pass."""
    n = len(vals)
    if n < 2:
        return 0.0
    mean = math.fsum(vals) / n
    if mean <= 0:
        return 0.0
    var = math.fsum([(v - mean) ** 2 for v in vals]) / n
    return min(CV_CAP, math.sqrt(var) / mean)


# ---------------------------------------------------------------------------------------------
# Batched computation


@dataclass
class BatchTimings:
    """Seconds spent per step of the last batched build."""

    index: float = 0.0
    transaction: float = 0.0
    device: float = 0.0
    behaviour: float = 0.0
    social: float = 0.0

    def total(self) -> float:
        return self.index + self.transaction + self.device + self.behaviour + self.social


class _Sorted:
    """Transfers sorted by (account, time), with prefix sums, for window queries."""

    def __init__(self, acc: np.ndarray, ts: np.ndarray, amount: np.ndarray, cp: np.ndarray,
                 t0: float, span: float) -> None:
        order = np.lexsort((ts, acc))
        self.acc = acc[order]
        self.ts = ts[order]
        self.cp = cp[order]
        self.amount = amount[order]
        self.t0 = t0
        self.span = span
        self.key = self.acc.astype(np.float64) * span + (self.ts - t0 + _MARGIN)
        self.s1 = np.concatenate([[0.0], np.cumsum(self.amount)])

    def cv(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Coefficient of variation of each window ``[lo, hi)`` (two-pass, like the per-event
        path: prefix sums of squares would lose the precision of nearly equal amounts)."""
        m = len(lo)
        n = hi - lo
        owner = np.repeat(np.arange(m), n)
        pos = np.repeat(lo, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
        vals = self.amount[pos]
        nf = np.maximum(n, 1).astype(np.float64)
        mean = np.bincount(owner, weights=vals, minlength=m) / nf
        var = np.bincount(owner, weights=(vals - mean[owner]) ** 2, minlength=m) / nf
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where((n >= 2) & (mean > 0), np.sqrt(var) / np.where(mean > 0, mean, 1), 0.0)
        return np.minimum(CV_CAP, out)

    def k(self, acc: np.ndarray, t: np.ndarray) -> np.ndarray:
        return acc.astype(np.float64) * self.span + (t - self.t0 + _MARGIN)

    def window(self, acc: np.ndarray, lo_t: np.ndarray, hi_t: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """Index range [lo, hi) of ``acc``'s transfers with ``lo_t <= ts <= hi_t``."""
        lo = np.searchsorted(self.key, self.k(acc, lo_t), side="left")
        hi = np.searchsorted(self.key, self.k(acc, hi_t), side="right")
        return lo, hi


def _ranges(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(owner, position) of every index in the ranges ``[lo, hi)``."""
    n = hi - lo
    owner = np.repeat(np.arange(len(lo)), n)
    pos = np.repeat(lo, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
    return owner, pos


def _chain_match(S: _Sorted, acc: np.ndarray, t: np.ndarray, x: np.ndarray, upstream: bool
                 ) -> np.ndarray:
    """Per query: the index in ``S`` of the next laundering hop (``-1``: none).

    ``upstream`` (``S`` = transfers by receiver): the latest transfer into ``acc`` in
    ``[t − CHAIN_WINDOW, t]`` with amount in ``[x, x / CHAIN_DECAY]``; else (``S`` = transfers
    by sender) ``acc``'s earliest in ``[t, t + CHAIN_WINDOW]`` with amount in
    ``[CHAIN_DECAY · x, x]`` — as :func:`paver.risk.relations.chain_up` / ``chain_down``.
    """
    res = np.full(len(acc), -1, dtype=np.int64)
    if upstream:
        lo, hi = S.window(acc, t - CHAIN_WINDOW, t)
        amin, amax = x, x / CHAIN_DECAY
    else:
        lo, hi = S.window(acc, t, t + CHAIN_WINDOW)
        amin, amax = CHAIN_DECAY * x, x
    owner, pos = _ranges(lo, hi)
    amt = S.amount[pos]
    hit = np.flatnonzero((amt >= amin[owner]) & (amt <= amax[owner]))
    if len(hit):
        # owners are non-decreasing and positions increase within an owner: the last (first)
        # hit of each owner's run is its latest (earliest) match
        own = owner[hit]
        edge = own[1:] != own[:-1]
        keep = np.r_[edge, True] if upstream else np.r_[True, edge]
        res[own[keep]] = pos[hit[keep]]
    return res


def _chain_depths(S: _Sorted, upstream: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per transfer of ``S``: its next hop (``-1``: none) and how many further hops its chain
    has (at most MAX_CHAIN)."""
    nxt = _chain_match(S, S.cp, S.ts, S.amount, upstream)
    depth = np.zeros(len(nxt), dtype=np.float64)
    has = nxt >= 0
    safe = np.where(has, nxt, 0)
    for _ in range(MAX_CHAIN):
        depth = np.where(has, np.minimum(MAX_CHAIN, 1.0 + depth[safe]), 0.0)
    return nxt, depth


def _chain_meets(S: _Sorted, nxt: np.ndarray, first: np.ndarray, target: np.ndarray
                 ) -> np.ndarray:
    """Whether the chain starting at ``first`` meets ``target`` as a counterparty within
    MAX_CHAIN hops."""
    found = np.zeros(len(first), dtype=bool)
    cur = first.copy()
    for _ in range(MAX_CHAIN):
        live = cur >= 0
        if not live.any():
            break
        safe = np.where(live, cur, 0)
        found |= live & (S.cp[safe] == target)
        cur = np.where(live, nxt[safe], -1)
    return found


def _expand(indptr: np.ndarray, indices: np.ndarray, rows: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """For CSR rows ``rows``: (position in ``rows``, column) of every stored entry."""
    start = indptr[rows]
    counts = indptr[rows + 1] - start
    owner = np.repeat(np.arange(len(rows)), counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, indices[np.repeat(start, counts) + offs]


def _lookup(codes: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``query`` in the sorted ``codes`` and whether each was found."""
    if len(codes) == 0:
        return np.zeros(len(query), dtype=np.int64), np.zeros(len(query), dtype=bool)
    if len(query) > 4096:  # sorted queries search far faster (cache locality)
        order = np.argsort(query)
        pos = np.empty(len(query), dtype=np.int64)
        pos[order] = np.searchsorted(codes, query[order])
    else:
        pos = np.searchsorted(codes, query)
    np.minimum(pos, len(codes) - 1, out=pos)
    return pos, codes[pos] == query


class BatchRelationBuilder:
    """Vectorised relation features of many events over one :class:`InMemoryStore` snapshot.

    The index is built once per store version (:attr:`timings` ``.index``); :meth:`features`
    then costs a few numpy/scipy passes per batch. Multi-hop features are computed per distinct
    (initiator, receiver) pair, reach sets once per distinct account.
    """

    def __init__(self, store: InMemoryStore, chunk: int = 8192) -> None:
        self.store = store
        self.chunk = chunk
        self.timings = BatchTimings()
        self._version = -1

    # ---------------------------------------------------------------- index
    def _ensure_index(self) -> None:
        if self._version == self.store.version:
            return
        import pandas as pd
        from scipy import sparse

        t_start = time.perf_counter()
        st = self.store
        names: dict[str, None] = dict.fromkeys(st.log_src)
        names.update(dict.fromkeys(st.log_dst))
        for m in (st.accounts_items(), st.device_usage_items(), st.ip_usage_items(),
                  st.contact_items()):
            names.update(dict.fromkeys(m))
        for m in st.contact_items().values():
            names.update(dict.fromkeys(m))
        self.acc_index = pd.Index(list(names), dtype=object)
        n = max(1, len(self.acc_index))
        self.n_accounts = n
        src = self.acc_index.get_indexer(st.log_src).astype(np.int64)
        dst = self.acc_index.get_indexer(st.log_dst).astype(np.int64)
        ts = np.asarray(st.log_ts, dtype=np.float64)
        amount = np.asarray(st.log_amount, dtype=np.float64)
        t0 = float(ts.min()) if len(ts) else 0.0
        t1 = float(ts.max()) if len(ts) else 0.0
        span = (t1 - t0) + 4 * _MARGIN + 1.0
        self.out = _Sorted(src, ts, amount, dst, t0, span)
        self.inn = _Sorted(dst, ts, amount, src, t0, span)
        self.next_in, self.depth_in = _chain_depths(self.inn, upstream=True)
        self.next_out, self.depth_out = _chain_depths(self.out, upstream=False)
        # distinct pairs: counts and first time; binary adjacency
        code = src * n + dst
        order = np.lexsort((ts, code))
        code_s = code[order]
        first = np.ones(len(code_s), dtype=bool)
        first[1:] = code_s[1:] != code_s[:-1]
        self.pair_code = code_s[first]
        self.pair_first_ts = ts[order][first]
        idx = np.flatnonzero(first)
        self.pair_count = np.diff(np.append(idx, len(code_s))).astype(np.float64)
        ps, pd_ = self.pair_code // n, self.pair_code % n
        one = np.ones(len(ps), dtype=np.float64)
        self.A = sparse.csr_matrix((one, (ps, pd_)), shape=(n, n))
        self.AT = self.A.T.tocsr()
        self.A.sort_indices()
        self.AT.sort_indices()
        self.out_deg = np.diff(self.A.indptr).astype(np.float64)
        self.in_deg = np.diff(self.AT.indptr).astype(np.float64)
        out_cnt = np.bincount(src, minlength=n).astype(np.float64)
        out_sum = np.bincount(src, weights=amount, minlength=n)
        self.out_mean = np.where(out_cnt > 0, out_sum / np.maximum(out_cnt, 1), 0.0)
        # accounts
        self.created = np.full(n, np.nan)
        self.kyc = np.full(n, 0.5)
        accs = st.accounts_items()
        if accs:
            ai = self.acc_index.get_indexer(list(accs))
            self.created[ai] = [float(v["created_ts"]) if v.get("created_ts") is not None
                                else np.nan for v in accs.values()]
            self.kyc[ai] = [kyc(v) for v in accs.values()]
        # devices and IPs: usage codes (account × device) → first seen; accounts per device/IP
        self.dev_index, self.dev_code, self.dev_first, self.dev_nacc, self.D = self._usage(
            st.device_usage_items(), n)
        self.ip_index, self.ip_code, self.ip_first, self.ip_nacc, _ = self._usage(
            st.ip_usage_items(), n)
        nets = st.ip_networks()
        self.ip_risky = np.array([nets.get(ip) in RISKY_NETWORKS for ip in self.ip_index],
                                 dtype=bool)
        self.dev_count = np.diff(self.D.indptr).astype(np.float64)
        # places: region code per device and per account's home, distances between regions
        from paver.risk.places import region_distance_km

        regions = st.device_regions()
        names_r = sorted(set(regions.values()) | {str(v["region"]) for v in accs.values()
                                                  if v.get("region")})
        code_of = {r: i for i, r in enumerate(names_r)}
        self.dev_region = np.array([code_of.get(regions.get(d), -1) for d in self.dev_index],
                                   dtype=np.int64)
        self.home_region = np.full(n, -1, dtype=np.int64)
        if accs:
            self.home_region[ai] = [code_of.get(str(v.get("region") or ""), -1)
                                    for v in accs.values()]
        self.region_km = np.array([[region_distance_km(r1, r2) for r2 in names_r]
                                   for r1 in names_r]).reshape(len(names_r), len(names_r))
        # contacts: symmetric adjacency, since per pair, sorted since per account
        r: list[str] = []
        c: list[str] = []
        s: list[float] = []
        for a, m in st.contact_items().items():
            r.extend([a] * len(m))
            c.extend(m.keys())
            s.extend(m.values())
        r_a = self.acc_index.get_indexer(r).astype(np.int64)
        c_a = self.acc_index.get_indexer(c).astype(np.int64)
        s_a = np.asarray(s, dtype=np.float64)
        self.C = sparse.csr_matrix((np.ones(len(r_a)), (r_a, c_a)), shape=(n, n))
        cc = r_a * n + c_a
        o = np.argsort(cc)
        self.contact_code, self.contact_since = cc[o], s_a[o]
        self.contact_deg = np.diff(self.C.indptr).astype(np.float64)
        ct0 = min(t0, float(s_a.min())) if len(s_a) else t0
        ct1 = max(t1, float(s_a.max())) if len(s_a) else t1
        self.csorted = _Sorted(r_a, s_a, np.zeros(len(r_a)), c_a, ct0,
                               (ct1 - ct0) + 4 * _MARGIN + 1)
        inn_contacts = np.asarray(self.AT.multiply(self.C).sum(axis=1)).ravel()
        self.b_in_from_contacts = np.where(self.in_deg > 0,
                                           inn_contacts / np.maximum(self.in_deg, 1), 0.0)
        self._version = st.version
        self.timings.index = time.perf_counter() - t_start

    def _usage(self, items: Any, n: int) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, Any]:
        import pandas as pd
        from scipy import sparse

        accs: list[str] = []
        things: list[str] = []
        firsts: list[float] = []
        for a, m in items.items():
            accs.extend([a] * len(m))
            things.extend(m.keys())
            firsts.extend(u.first_seen for u in m.values())
        index = pd.Index(list(dict.fromkeys(things)), dtype=object)
        ai = self.acc_index.get_indexer(accs).astype(np.int64)
        ti = index.get_indexer(things).astype(np.int64)
        nt = max(1, len(index))
        code = ai * nt + ti
        o = np.argsort(code)
        nacc = np.bincount(ti, minlength=nt).astype(np.float64)
        M = sparse.csr_matrix((np.ones(len(ai)), (ai, ti)), shape=(n, nt))
        return index, code[o], np.asarray(firsts, dtype=np.float64)[o], nacc, M

    # ---------------------------------------------------------------- features
    def features(self, table: TransferTable) -> np.ndarray:
        """Feature matrix (``len(table)`` × :data:`N_FEATURES`, float64) for the events."""
        self.timings = BatchTimings()
        self._ensure_index()
        n = self.n_accounts
        a = self.acc_index.get_indexer(table.from_account).astype(np.int64)
        b = self.acc_index.get_indexer(table.to_account).astype(np.int64)
        if (a < 0).any() or (b < 0).any():
            raise KeyError("an event's accounts are not in the store: record the events first")
        t1 = time.perf_counter()
        # multi-hop features once per distinct pair, pairs grouped by receiver
        by_b, inv = np.unique(b * n + a, return_inverse=True)
        graph = np.zeros((len(by_b), 4))
        step = max(1, self.chunk * 2)
        for s in range(0, len(by_b), step):
            part = by_b[s : s + step]
            graph[s : s + step] = np.column_stack(self._graph(part % n, part // n))
        graph = graph[inv]
        self.timings.transaction += time.perf_counter() - t1
        out = np.zeros((len(table), N_FEATURES), dtype=np.float64)
        for s in range(0, len(table), self.chunk):
            e = min(len(table), s + self.chunk)
            out[s:e] = self._chunk(table, s, e, a[s:e], b[s:e], graph[s:e])
        return out

    def _chunk(self, table: TransferTable, lo: int, hi: int, a: np.ndarray, b: np.ndarray,
               graph: np.ndarray) -> np.ndarray:
        t = table.ts[lo:hi]
        x = table.amount[lo:hi]
        X = np.zeros((hi - lo, N_FEATURES), dtype=np.float64)
        t1 = time.perf_counter()
        X[:, SLICES["transaction"]] = self._transaction(a, b, t, x, graph)
        t2 = time.perf_counter()
        X[:, SLICES["device"]] = self._device(table, lo, hi, a, b, t)
        t3 = time.perf_counter()
        X[:, SLICES["behaviour"]] = self._behaviour(table, lo, hi, a, b, t, x)
        t4 = time.perf_counter()
        X[:, SLICES["social"]] = self._social(a, b, t)
        t5 = time.perf_counter()
        tm = self.timings
        tm.transaction += t2 - t1
        tm.device += t3 - t2
        tm.behaviour += t4 - t3
        tm.social += t5 - t4
        return X

    def _transaction(self, a: np.ndarray, b: np.ndarray, t: np.ndarray, x: np.ndarray,
                     graph: np.ndarray) -> np.ndarray:
        n = self.n_accounts
        F = np.zeros((len(a), len(FEATURES["transaction"])))
        F[:, 0] = np.log1p(x)
        F[:, 1] = np.log1p(self.out_deg[a])
        F[:, 2] = np.log1p(self.in_deg[a])
        F[:, 3] = np.log1p(self.in_deg[b])
        F[:, 4] = np.log1p(self.out_deg[b])
        o, i_ = self.out, self.inn
        lo, hi = o.window(a, t - BURST_WINDOW, t + BURST_WINDOW)
        F[:, 5] = np.log1p(hi - lo)
        F[:, 15] = o.cv(lo, hi)
        lo, hi = i_.window(b, t - BURST_WINDOW, t + BURST_WINDOW)
        F[:, 6] = np.log1p(hi - lo)
        F[:, 14] = i_.cv(lo, hi)
        code = a * n + b
        pi, _ = _lookup(self.pair_code, code)
        F[:, 7] = np.log1p(self.pair_count[pi])
        lo, hi = o.window(b, t, t + FORWARD_WINDOW)
        F[:, 9] = np.minimum(FORWARD_RATIO_CAP, (o.s1[hi] - o.s1[lo]) / np.maximum(x, 0.01))
        idx = np.searchsorted(o.key, o.k(b, t), side="left")
        idx_c = np.minimum(idx, max(0, len(o.acc) - 1))
        ok = (idx < len(o.acc)) & (o.acc[idx_c] == b)
        delay = np.where(ok, (o.ts[idx_c] - t) / HOUR, DELAY_CAP_H)
        F[:, 10] = np.log1p(np.minimum(DELAY_CAP_H, delay))
        idx = np.searchsorted(i_.key, i_.k(a, t), side="right") - 1
        idx_c = np.maximum(idx, 0)
        ok = (idx >= 0) & (i_.acc[idx_c] == a)
        delay = np.where(ok, (t - i_.ts[idx_c]) / HOUR, DELAY_CAP_H)
        F[:, 11] = np.log1p(np.minimum(DELAY_CAP_H, delay))
        F[:, 8] = graph[:, 0]
        F[:, 12] = np.log1p(graph[:, 1])
        F[:, 13] = np.log1p(graph[:, 2])
        F[:, 16] = graph[:, 0] > 0
        up = _chain_match(i_, a, t, x, upstream=True)
        has = up >= 0
        safe = np.where(has, up, 0)
        F[:, 17] = np.where(has, np.minimum(MAX_CHAIN, 1.0 + self.depth_in[safe]), 0.0)
        y = i_.amount[safe] if len(i_.amount) else np.zeros(len(a))
        with np.errstate(divide="ignore", invalid="ignore"):
            F[:, 18] = np.where(has, np.where(y > 0, x / np.where(y > 0, y, 1.0), 1.0), 0.0)
        down = _chain_match(o, b, t, x, upstream=False)
        has = down >= 0
        safe = np.where(has, down, 0)
        F[:, 19] = np.where(has, np.minimum(MAX_CHAIN, 1.0 + self.depth_out[safe]), 0.0)
        F[:, 20] = np.log1p(graph[:, 3])
        F[:, 21] = (_chain_meets(i_, self.next_in, up, b)
                    | _chain_meets(o, self.next_out, down, a))
        lo, hi = i_.window(a, t - CHAIN_WINDOW, t)
        F[:, 22] = np.log1p(hi - lo)
        lo, hi = o.window(b, t, t + CHAIN_WINDOW)
        F[:, 23] = np.log1p(hi - lo)
        return F

    def _graph(self, a: np.ndarray, b: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """back_path, scatter_converge, gather_common_source and co_payers of distinct pairs."""
        from scipy import sparse

        n = self.n_accounts
        A, AT = self.A, self.AT
        m = len(a)
        # distance labels: weight 16^-dist of every node within reach (forward from b,
        # backward to a); the best product over a common node is 16^-(shortest path)
        ub, inv_b = np.unique(b, return_inverse=True)
        ua, inv_a = np.unique(a, return_inverse=True)

        def labels(start: np.ndarray, M: Any, hops: int) -> Any:
            # Σ_h 16^-h · [node reached in exactly h steps]: within a factor 1.07 of
            # 16^-(shortest distance), so rounding the logarithm recovers the distance
            cur = sparse.csr_matrix((np.ones(len(start)), (np.arange(len(start)), start)),
                                    shape=(len(start), n))
            lab = cur.copy()
            for h in range(1, hops + 1):
                cur = cur @ M
                cur.data[:] = 1.0
                lab = lab + cur * (16.0 ** -h)
            lab.sort_indices()
            return lab

        Lf = labels(ub, A, FORWARD_HOPS)
        Lb = labels(ua, AT, BACKWARD_HOPS)
        owner, node = _expand(Lb.indptr, Lb.indices, inv_a)
        wb = Lb.data[_expand(Lb.indptr, np.arange(len(Lb.indices)), inv_a)[1]]
        f_codes = np.repeat(np.arange(Lf.shape[0]), np.diff(Lf.indptr)) * n + Lf.indices
        pos, found = _lookup(f_codes, inv_b[owner] * n + node)
        best = np.zeros(m)
        np.maximum.at(best, owner[found], wb[found] * Lf.data[pos[found]])
        safe = np.where(best > 0, best, 1.0)
        L = np.where(best > 0, np.rint(-np.log(safe) / np.log(16.0)), np.inf)
        L = np.maximum(L, 1.0)
        back = np.where(L <= MAX_PATH, 1.0 / L, 0.0)
        # scatter_converge: x ∈ N+(a)∖{b} with N+(x) ∩ N+(b) ≠ ∅
        p, xs = _expand(A.indptr, A.indices, a)
        keep = xs != b[p]
        p, xs = p[keep], xs[keep]
        q, cs = _expand(A.indptr, A.indices, xs)
        _, hit = _lookup(self.pair_code, b[p[q]] * n + cs)
        pair_x = np.zeros(len(p), dtype=bool)
        pair_x[q[hit]] = True
        scat = np.bincount(p[pair_x], minlength=m).astype(np.float64)
        # gather_common_source: x ∈ N-(b)∖{a} with N-(x) ∩ N-(a) ≠ ∅, i.e. x ∈ ∪ N+(N-(a))
        p, ss = _expand(AT.indptr, AT.indices, a)
        q, xs = _expand(A.indptr, A.indices, ss)
        pp = p[q]
        keep = xs != a[pp]
        pp, xs = pp[keep], xs[keep]
        _, hit = _lookup(self.pair_code, xs * n + b[pp])
        uniq = np.unique(pp[hit] * n + xs[hit])
        gath = np.bincount(uniq // n, minlength=m).astype(np.float64)
        # co_payers: x ∈ N-(b)∖{a} with N+(x) ∩ N+(a)∖{b} ≠ ∅, for b with few payers
        # (exact shortcuts: a needs another payee, x another payee than b)
        rows = np.flatnonzero((self.in_deg[b] <= CO_PAYERS_CAP) & (self.out_deg[a] >= 2))
        p, xs = _expand(AT.indptr, AT.indices, b[rows])
        p = rows[p]
        keep = (xs != a[p]) & (self.out_deg[xs] >= 2)
        p, xs = p[keep], xs[keep]
        q, cs = _expand(A.indptr, A.indices, xs)
        pq = p[q]
        keep = cs != b[pq]
        _, hit = _lookup(self.pair_code, a[pq[keep]] * n + cs[keep])
        hit_x = np.zeros(len(p), dtype=bool)
        hit_x[q[keep][hit]] = True
        co = np.bincount(p[hit_x], minlength=m).astype(np.float64)
        return back, scat, gath, co

    def _device(self, table: TransferTable, lo: int, hi: int, a: np.ndarray, b: np.ndarray,
                t: np.ndarray) -> np.ndarray:
        F = np.zeros((hi - lo, len(FEATURES["device"])))
        fd_s, td_s = table.from_device[lo:hi], table.to_device[lo:hi]
        fi_s, ti_s = table.from_ip[lo:hi], table.to_ip[lo:hi]
        nd, ni = max(1, len(self.dev_index)), max(1, len(self.ip_index))
        fd = self.dev_index.get_indexer(fd_s)
        td = self.dev_index.get_indexer(td_s)
        fi = self.ip_index.get_indexer(fi_s)
        ti = self.ip_index.get_indexer(ti_s)
        has_fd, has_td, has_fi, has_ti = fd >= 0, td >= 0, fi >= 0, ti >= 0
        F[:, 0] = np.fromiter((v is not None for v in fd_s), dtype=bool, count=hi - lo)
        if len(self.dev_code):
            pos, found = _lookup(self.dev_code, a * nd + fd)
            F[:, 1] = has_fd & found & (self.dev_first[pos] >= t - NEW_WINDOW)
        F[:, 2] = np.where(has_fd, np.log1p(np.maximum(0, self.dev_nacc[fd] - 1)), 0.0)
        F[:, 3] = np.where(has_td, np.log1p(np.maximum(0, self.dev_nacc[td] - 1)), 0.0)
        F[:, 4] = np.where(has_fi, np.log1p(np.maximum(0, self.ip_nacc[fi] - 1)), 0.0)
        F[:, 5] = np.where(has_ti, np.log1p(np.maximum(0, self.ip_nacc[ti] - 1)), 0.0)
        shared = np.asarray(self.D[a].multiply(self.D[b]).sum(axis=1)).ravel()
        F[:, 6] = shared > 0
        F[:, 7] = np.log1p(self.dev_count[a])
        if len(self.ip_code):
            pos, found = _lookup(self.ip_code, a * ni + fi)
            F[:, 8] = has_fi & found & (self.ip_first[pos] >= t - NEW_WINDOW)
        if len(self.ip_risky):
            F[:, 9] = has_fi & self.ip_risky[fi]
            F[:, 10] = has_ti & self.ip_risky[ti]
        if len(self.dev_region) and self.region_km.size:
            rf = np.where(has_fd, self.dev_region[fd], -1)
            rt = np.where(has_td, self.dev_region[td], -1)
            both = (rf >= 0) & (rt >= 0)
            F[:, 11] = both & (rf != rt)
            F[:, 12] = np.where(both, np.log1p(self.region_km[np.maximum(rf, 0),
                                                              np.maximum(rt, 0)]), 0.0)
            home = self.home_region[a]
            F[:, 13] = (rf >= 0) & (home >= 0) & (rf != home)
        return F

    def _behaviour(self, table: TransferTable, lo: int, hi: int, a: np.ndarray, b: np.ndarray,
                   t: np.ndarray, x: np.ndarray) -> np.ndarray:
        F = np.zeros((hi - lo, len(FEATURES["behaviour"])))
        F[:, 0] = np.floor(np.mod(t, DAY) / HOUR) < 6
        for col, acc in ((1, a), (2, b)):
            created = self.created[acc]
            age = np.where(np.isnan(created), DEFAULT_AGE_DAYS,
                           np.maximum(0.0, (t - np.nan_to_num(created)) / DAY))
            F[:, col] = np.log1p(age)
        F[:, 3] = np.log((x + 1.0) / (self.out_mean[a] + 1.0))
        pi, _ = _lookup(self.pair_code, a * self.n_accounts + b)
        F[:, 4] = self.pair_first_ts[pi] >= t
        F[:, 5] = np.fromiter((c in QR_CHANNELS for c in table.channel[lo:hi]), dtype=bool,
                              count=hi - lo)
        F[:, 6] = self.kyc[a]
        F[:, 7] = self.kyc[b]
        return F

    def _social(self, a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
        n = self.n_accounts
        F = np.zeros((len(a), len(FEATURES["social"])))
        pos, linked = _lookup(self.contact_code, a * n + b)
        since = self.contact_since[pos] if len(self.contact_since) else np.zeros(len(a))
        F[:, 0] = linked
        F[:, 1] = linked & (since >= t - CONTACT_RECENT) & (since <= t)
        common = np.asarray(self.C[a].multiply(self.C[b]).sum(axis=1)).ravel()
        F[:, 2] = np.log1p(common)
        F[:, 3] = np.log1p(self.contact_deg[a])
        F[:, 4] = np.log1p(self.contact_deg[b])
        lo, hi = self.csorted.window(b, t - RECENT_CONTACTS_WINDOW, t)
        F[:, 5] = np.log1p(hi - lo)
        F[:, 6] = self.b_in_from_contacts[b]
        return F
