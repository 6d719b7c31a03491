"""Synthetic accounts, devices, contacts and transfers with injected risk scenes.

A population of personal, merchant and business accounts lives for :data:`DAYS` days from
:data:`START`. Normal traffic dominates: transfers between contacts (with repayments, shared
bills, marketplace payments to strangers after adding them as a contact), code payments to
merchants (popular merchants collect from many payers), weekly merchant settlements, monthly
payroll (a natural fan-out), households sharing a phone, legitimate new phones and VPN users.
Into it, instances of known **risk scenes** are injected; each instance is one ``group``:

``fan_in``
    many unrelated senders (mules or strangers) → one collector within hours, amounts just under
    a reporting line; the collector sweeps the money on.
``fan_out``
    a large inflow, then within hours split into near-equal transfers to many fresh accounts.
``cycle``
    3–6 accounts pass one amount around a loop (minus a small fee per hop) back to the start.
``scatter_gather``
    one source → several fresh intermediates → each forwards almost everything to one sink.
``gather_scatter``
    several sources → one fresh hub → several destinations.
``shared_device_mule_ring``
    fresh mule accounts sharing one or two phones and an IP (often behind a proxy) receive from
    victims and forward to a boss account.
``account_takeover_new_device``
    a victim's long-standing account is used from a device and IP first seen minutes before
    (often at night, behind a proxy) to drain large amounts to a fresh payee.
``fake_customer_service_scam``
    victims add a fresh "customer service" account as a contact minutes to hours before paying
    it (social link); the scammer sweeps the money on.

With ``scene_set="amlworld"`` the injected scenes are instead the eight laundering typologies
of IBM's AMLworld (Altman et al., *Realistic Synthetic Financial Transactions for Anti-Money
Laundering Models*, NeurIPS 2023 datasets track), labelled as that paper writes them
(:data:`TYPOLOGIES`): ``fan-out`` (one account pays many), ``fan-in`` (many pay one),
``cycle`` (an amount travels a loop of 3–6 accounts back to its origin), ``random`` (an amount
takes a random walk of 3–6 hops that does not return), ``bipartite`` (a set of origins pays a
set of destinations, several edges each), ``stack`` (two bipartite layers on top of each other:
origins → intermediates → destinations), ``scatter-gather`` (one source → intermediates → one
sink) and ``gather-scatter`` (many → one hub → many). Laundering hops keep most of the amount
(a small cut per hop) and follow one another within hours to days.

Files written by :meth:`TransferWorld.write`
--------------------------------------------
``transactions.csv``
    ``txn_id`` (``T0000001``…, in time order), ``timestamp`` (ISO-8601 UTC, ``Z``),
    ``from_account``, ``to_account``, ``amount`` (CNY, 2 decimals), ``currency`` (``CNY``),
    ``channel`` (``transfer`` | ``qr`` for code payments), ``from_device``, ``to_device``
    (device ids used to initiate / receive), ``from_ip``, ``to_ip`` (IPv4 text).
``labels.csv``
    ``txn_id``, ``scene`` (empty = normal), ``group`` (``G0001``…: the injected instance).
``accounts.csv``
    ``account_id`` (``A000001``…), ``kind`` (``personal`` | ``merchant`` | ``business``),
    ``created_at`` (ISO-8601), ``kyc_level`` (1–3), ``region``.
``devices.csv``
    ``account_id``, ``device_id`` (``D000001``…), ``ip``, ``network_type`` (``wifi`` |
    ``cellular`` | ``proxy`` | ``vpn``), ``first_seen``, ``last_seen`` (ISO-8601), ``region``
    (the region the device reports): one usage record of a device on an IP by an account.
``contacts.csv``
    ``account_id``, ``contact_id``, ``since`` (ISO-8601): an address-book link.

The same generator state always gives the same world (no set iteration, no global state).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from paver.risk.events import Label, TransferTable, format_timestamp, write_labels

START = datetime(2024, 3, 1, tzinfo=UTC).timestamp()
DAYS = 30
DAY = 86400.0
HOUR = 3600.0
REGIONS: tuple[str, ...] = ("east", "south", "north", "west", "central")
SCENES: tuple[str, ...] = (
    "fan_in", "fan_out", "cycle", "scatter_gather", "gather_scatter",
    "shared_device_mule_ring", "account_takeover_new_device", "fake_customer_service_scam",
)
#: AMLworld's laundering typologies, labelled as users write them (``scene_set="amlworld"``).
TYPOLOGIES: tuple[str, ...] = (
    "fan-out", "fan-in", "cycle", "random", "bipartite", "stack", "scatter-gather",
    "gather-scatter",
)
SCENE_SETS: dict[str, tuple[str, ...]] = {"paver": SCENES, "amlworld": TYPOLOGIES}


@dataclass
class _Device:
    device_id: str
    ip: str
    network: str
    first_seen: float
    last_seen: float
    region: str = ""


@dataclass
class TransferWorld:
    """The generated population and its traffic (see the module docstring for the files)."""

    accounts: list[dict[str, str | int]]
    devices: list[dict[str, str]]
    contacts: list[dict[str, str]]
    transactions: TransferTable
    labels: dict[str, Label]
    scenes: dict[str, int] = field(default_factory=dict)  # instances per scene

    def write(self, out_dir: Path) -> dict[str, int]:
        """Write the five CSV files into ``out_dir``; return rows per file."""
        from paver.risk.events import write_transactions

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        counts = {
            "transactions.csv": write_transactions(out / "transactions.csv", self.transactions),
            "labels.csv": write_labels(out / "labels.csv", self.labels,
                                       self.transactions.txn_id),
        }
        for name, rows, cols in (
            ("accounts.csv", self.accounts,
             ("account_id", "kind", "created_at", "kyc_level", "region")),
            ("devices.csv", self.devices,
             ("account_id", "device_id", "ip", "network_type", "first_seen", "last_seen",
              "region")),
            ("contacts.csv", self.contacts, ("account_id", "contact_id", "since")),
        ):
            with (out / name).open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=list(cols))
                w.writeheader()
                w.writerows(rows)
            counts[name] = len(rows)
        return counts


class _Builder:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.kind: list[str] = []
        self.created: list[float] = []
        self.kyc: list[int] = []
        self.region: list[str] = []
        self.devs: list[list[_Device]] = []
        self.contacts: dict[tuple[int, int], float] = {}
        self.n_dev = 0
        self.n_ip = 0
        # transfers: (ts, a, b, amount, channel, scene, group, from_dev, to_dev)
        self.tx: list[tuple[float, int, int, float, str, str, str, str | None, str | None]] = []

    # ------------------------------------------------------------------ population
    def account(self, kind: str, created: float, kyc: int) -> int:
        self.kind.append(kind)
        self.created.append(created)
        self.kyc.append(kyc)
        self.region.append(REGIONS[int(self.rng.integers(len(REGIONS)))])
        self.devs.append([])
        return len(self.kind) - 1

    def ip(self) -> str:
        self.n_ip += 1
        n = self.n_ip
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"

    def device(self, acc: int, first: float, network: str | None = None,
               ip: str | None = None, device_id: str | None = None,
               region: str | None = None) -> _Device:
        if device_id is None:
            self.n_dev += 1
            device_id = f"D{self.n_dev:06d}"
        if network is None:
            r = self.rng.random()
            network = "wifi" if r < 0.6 else "cellular" if r < 0.985 else "vpn"
        d = _Device(device_id, ip or self.ip(), network, first, first,
                    region or self.region[acc])
        self.devs[acc].append(d)
        return d

    def contact(self, a: int, b: int, since: float) -> None:
        if a == b:
            return
        key = (min(a, b), max(a, b))
        self.contacts[key] = min(self.contacts.get(key, since), since)

    def fresh(self, t: float, max_age_days: float = 45.0, network: str | None = None) -> int:
        """A recently opened account (mule / payee) with its own new phone."""
        created = t - float(self.rng.uniform(0.5, max_age_days)) * DAY
        acc = self.account("personal", created, int(self.rng.choice([1, 1, 2])))
        self.device(acc, created, network)
        return acc

    # ------------------------------------------------------------------ traffic
    def dev_at(self, acc: int, ts: float, prefer_new: float = 0.7) -> _Device | None:
        ds = [d for d in self.devs[acc] if d.first_seen <= ts]
        if not ds:
            return self.devs[acc][0] if self.devs[acc] else None
        if len(ds) > 1 and self.rng.random() < prefer_new:
            return max(ds, key=lambda d: d.first_seen)
        return ds[int(self.rng.integers(len(ds)))]

    def send(self, ts: float, a: int, b: int, amount: float, channel: str = "transfer",
             scene: str = "", group: str = "", from_dev: _Device | None = None) -> None:
        fd = from_dev or self.dev_at(a, ts)
        td = self.dev_at(b, ts, prefer_new=0.5)
        for d in (fd, td):
            if d is not None:
                d.last_seen = max(d.last_seen, ts)
                d.first_seen = min(d.first_seen, ts)
        self.tx.append((ts, a, b, round(max(amount, 0.01), 2), channel, scene, group,
                        fd.device_id if fd else None, td.device_id if td else None))


def _hours(rng: np.random.Generator, n: int) -> np.ndarray:
    """Time of day (hours) of ordinary activity: mostly 7–23 h, a few at night."""
    day = rng.uniform(7.0, 23.5, n)
    night = rng.uniform(0.0, 7.0, n)
    return np.where(rng.random(n) < 0.04, night, day)


def _normal(w: _Builder, n_accounts: int) -> dict[str, list[int]]:
    rng = w.rng
    end = START + DAYS * DAY
    kinds = rng.choice(["personal", "merchant", "business"], size=n_accounts, p=[0.89, 0.08, 0.03])
    for k in kinds:
        if k == "personal" and rng.random() < 0.05:  # legitimately new users
            created = START + float(rng.uniform(-30, DAYS - 3)) * DAY
            kyc = 1
        else:
            created = START - float(rng.uniform(30, 3000)) * DAY
            kyc = int(rng.choice([1, 2, 3], p=[0.15, 0.45, 0.40]))
        w.account(str(k), created, kyc)
    personal = [i for i, k in enumerate(w.kind) if k == "personal"]
    merchants = [i for i, k in enumerate(w.kind) if k == "merchant"]
    business = [i for i, k in enumerate(w.kind) if k == "business"]
    if not merchants:
        merchants = [personal.pop()]
    if not business:
        business = [personal.pop()]
    # devices: a primary phone; some have a second; households share; some get a new phone
    for i in range(n_accounts):
        first = max(w.created[i], START - 400 * DAY) + float(rng.uniform(0, 5)) * DAY
        first = min(first, w.created[i] + DAY)
        w.device(i, first, "wifi" if w.kind[i] != "personal" else None)
        if w.kind[i] == "personal" and rng.random() < 0.25:
            w.device(i, first + float(rng.uniform(1, 300)) * DAY)
    pers = np.asarray(personal)
    communities = rng.integers(0, max(1, len(personal) // 20), size=len(personal))
    by_comm: dict[int, list[int]] = {}
    for acc, c in zip(personal, communities, strict=True):
        by_comm.setdefault(int(c), []).append(acc)
    for acc, c in zip(personal, communities, strict=True):
        if rng.random() < 0.06:  # household: share the phone with a community member
            mates = by_comm[int(c)]
            other = mates[int(rng.integers(len(mates)))]
            if other != acc and w.devs[other]:
                d = w.devs[other][0]
                w.device(acc, max(d.first_seen, w.created[acc]), d.network, d.ip, d.device_id,
                         d.region)
        if rng.random() < 0.08:  # a legitimately new phone during the window (some travel)
            away = REGIONS[int(rng.integers(len(REGIONS)))] if rng.random() < 0.15 else None
            w.device(acc, START + float(rng.uniform(0, DAYS)) * DAY, region=away)
    # contacts: mostly within the community
    for acc, c in zip(personal, communities, strict=True):
        mates = by_comm[int(c)]
        for _ in range(int(rng.poisson(5)) + 2):
            other = (mates[int(rng.integers(len(mates)))] if rng.random() < 0.85
                     else int(pers[int(rng.integers(len(pers)))]))
            since = START - float(rng.uniform(1, 1500)) * DAY
            if rng.random() < 0.04:
                since = START + float(rng.uniform(0, DAYS)) * DAY
            w.contact(acc, other, max(since, w.created[acc], w.created[other]))
    contact_lists: dict[int, list[int]] = {}
    for (x, y) in w.contacts:
        contact_lists.setdefault(x, []).append(y)
        contact_lists.setdefault(y, []).append(x)
    # person-to-person transfers
    n_p2p = rng.poisson(4.5, size=len(personal))
    for acc, n in zip(personal, n_p2p, strict=True):
        days = rng.uniform(0, DAYS, n)
        hours = _hours(rng, n)
        for d, h in zip(days, hours, strict=True):
            ts = START + d * DAY + h * HOUR
            if ts < w.created[acc]:
                continue
            cl = contact_lists.get(acc, [])
            if cl and rng.random() < 0.85:
                other = cl[int(rng.integers(len(cl)))]
            else:  # a stranger: marketplace sale, often after adding them as a contact
                other = int(pers[int(rng.integers(len(pers)))])
                if rng.random() < 0.35:
                    w.contact(acc, other, ts - float(rng.uniform(0.05, 30)) * HOUR)
            if other == acc or ts < w.created[other]:
                continue
            amount = float(rng.lognormal(np.log(150), 1.0))
            if rng.random() < 0.25:
                amount = max(10.0, round(amount, -1))
            w.send(ts, acc, other, amount)
            if rng.random() < 0.3:  # repayment
                back = ts + float(rng.uniform(0.2, 120)) * HOUR
                if back < end:
                    w.send(back, other, acc, amount * float(rng.uniform(0.5, 1.0)))
    # shared bills: several contacts pay one person on the same evening (legitimate fan-in)
    for acc in personal:
        cl = contact_lists.get(acc, [])
        if len(cl) >= 3 and rng.random() < 0.04:
            ts0 = START + float(rng.uniform(0, DAYS - 1)) * DAY + 19 * HOUR
            share = float(rng.lognormal(np.log(120), 0.5))
            payers = rng.choice(cl, size=min(len(cl), int(rng.integers(3, 9))), replace=False)
            for p in payers:
                w.send(ts0 + float(rng.uniform(0, 6)) * HOUR, int(p), acc,
                       share * float(rng.uniform(0.9, 1.1)))
    # code payments to merchants (popularity is skewed)
    pop = 1.0 / np.arange(1, len(merchants) + 1) ** 0.8
    pop /= pop.sum()
    n_qr = rng.poisson(6.0, size=len(personal))
    for acc, n in zip(personal, n_qr, strict=True):
        ms = rng.choice(len(merchants), size=n, p=pop)
        days = rng.uniform(0, DAYS, n)
        hours = _hours(rng, n)
        for m, d, h in zip(ms, days, hours, strict=True):
            ts = START + d * DAY + h * HOUR
            if ts >= w.created[acc]:
                w.send(ts, acc, merchants[int(m)], float(rng.lognormal(np.log(60), 0.8)), "qr")
    # weekly settlement of merchants to their owner's personal account
    for m in merchants:
        owner = int(pers[int(rng.integers(len(pers)))])
        for week in range(DAYS // 7):
            ts = START + (7 * week + 6) * DAY + float(rng.uniform(1, 3)) * HOUR
            w.send(ts, m, owner, float(rng.lognormal(np.log(3000), 0.6)))
    # payroll: treasury inflow, then one transfer per employee within an hour
    for biz in business:
        staff = rng.choice(pers, size=min(len(pers), int(rng.integers(8, 40))), replace=False)
        pay_day = START + (DAYS - 5) * DAY + 9 * HOUR
        base = float(rng.lognormal(np.log(6000), 0.3))
        treasury = business[int(rng.integers(len(business)))]
        total = base * len(staff)
        if treasury != biz:
            w.send(pay_day - float(rng.uniform(2, 30)) * HOUR, treasury, biz, total)
        for s in staff:
            w.send(pay_day + float(rng.uniform(0, 1)) * HOUR, biz, int(s),
                   base * float(rng.lognormal(0, 0.25)))
    return {"personal": personal, "merchants": merchants, "business": business}


def _existing(w: _Builder, personal: list[int], t: float) -> int:
    """A personal account opened at least 30 days before ``t`` (drawn at random)."""
    for _ in range(50):
        acc = personal[int(w.rng.integers(len(personal)))]
        if w.created[acc] < t - 30 * DAY:
            return acc
    return personal[0]


def _inject(w: _Builder, pop: dict[str, list[int]], per_scene: int) -> dict[str, int]:
    rng = w.rng
    personal = pop["personal"]
    contacts = w.contacts
    counts: dict[str, int] = {}
    gid = 0

    def existing(t: float) -> int:
        return _existing(w, personal, t)

    def either(t: float, p_new: float) -> int:
        return w.fresh(t) if rng.random() < p_new else existing(t)

    def t_start() -> float:
        return START + float(rng.uniform(2, DAYS - 4)) * DAY + float(rng.uniform(0, 24)) * HOUR

    for scene in SCENES:
        counts[scene] = per_scene
        for _ in range(per_scene):
            gid += 1
            g = f"G{gid:04d}"
            t0 = t_start()

            def send(ts: float, a: int, b: int, amt: float, dev: _Device | None = None,
                     scene: str = scene, g: str = g) -> None:
                w.send(ts, a, b, amt, "transfer", scene, g, dev)

            if scene == "fan_in":
                c = either(t0, 0.7)
                k = int(rng.integers(5, 15))
                span = float(rng.uniform(6, 48)) * HOUR
                line = float(rng.choice([5000, 10000, 20000]))
                total = 0.0
                last = t0
                for _ in range(k):
                    s = either(t0, 0.6)
                    for _ in range(1 + int(rng.random() < 0.2)):
                        ts = t0 + float(rng.uniform(0, span))
                        amt = line * float(rng.uniform(0.6, 0.99))
                        send(ts, s, c, amt)
                        total += amt
                        last = max(last, ts)
                if rng.random() < 0.7:
                    send(last + float(rng.uniform(1, 24)) * HOUR, c, either(t0, 0.6),
                         total * 0.97)
            elif scene == "fan_out":
                s = either(t0, 0.5)
                k = int(rng.integers(5, 15))
                total = float(rng.uniform(20000, 80000))
                send(t0, w.fresh(t0), s, total)
                start = t0 + float(rng.uniform(0.5, 6)) * HOUR
                for _ in range(k):
                    r = either(t0, 0.7)
                    send(start + float(rng.uniform(0, 8)) * HOUR, s, r,
                         total / k * float(rng.uniform(0.9, 1.1)))
            elif scene == "cycle":
                n = int(rng.integers(3, 7))
                ring = [either(t0, 0.5) for _ in range(n)]
                amt = float(rng.uniform(2000, 30000))
                fee = float(rng.uniform(0.005, 0.03))
                for rep in range(1 + int(rng.random() < 0.3)):
                    ts = t0 + rep * float(rng.uniform(3, 8)) * DAY
                    a_ = amt
                    for i in range(n):
                        ts += float(rng.uniform(1, 24)) * HOUR
                        send(ts, ring[i], ring[(i + 1) % n], a_)
                        a_ *= 1 - fee
            elif scene == "scatter_gather":
                s = either(t0, 0.4)
                sink = either(t0, 0.6)
                k = int(rng.integers(3, 9))
                total = float(rng.uniform(10000, 60000))
                for _ in range(k):
                    m = w.fresh(t0)
                    ts = t0 + float(rng.uniform(0, 6)) * HOUR
                    amt = total / k * float(rng.uniform(0.9, 1.1))
                    send(ts, s, m, amt)
                    send(ts + float(rng.uniform(1, 24)) * HOUR, m, sink,
                         amt * float(rng.uniform(0.95, 0.99)))
            elif scene == "gather_scatter":
                hub = w.fresh(t0)
                k = int(rng.integers(3, 9))
                total = 0.0
                for _ in range(k):
                    amt = float(rng.uniform(2000, 9000))
                    send(t0 + float(rng.uniform(0, 24)) * HOUR, either(t0, 0.5), hub, amt)
                    total += amt
                m = int(rng.integers(3, 9))
                t1 = t0 + float(rng.uniform(25, 48)) * HOUR
                for _ in range(m):
                    send(t1 + float(rng.uniform(0, 24)) * HOUR, hub, either(t0, 0.6),
                         total / m * float(rng.uniform(0.85, 1.0)))
            elif scene == "shared_device_mule_ring":
                n = int(rng.integers(4, 9))
                net = "proxy" if rng.random() < 0.7 else "cellular"
                created = t0 - float(rng.uniform(2, 40)) * DAY
                ip = w.ip()
                w.n_dev += 1
                phones = [f"D{w.n_dev:06d}"]
                if rng.random() < 0.5:
                    w.n_dev += 1
                    phones.append(f"D{w.n_dev:06d}")
                mules = []
                ring_region = REGIONS[int(rng.integers(len(REGIONS)))]
                for _ in range(n):
                    acc = w.account("personal", created + float(rng.uniform(0, 2)) * DAY, 1)
                    for p in phones:
                        w.device(acc, w.created[acc], net, ip, p, ring_region)
                    mules.append(acc)
                boss = either(t0, 0.5)
                for mule in mules:
                    got = 0.0
                    last = t0
                    for _ in range(int(rng.integers(1, 4))):
                        ts = t0 + float(rng.uniform(0, 5)) * DAY
                        amt = float(rng.uniform(500, 5000))
                        send(ts, existing(t0), mule, amt)
                        got += amt
                        last = max(last, ts)
                    dev = w.devs[mule][int(rng.integers(len(w.devs[mule])))]
                    send(last + float(rng.uniform(2, 48)) * HOUR, mule, boss,
                         got * float(rng.uniform(0.9, 0.98)), dev)
            elif scene == "account_takeover_new_device":
                victim = existing(t0)
                payee = w.fresh(t0)
                day0 = START + float(np.floor((t0 - START) / DAY)) * DAY
                hour = float(rng.uniform(0, 5.5)) if rng.random() < 0.7 else float(
                    rng.uniform(9, 22))
                ta = day0 + hour * HOUR
                net = str(rng.choice(["proxy", "vpn", "cellular"], p=[0.45, 0.25, 0.3]))
                far = REGIONS[int(rng.integers(len(REGIONS)))] if rng.random() < 0.6 else None
                dev = w.device(victim, ta - float(rng.uniform(1, 40)) * 60, net, region=far)
                total = float(rng.uniform(3000, 30000))
                parts = int(rng.integers(1, 4))
                for i in range(parts):
                    send(ta + i * float(rng.uniform(2, 20)) * 60, victim, payee,
                         total / parts * float(rng.uniform(0.8, 1.2)), dev)
            elif scene == "fake_customer_service_scam":
                scammer = w.fresh(t0, max_age_days=20)
                got = 0.0
                last = t0
                for _ in range(int(rng.integers(3, 9))):
                    v = existing(t0)
                    tv = t0 + float(rng.uniform(0, 4)) * DAY
                    contacts[(min(v, scammer), max(v, scammer))] = tv - float(
                        rng.uniform(5 / 60, 3)) * HOUR
                    for i in range(1 + int(rng.random() < 0.4)):
                        amt = float(rng.uniform(300, 8000))
                        send(tv + i * float(rng.uniform(5, 60)) * 60, v, scammer, amt)
                        got += amt
                    last = max(last, tv)
                send(last + float(rng.uniform(1, 12)) * HOUR, scammer, either(t0, 0.6),
                     got * 0.95)
    return counts


def _inject_typologies(w: _Builder, pop: dict[str, list[int]], per_scene: int) -> dict[str, int]:
    """AMLworld's eight typologies (see the module docstring), ``per_scene`` instances each."""
    rng = w.rng
    personal = pop["personal"]
    counts: dict[str, int] = {}
    gid = 0

    def existing(t: float) -> int:
        return _existing(w, personal, t)

    def either(t: float, p_new: float = 0.5) -> int:
        return w.fresh(t, max_age_days=120) if rng.random() < p_new else existing(t)

    def gap() -> float:  # hours between laundering hops
        return float(rng.uniform(0.5, 36)) * HOUR

    def cut() -> float:  # what a hop keeps
        return 1.0 - float(rng.uniform(0.005, 0.05))

    for scene in TYPOLOGIES:
        counts[scene] = per_scene
        for _ in range(per_scene):
            gid += 1
            g = f"G{gid:04d}"
            t0 = START + float(rng.uniform(2, DAYS - 6)) * DAY + float(rng.uniform(0, 24)) * HOUR

            def send(ts: float, a: int, b: int, amt: float, scene: str = scene,
                     g: str = g) -> None:
                w.send(ts, a, b, amt, "transfer", scene, g)

            amount = float(rng.lognormal(np.log(12000), 0.6))
            if scene == "fan-out":
                s = either(t0)
                k = int(rng.integers(4, 13))
                for _ in range(k):
                    send(t0 + float(rng.uniform(0, 48)) * HOUR, s, either(t0, 0.6),
                         amount / k * float(rng.uniform(0.8, 1.2)))
            elif scene == "fan-in":
                c = either(t0)
                k = int(rng.integers(4, 13))
                for _ in range(k):
                    send(t0 + float(rng.uniform(0, 48)) * HOUR, either(t0, 0.6), c,
                         amount / k * float(rng.uniform(0.8, 1.2)))
            elif scene in ("cycle", "random"):
                n = int(rng.integers(3, 7))
                path = [either(t0) for _ in range(n + (scene == "random"))]
                ts, amt = t0, amount
                for i in range(n):
                    b = path[(i + 1) % n] if scene == "cycle" else path[i + 1]
                    send(ts, path[i], b, amt)
                    ts += gap()
                    amt *= cut()
            elif scene == "bipartite":
                src = [either(t0) for _ in range(int(rng.integers(2, 5)))]
                dst = [either(t0, 0.6) for _ in range(int(rng.integers(2, 5)))]
                for a in src:
                    for b in dst:
                        if rng.random() < 0.8:
                            send(t0 + float(rng.uniform(0, 48)) * HOUR, a, b,
                                 amount / len(dst) * float(rng.uniform(0.8, 1.2)))
            elif scene == "stack":
                layers = [[either(t0) for _ in range(int(rng.integers(2, 4)))] for _ in range(3)]
                ts = t0
                for lo, hi in ((layers[0], layers[1]), (layers[1], layers[2])):
                    for a in lo:
                        for b in hi:
                            send(ts + float(rng.uniform(0, 24)) * HOUR, a, b,
                                 amount / len(hi) * float(rng.uniform(0.85, 1.0)))
                    ts += float(rng.uniform(24, 48)) * HOUR
            elif scene == "scatter-gather":
                s, sink = either(t0), either(t0, 0.6)
                k = int(rng.integers(3, 9))
                for _ in range(k):
                    m = either(t0, 0.7)
                    ts = t0 + float(rng.uniform(0, 12)) * HOUR
                    part = amount / k * float(rng.uniform(0.9, 1.1))
                    send(ts, s, m, part)
                    send(ts + gap(), m, sink, part * cut())
            elif scene == "gather-scatter":
                hub = either(t0, 0.6)
                k = int(rng.integers(3, 9))
                total = 0.0
                for _ in range(k):
                    part = amount / k * float(rng.uniform(0.8, 1.2))
                    send(t0 + float(rng.uniform(0, 24)) * HOUR, either(t0), hub, part)
                    total += part
                m = int(rng.integers(3, 9))
                t1 = t0 + float(rng.uniform(25, 48)) * HOUR
                for _ in range(m):
                    send(t1 + float(rng.uniform(0, 24)) * HOUR, hub, either(t0, 0.6),
                         total / m * cut())
    return counts


def generate(rng: np.random.Generator, n_accounts: int, days: int = DAYS,
             instances_per_scene: int | None = None, scene_set: str = "paver") -> TransferWorld:
    """Generate a world of ``n_accounts`` ordinary accounts plus the injected scenes' accounts.

    Parameters
    ----------
    rng
        The only source of randomness (same state → same world).
    n_accounts
        Ordinary accounts (≥ 50). Scene instances: ``max(3, n_accounts // 250)`` per scene
        unless ``instances_per_scene`` is given.
    days
        Kept for the signature's stability; the window is :data:`DAYS` days.
    scene_set
        ``paver`` (:data:`SCENES`) or ``amlworld`` (:data:`TYPOLOGIES`).
    """
    if scene_set not in SCENE_SETS:
        raise ValueError(f"scene_set: one of {', '.join(SCENE_SETS)}, got {scene_set!r}")
    if n_accounts < 50:
        raise ValueError(f"n_accounts: at least 50, got {n_accounts}")
    del days
    w = _Builder(rng)
    pop = _normal(w, n_accounts)
    per_scene = (instances_per_scene if instances_per_scene is not None
                 else max(3, n_accounts // 250))
    inject = _inject if scene_set == "paver" else _inject_typologies
    scene_counts = inject(w, pop, per_scene)
    # order by time, assign ids
    w.tx.sort(key=lambda r: (r[0], r[1], r[2]))
    acc_id = [f"A{i + 1:06d}" for i in range(len(w.kind))]
    dev_ip = {d.device_id: d.ip for devs in w.devs for d in devs}
    n = len(w.tx)
    txn_ids = [f"T{i + 1:07d}" for i in range(n)]
    labels: dict[str, Label] = {}
    for tid, r in zip(txn_ids, w.tx, strict=True):
        if r[5]:
            labels[tid] = Label(r[5], r[6])
    table = TransferTable(
        txn_ids, np.asarray([round(r[0]) for r in w.tx], dtype=np.float64),
        [acc_id[r[1]] for r in w.tx], [acc_id[r[2]] for r in w.tx],
        np.asarray([r[3] for r in w.tx], dtype=np.float64), ["CNY"] * n,
        [r[4] for r in w.tx], [r[7] for r in w.tx], [r[8] for r in w.tx],
        [dev_ip.get(r[7]) if r[7] else None for r in w.tx],
        [dev_ip.get(r[8]) if r[8] else None for r in w.tx],
    )
    accounts = [
        {"account_id": acc_id[i], "kind": w.kind[i], "created_at": format_timestamp(w.created[i]),
         "kyc_level": w.kyc[i], "region": w.region[i]}
        for i in range(len(w.kind))
    ]
    devices = [
        {"account_id": acc_id[i], "device_id": d.device_id, "ip": d.ip, "network_type": d.network,
         "first_seen": format_timestamp(d.first_seen), "last_seen": format_timestamp(d.last_seen),
         "region": d.region}
        for i in range(len(w.kind)) for d in w.devs[i]
    ]
    contacts = [
        {"account_id": acc_id[x], "contact_id": acc_id[y], "since": format_timestamp(s)}
        for (x, y), s in sorted(w.contacts.items())
    ]
    return TransferWorld(accounts, devices, contacts, table, labels, scene_counts)
