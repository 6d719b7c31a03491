"""Associated data of events (claims 2–4) and the in-memory store that holds it.

For an event the associated data are, for the **initiator** and the **receiver**: their contacts
(address book), their transfer records and their user attributes; and the **data environment**:
the devices each party used, the usage records of those devices, and from them the initiating and
receiving addresses (IP), the network features (network type) and the device usage features
(first/last seen, how many accounts share a device or an IP).

:class:`AssociatedDataStore` is the query interface the relation builder reads; it is updated as
events arrive (:meth:`record_transfer`). :class:`InMemoryStore` serves batch screening, the CLI
and the benchmark; :class:`paver.risk.dynamo_store.DynamoStore` serves the API from the
``Relations`` and ``Accounts`` tables with the same interface.

Side files of a world directory (all optional, read by :func:`load_side_files`):

``accounts.csv``
    ``account_id`` plus attribute columns; ``created_at`` (ISO-8601) and ``kyc_level`` (1–3)
    are used by features, the rest is kept as attributes.
``devices.csv``
    ``account_id,device_id,ip,network_type,first_seen[,last_seen][,region]``: one usage record
    of a device (and the IP it was seen on) by an account; ``region`` is the place the device
    reports (:mod:`paver.risk.places`).
``contacts.csv``
    ``account_id,contact_id,since``: an address-book link (taken as undirected).
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from paver.risk.events import InputFileError, TransferEvent, TransferTable, parse_timestamp

#: Network types treated as risky network features.
RISKY_NETWORKS: frozenset[str] = frozenset({"proxy", "vpn", "tor", "hosting"})


@dataclass(slots=True)
class TransferLog:
    """Transfer records of one account in one direction, sorted by time."""

    ts: list[float] = field(default_factory=list)
    counterparty: list[str] = field(default_factory=list)
    amount: list[float] = field(default_factory=list)

    def add(self, ts: float, cp: str, amount: float) -> None:
        if not self.ts or ts >= self.ts[-1]:
            self.ts.append(ts)
            self.counterparty.append(cp)
            self.amount.append(amount)
        else:
            i = bisect.bisect_right(self.ts, ts)
            self.ts.insert(i, ts)
            self.counterparty.insert(i, cp)
            self.amount.insert(i, amount)

    def __len__(self) -> int:
        return len(self.ts)


@dataclass(slots=True)
class Usage:
    """Usage record of a device or an IP by one account."""

    first_seen: float
    last_seen: float
    count: int = 1

    def see(self, ts: float) -> None:
        self.first_seen = min(self.first_seen, ts)
        self.last_seen = max(self.last_seen, ts)
        self.count += 1


_EMPTY_LOG = TransferLog()
_NO_FIRST: dict[str, float] = {}


class AssociatedDataStore(Protocol):
    """What the relation builder reads about accounts, devices, IPs and contacts."""

    #: Rough cost of expanding one node in a multi-hop step (seconds), for the latency budget.
    cost_per_node_s: float

    def record_transfer(self, event: TransferEvent) -> None: ...
    def account(self, account_id: str) -> Mapping[str, Any]: ...
    def transfers_out(self, account_id: str) -> TransferLog: ...
    def transfers_in(self, account_id: str) -> TransferLog: ...
    def out_neighbours(self, account_id: str) -> Mapping[str, int]: ...
    def in_neighbours(self, account_id: str) -> Mapping[str, int]: ...
    def devices(self, account_id: str) -> Mapping[str, Usage]: ...
    def device_accounts(self, device_id: str) -> set[str] | frozenset[str]: ...
    def ips(self, account_id: str) -> Mapping[str, Usage]: ...
    def ip_accounts(self, ip: str) -> set[str] | frozenset[str]: ...
    def ip_network(self, ip: str) -> str | None: ...
    def device_region(self, device_id: str) -> str | None: ...
    def contacts(self, account_id: str) -> Mapping[str, float]: ...


class InMemoryStore:
    """Associated data held in dictionaries (plus a columnar transfer log for batch work).

    Every mutation bumps :attr:`version`, so derived batch indexes know when to rebuild.
    """

    cost_per_node_s = 1e-6

    def __init__(self) -> None:
        self.version = 0
        self._accounts: dict[str, dict[str, Any]] = {}
        self._out: dict[str, TransferLog] = {}
        self._in: dict[str, TransferLog] = {}
        self._out_n: dict[str, dict[str, int]] = {}
        self._in_n: dict[str, dict[str, int]] = {}
        # incremental per-account aggregates (O(1) reads for hub accounts)
        self._out_total: dict[str, float] = {}
        self._first_ts: dict[str, dict[str, float]] = {}
        self._dev: dict[str, dict[str, Usage]] = {}
        self._dev_acc: dict[str, set[str]] = {}
        self._ip: dict[str, dict[str, Usage]] = {}
        self._ip_acc: dict[str, set[str]] = {}
        self._ip_net: dict[str, str] = {}
        self._dev_region: dict[str, str] = {}
        self._contacts: dict[str, dict[str, float]] = {}
        # columnar log of every recorded transfer (batch indexes are built from it)
        self.log_src: list[str] = []
        self.log_dst: list[str] = []
        self.log_ts: list[float] = []
        self.log_amount: list[float] = []

    # ------------------------------------------------------------------ updates
    def put_account(self, account_id: str, attrs: Mapping[str, Any]) -> None:
        """Set user attributes; ``created_at`` may be ISO text (kept as ``created_ts`` too)."""
        a = dict(attrs)
        created = a.get("created_at")
        if isinstance(created, str) and created:
            a["created_ts"] = parse_timestamp(created)
        elif isinstance(created, int | float):
            a["created_ts"] = float(created)
        self._accounts[account_id] = a
        self.version += 1

    def record_device(
        self, account_id: str, device_id: str | None, ip: str | None, ts: float,
        network_type: str | None = None, last_seen: float | None = None,
        region: str | None = None,
    ) -> None:
        """Record that ``account_id`` used ``device_id`` (and/or ``ip``) at ``ts``."""
        if device_id and region:
            self._dev_region[device_id] = region
        if device_id:
            u = self._dev.setdefault(account_id, {})
            if device_id in u:
                u[device_id].see(ts)
            else:
                u[device_id] = Usage(ts, ts)
            if last_seen is not None:
                u[device_id].see(last_seen)
            self._dev_acc.setdefault(device_id, set()).add(account_id)
        if ip:
            u = self._ip.setdefault(account_id, {})
            if ip in u:
                u[ip].see(ts)
            else:
                u[ip] = Usage(ts, ts)
            if last_seen is not None:
                u[ip].see(last_seen)
            self._ip_acc.setdefault(ip, set()).add(account_id)
            if network_type:
                self._ip_net[ip] = network_type
        self.version += 1

    def add_contact(self, a: str, b: str, since: float) -> None:
        """An address-book link between ``a`` and ``b`` (undirected; the earliest ``since``)."""
        if a == b:
            return
        for x, y in ((a, b), (b, a)):
            c = self._contacts.setdefault(x, {})
            c[y] = min(c.get(y, since), since)
        self.version += 1

    def record_transfer(self, event: TransferEvent) -> None:
        """Add the event to both parties' transfer records and its devices' usage records."""
        a, b, t, x = event.from_account, event.to_account, event.ts, event.amount
        self._out.setdefault(a, TransferLog()).add(t, b, x)
        self._in.setdefault(b, TransferLog()).add(t, a, x)
        on = self._out_n.setdefault(a, {})
        on[b] = on.get(b, 0) + 1
        inn = self._in_n.setdefault(b, {})
        inn[a] = inn.get(a, 0) + 1
        self._out_total[a] = self._out_total.get(a, 0.0) + x
        first = self._first_ts.setdefault(a, {})
        if t < first.get(b, math.inf):
            first[b] = t
        self.log_src.append(a)
        self.log_dst.append(b)
        self.log_ts.append(t)
        self.log_amount.append(x)
        if event.from_device or event.from_ip:
            self.record_device(a, event.from_device, event.from_ip, t)
        if event.to_device or event.to_ip:
            self.record_device(b, event.to_device, event.to_ip, t)
        self.version += 1

    def record_table(self, table: TransferTable) -> None:
        for e in table.events():
            self.record_transfer(e)

    @staticmethod
    def freeze() -> None:
        """Exclude everything allocated so far (the loaded store) from the cyclic GC.

        A loaded store holds millions of objects; without this, a full collection scans them
        all and shows up as multi-millisecond pauses in per-event latency (call it once after a
        bulk load in a long-lived serving process).
        """
        import gc

        gc.collect()
        gc.freeze()

    # ------------------------------------------------------------------ queries
    def account(self, account_id: str) -> Mapping[str, Any]:
        return self._accounts.get(account_id, {})

    def transfers_out(self, account_id: str) -> TransferLog:
        return self._out.get(account_id, _EMPTY_LOG)

    def transfers_in(self, account_id: str) -> TransferLog:
        return self._in.get(account_id, _EMPTY_LOG)

    def out_neighbours(self, account_id: str) -> Mapping[str, int]:
        return self._out_n.get(account_id, {})

    def in_neighbours(self, account_id: str) -> Mapping[str, int]:
        return self._in_n.get(account_id, {})

    def out_amount_total(self, account_id: str) -> float:
        """Sum of the amounts ``account_id`` sent, accumulated in recording order."""
        return self._out_total.get(account_id, 0.0)

    def first_transfer_ts(self, source: str, target: str) -> float | None:
        """Time of the earliest recorded transfer ``source → target`` (``None``: none)."""
        return self._first_ts.get(source, _NO_FIRST).get(target)

    def devices(self, account_id: str) -> Mapping[str, Usage]:
        return self._dev.get(account_id, {})

    def device_accounts(self, device_id: str) -> set[str] | frozenset[str]:
        return self._dev_acc.get(device_id, frozenset())

    def ips(self, account_id: str) -> Mapping[str, Usage]:
        return self._ip.get(account_id, {})

    def ip_accounts(self, ip: str) -> set[str] | frozenset[str]:
        return self._ip_acc.get(ip, frozenset())

    def ip_network(self, ip: str) -> str | None:
        return self._ip_net.get(ip)

    def device_region(self, device_id: str) -> str | None:
        return self._dev_region.get(device_id)

    def contacts(self, account_id: str) -> Mapping[str, float]:
        return self._contacts.get(account_id, {})

    # ------------------------------------------------------------------ bulk views (batch)
    def accounts_items(self) -> Mapping[str, Mapping[str, Any]]:
        return self._accounts

    def device_usage_items(self) -> Mapping[str, Mapping[str, Usage]]:
        return self._dev

    def ip_usage_items(self) -> Mapping[str, Mapping[str, Usage]]:
        return self._ip

    def ip_networks(self) -> Mapping[str, str]:
        return self._ip_net

    def device_regions(self) -> Mapping[str, str]:
        return self._dev_region

    def contact_items(self) -> Mapping[str, Mapping[str, float]]:
        return self._contacts


def _rows(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise InputFileError(f"{path}:1: missing column(s): {', '.join(missing)}")
        out = []
        try:
            for row in reader:
                if None in row or any(row.get(c) is None for c in required):
                    raise InputFileError(f"{path}:{reader.line_num}: wrong number of fields")
                out.append((reader.line_num, row))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputFileError(f"{path}:{reader.line_num + 1}: cannot parse: {exc}") from exc
    return out


def _ts(path: Path, line: int, col: str, text: str) -> float:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise InputFileError(f"{path}:{line}: {col}: not ISO-8601 ({text!r}: {exc})") from None


def load_world(store: InMemoryStore, world: Any) -> InMemoryStore:
    """Load a generated ``TransferWorld`` (``paver_dev.world.transfers``) (rows already typed).

    The in-memory twin of :func:`load_side_files` plus ``record_table`` for its transactions.
    """
    for r in world.accounts:
        store.put_account(str(r["account_id"]), r)
    for r in world.devices:
        store.record_device(r["account_id"], r["device_id"], r["ip"],
                            parse_timestamp(r["first_seen"]), r["network_type"],
                            parse_timestamp(r["last_seen"]), r.get("region") or None)
    for r in world.contacts:
        store.add_contact(r["account_id"], r["contact_id"], parse_timestamp(r["since"]))
    store.record_table(world.transactions)
    return store


def load_side_files(store: InMemoryStore, directory: str | Path) -> dict[str, int]:
    """Load ``accounts.csv``, ``devices.csv`` and ``contacts.csv`` from ``directory`` if present.

    Returns rows loaded per file.
    """
    d = Path(directory)
    counts: dict[str, int] = {}
    p = d / "accounts.csv"
    if p.is_file():
        rows = _rows(p, ("account_id",))
        for line, row in rows:
            acc = row.pop("account_id").strip()
            if not acc:
                raise InputFileError(f"{p}:{line}: account_id: empty")
            attrs: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
            if "created_at" in attrs:
                attrs["created_ts"] = _ts(p, line, "created_at", attrs["created_at"])
            if "kyc_level" in attrs:
                try:
                    attrs["kyc_level"] = int(attrs["kyc_level"])
                except ValueError:
                    raise InputFileError(f"{p}:{line}: kyc_level: not an integer") from None
            store._accounts[acc] = attrs
        counts["accounts.csv"] = len(rows)
    p = d / "devices.csv"
    if p.is_file():
        rows = _rows(p, ("account_id", "device_id", "ip", "network_type", "first_seen"))
        for line, row in rows:
            first = _ts(p, line, "first_seen", row["first_seen"])
            last = row.get("last_seen") or ""
            store.record_device(
                row["account_id"].strip(), row["device_id"].strip() or None,
                row["ip"].strip() or None, first, row["network_type"].strip() or None,
                _ts(p, line, "last_seen", last) if last.strip() else None,
                (row.get("region") or "").strip() or None,
            )
        counts["devices.csv"] = len(rows)
    p = d / "contacts.csv"
    if p.is_file():
        rows = _rows(p, ("account_id", "contact_id", "since"))
        for line, row in rows:
            store.add_contact(
                row["account_id"].strip(), row["contact_id"].strip(),
                _ts(p, line, "since", row["since"]),
            )
        counts["contacts.csv"] = len(rows)
    store.version += 1
    return counts
