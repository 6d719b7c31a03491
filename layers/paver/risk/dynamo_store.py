"""Associated data in DynamoDB (``Relations`` and ``Accounts``), behind the store interface.

Item layout of ``Relations`` (``node_id`` / ``rel_key``):

- ``acct:<A>`` / ``transaction#out#<ts>#<txn>`` → target B, ``attrs`` ``{amount, ts, channel}``
- ``acct:<B>`` / ``transaction#in#<ts>#<txn>`` → target A (the receiver's transfer record)
- ``acct:<A>`` / ``device#<D>`` and ``device:<D>`` / ``account#<A>`` → usage record
  (``first_seen``, ``last_seen``, ``uses``)
- ``acct:<A>`` / ``address#<IP>`` and ``ip:<IP>`` / ``account#<A>`` → usage record, ``attrs``
  ``{network}``
- ``acct:<A>`` / ``social#<B>`` (both directions) → ``attrs`` ``{since}``

``Accounts`` holds the user attributes. Time-ordered ``rel_key`` s make transfer records come
back sorted. Every event is written with a batch write and a few update expressions (no
read-modify-write). Reads query one partition per node and cache it for the life of the store
object (make one per request); a multi-hop step costs one query per node, which the relation
builder's latency budget accounts for (:attr:`cost_per_node_s`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from paver.config import Settings
from paver.risk.events import TransferEvent
from paver.risk.store import InMemoryStore, TransferLog, Usage


@dataclass
class _Partition:
    out: TransferLog = field(default_factory=TransferLog)
    inn: TransferLog = field(default_factory=TransferLog)
    out_n: dict[str, int] = field(default_factory=dict)
    in_n: dict[str, int] = field(default_factory=dict)
    devices: dict[str, Usage] = field(default_factory=dict)
    ips: dict[str, Usage] = field(default_factory=dict)
    contacts: dict[str, float] = field(default_factory=dict)


def _ts_key(ts: float) -> str:
    return f"{ts:017.3f}"


class DynamoStore:
    """:class:`~paver.risk.store.AssociatedDataStore` over the bound PynamoDB models."""

    cost_per_node_s = 0.004

    def __init__(self, cfg: Settings | None = None) -> None:
        del cfg  # kept for callers: the models are bound once per process (bind_all)
        self._parts: dict[str, _Partition] = {}
        self._sets: dict[str, tuple[set[str], str | None, str | None]] = {}
        self._accounts: dict[str, Mapping[str, Any]] = {}
        self.queries = 0

    # ------------------------------------------------------------------ writes
    @staticmethod
    def _transfer_items(e: TransferEvent) -> list[Any]:
        from paver.storage.models import Relation

        attrs = {"amount": e.amount, "ts": e.ts, "channel": e.channel, "txn_id": e.txn_id}
        k = f"{_ts_key(e.ts)}#{e.txn_id}"
        return [
            Relation(node_id=f"acct:{e.from_account}", rel_key=f"transaction#out#{k}",
                     dimension="transaction", target=e.to_account, attrs=attrs),
            Relation(node_id=f"acct:{e.to_account}", rel_key=f"transaction#in#{k}",
                     dimension="transaction", target=e.from_account, attrs=attrs),
        ]

    def record_transfer(self, event: TransferEvent) -> None:
        from paver.storage.models import Relation

        with Relation.batch_write() as batch:
            for item in self._transfer_items(event):
                batch.save(item)
        uses = [(a, d, ip) for a, d, ip in (
            (event.from_account, event.from_device, event.from_ip),
            (event.to_account, event.to_device, event.to_ip)) if d or ip]
        if uses:
            self._record_uses_once(event.txn_id, uses, event.ts)
        for acc in (event.from_account, event.to_account):
            self._parts.pop(acc, None)

    def _record_uses_once(self, txn_id: str, uses: list[tuple[str, str | None, str | None]],
                          ts: float) -> None:
        """Count an event's device/IP uses exactly once, even when the event is retried.

        A processed marker and every ``uses`` increment go into one DynamoDB transaction: a
        retried event fails the marker's condition and adds nothing.
        """
        from pynamodb.exceptions import TransactWriteError
        from pynamodb.transactions import TransactWrite

        from paver.storage.models import IdempotencyRecord
        from paver.storage.registry import condition_failed, connection

        try:
            with TransactWrite(connection=connection()) as tw:
                tw.save(IdempotencyRecord.marker(f"device-use#{txn_id}"),
                        condition=IdempotencyRecord.key.does_not_exist())
                # One operation per item: a transaction may not touch an item twice (a
                # self-transfer from one device would otherwise name it twice).
                items = {}
                for account_id, device_id, ip in uses:
                    for model, actions in self._device_updates(account_id, device_id, ip, ts):
                        items.setdefault((model.node_id, model.rel_key), (model, actions))
                for model, actions in items.values():
                    tw.update(model, actions=actions)
        except TransactWriteError as exc:
            if not condition_failed(exc, 0):  # the marker: this event was counted already
                raise
        for _, device_id, ip in uses:
            self._sets.pop(f"device:{device_id}", None)
            self._sets.pop(f"ip:{ip}", None)

    @staticmethod
    def _device_updates(account_id: str, device_id: str | None, ip: str | None, ts: float,
                        network_type: str | None = None, last_seen: float | None = None,
                        region: str | None = None) -> list[tuple[Any, list[Any]]]:
        """The Relation updates (both directions) for one use of a device and/or an IP."""
        from paver.storage.models import Relation

        def touch(node: str, key: str, target: str,
                  attrs: dict[str, Any] | None) -> tuple[Any, list[Any]]:
            actions = [
                Relation.dimension.set("device"), Relation.target.set(target),
                Relation.first_seen.set(Relation.first_seen | ts),
                Relation.last_seen.set(max(ts, last_seen or ts)), Relation.uses.add(1),
            ]
            if attrs:
                actions.append(Relation.attrs.set(attrs))
            return Relation(node_id=node, rel_key=key), actions

        net = {"network": network_type} if network_type else None
        out = []
        place = {"region": region} if region else None
        if device_id:
            out.append(touch(f"acct:{account_id}", f"device#{device_id}", device_id, place))
            out.append(touch(f"device:{device_id}", f"account#{account_id}", account_id, place))
        if ip:
            out.append(touch(f"acct:{account_id}", f"address#{ip}", ip, net))
            out.append(touch(f"ip:{ip}", f"account#{account_id}", account_id, net))
        return out

    def record_device(self, account_id: str, device_id: str | None, ip: str | None, ts: float,
                      network_type: str | None = None, last_seen: float | None = None,
                      region: str | None = None) -> None:
        """Record device/IP usage outside an event (loading a data environment; not retried)."""
        for model, actions in self._device_updates(account_id, device_id, ip, ts, network_type,
                                                   last_seen, region):
            model.update(actions=actions)
        self._sets.pop(f"device:{device_id}", None)
        self._sets.pop(f"ip:{ip}", None)
        self._parts.pop(account_id, None)

    def add_contact(self, a: str, b: str, since: float) -> None:
        from paver.storage.models import Relation

        with Relation.batch_write() as batch:
            for x, y in ((a, b), (b, a)):
                batch.save(Relation(node_id=f"acct:{x}", rel_key=f"social#{y}",
                                    dimension="social", target=y, attrs={"since": since}))
        self._parts.pop(a, None)
        self._parts.pop(b, None)

    def put_account(self, account_id: str, attrs: Mapping[str, Any]) -> None:
        from paver.storage.models import Account

        Account(account_id=account_id, attrs=dict(attrs)).save()
        self._accounts.pop(account_id, None)

    def bulk_load(self, mem: InMemoryStore, accounts: Iterable[str]) -> int:
        """Copy the associated data of ``accounts`` from an in-memory store (batch writes).

        Writes each account's transfer records, device/address usage (and the device/address
        partitions), contacts and attributes. Returns the number of items written.
        """
        from paver.storage.models import Account, Relation

        n = 0
        seen_nodes: set[tuple[str, str]] = set()
        with Relation.batch_write() as batch, Account.batch_write() as abatch:
            for acc in sorted(set(accounts)):
                attrs = mem.account(acc)
                if attrs:
                    abatch.save(Account(account_id=acc, attrs=dict(attrs)))
                    n += 1
                logs = (("out", mem.transfers_out(acc)), ("in", mem.transfers_in(acc)))
                for direction, log in logs:
                    for i in range(len(log)):
                        key = f"transaction#{direction}#{_ts_key(log.ts[i])}#{acc}-{direction}-{i}"
                        batch.save(Relation(
                            node_id=f"acct:{acc}", rel_key=key, dimension="transaction",
                            target=log.counterparty[i],
                            attrs={"amount": log.amount[i], "ts": log.ts[i]}))
                        n += 1
                for kind, usage, prefix, members in (
                    ("device", mem.devices(acc), "device", mem.device_accounts),
                    ("address", mem.ips(acc), "ip", mem.ip_accounts),
                ):
                    for thing, u in usage.items():
                        net = mem.ip_network(thing) if kind == "address" else None
                        reg = mem.device_region(thing) if kind == "device" else None
                        extra = ({"attrs": {"network": net}} if net
                                 else {"attrs": {"region": reg}} if reg else {})
                        batch.save(Relation(
                            node_id=f"acct:{acc}", rel_key=f"{kind}#{thing}", dimension="device",
                            target=thing, first_seen=u.first_seen, last_seen=u.last_seen,
                            uses=u.count, **extra))
                        n += 1
                        for other in sorted(members(thing)):
                            if (thing, other) in seen_nodes:
                                continue
                            seen_nodes.add((thing, other))
                            ou = (mem.devices(other) if kind == "device" else mem.ips(other))[thing]
                            batch.save(Relation(
                                node_id=f"{prefix}:{thing}", rel_key=f"account#{other}",
                                dimension="device", target=other, first_seen=ou.first_seen,
                                last_seen=ou.last_seen, uses=ou.count, **extra))
                            n += 1
                for other, since in mem.contacts(acc).items():
                    batch.save(Relation(node_id=f"acct:{acc}", rel_key=f"social#{other}",
                                        dimension="social", target=other, attrs={"since": since}))
                    n += 1
        self._parts.clear()
        self._sets.clear()
        return n

    # ------------------------------------------------------------------ reads
    def _part(self, account_id: str) -> _Partition:
        p = self._parts.get(account_id)
        if p is not None:
            return p
        from paver.storage.models import Relation

        p = _Partition()
        self.queries += 1
        out_rows: list[tuple[float, str, float]] = []
        in_rows: list[tuple[float, str, float]] = []
        for item in Relation.query(f"acct:{account_id}"):
            key = item.rel_key
            if key.startswith("transaction#"):
                a = item.attrs or {}
                row = (float(a.get("ts", 0.0)), item.target, float(a.get("amount", 0.0)))
                (out_rows if key.startswith("transaction#out#") else in_rows).append(row)
            elif key.startswith("device#"):
                p.devices[item.target] = Usage(float(item.first_seen or 0),
                                               float(item.last_seen or 0), int(item.uses or 1))
            elif key.startswith("address#"):
                p.ips[item.target] = Usage(float(item.first_seen or 0),
                                           float(item.last_seen or 0), int(item.uses or 1))
            elif key.startswith("social#"):
                p.contacts[item.target] = float((item.attrs or {}).get("since", 0.0))
        for rows, log, nbrs in ((out_rows, p.out, p.out_n), (in_rows, p.inn, p.in_n)):
            for ts, cp, amount in sorted(rows):
                log.ts.append(ts)
                log.counterparty.append(cp)
                log.amount.append(amount)
                nbrs[cp] = nbrs.get(cp, 0) + 1
        self._parts[account_id] = p
        return p

    def _members(self, node: str) -> tuple[set[str], str | None, str | None]:
        got = self._sets.get(node)
        if got is not None:
            return got
        from paver.storage.models import Relation

        self.queries += 1
        members: set[str] = set()
        network: str | None = None
        region: str | None = None
        for item in Relation.query(node):
            members.add(item.target)
            network = (item.attrs or {}).get("network") or network
            region = (item.attrs or {}).get("region") or region
        self._sets[node] = (members, network, region)
        return members, network, region

    def account(self, account_id: str) -> Mapping[str, Any]:
        got = self._accounts.get(account_id)
        if got is None:
            from pynamodb.exceptions import DoesNotExist

            from paver.risk.events import parse_timestamp
            from paver.storage.models import Account

            self.queries += 1
            try:
                got = dict(Account.get(account_id).attrs or {})
            except DoesNotExist:
                got = {}
            if "created_ts" not in got and isinstance(got.get("created_at"), str):
                got["created_ts"] = parse_timestamp(got["created_at"])
            self._accounts[account_id] = got
        return got

    def transfers_out(self, account_id: str) -> TransferLog:
        return self._part(account_id).out

    def transfers_in(self, account_id: str) -> TransferLog:
        return self._part(account_id).inn

    def out_neighbours(self, account_id: str) -> Mapping[str, int]:
        return self._part(account_id).out_n

    def in_neighbours(self, account_id: str) -> Mapping[str, int]:
        return self._part(account_id).in_n

    def devices(self, account_id: str) -> Mapping[str, Usage]:
        return self._part(account_id).devices

    def device_accounts(self, device_id: str) -> set[str]:
        return self._members(f"device:{device_id}")[0]

    def ips(self, account_id: str) -> Mapping[str, Usage]:
        return self._part(account_id).ips

    def ip_accounts(self, ip: str) -> set[str]:
        return self._members(f"ip:{ip}")[0]

    def ip_network(self, ip: str) -> str | None:
        return self._members(f"ip:{ip}")[1]

    def device_region(self, device_id: str) -> str | None:
        return self._members(f"device:{device_id}")[2]

    def contacts(self, account_id: str) -> Mapping[str, float]:
        return self._part(account_id).contacts
