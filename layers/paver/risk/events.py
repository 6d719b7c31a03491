"""Business events (transfers and code payments) and the CSV files that carry them.

``transactions.csv``
    ``txn_id,timestamp,from_account,to_account,amount,currency,channel`` and optionally
    ``from_device,to_device,from_ip,to_ip``. Timestamps are ISO-8601 (``Z``/offset; naive means
    UTC). ``amount`` is a non-negative number. ``channel`` is free text (``transfer``, ``qr`` …).
``labels.csv``
    ``txn_id,scene,group``: an empty ``scene`` means normal; ``group`` is the id of the pattern
    instance (all transactions of one injected/observed pattern share it). A scene is a **label
    as people write it** (``fan-out``, ``Gather Scatter``, ``分散转入``): any non-empty text
    (trimmed, at most :data:`MAX_LABEL` characters, no control characters), kept as written in
    every output; :func:`scene_key` derives the internal key (rule names, facts).

Every reader raises :class:`InputFileError` naming the file and line of the first problem.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paver.errors import InvalidInput
from paver.fields import parse_float
from paver.lazy import lazy_module

if TYPE_CHECKING:
    import numpy as np
else:  # numpy for tables of events (training, replay), not for one screened event
    np = lazy_module("numpy")

#: The four dimension types of relation groups (claim 6).
DIMENSIONS: tuple[str, ...] = ("transaction", "device", "behaviour", "social")

TXN_REQUIRED: tuple[str, ...] = (
    "txn_id", "timestamp", "from_account", "to_account", "amount", "currency", "channel",
)
TXN_OPTIONAL: tuple[str, ...] = ("from_device", "to_device", "from_ip", "to_ip")
LABEL_COLUMNS: tuple[str, ...] = ("txn_id", "scene", "group")
MAX_LABEL = 200
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def check_label(text: str) -> str:
    """A scene label as written, trimmed; raises ``ValueError`` naming what is wrong."""
    label = str(text).strip()
    if not label:
        raise ValueError("must not be empty")
    if len(label) > MAX_LABEL:
        raise ValueError(f"at most {MAX_LABEL} characters")
    if _CONTROL_RE.search(label):
        raise ValueError("must not contain control characters")
    return label


def scene_key(label: str) -> str:
    """The internal key of a scene label (``[a-z][a-z0-9_]*``, stable, distinct per label).

    A label that already is such a key stays itself (``fan_in`` → ``fan_in``); any other gets an
    ASCII slug plus 8 hex digits of its SHA-1 (``fan-out`` → ``fan_out_…``, ``分散转入`` →
    ``scene_…``), so two labels never share a key.
    """
    import hashlib

    if _KEY_RE.match(label):
        return label
    slug = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40]
    if not slug or not slug[0].isalpha():
        slug = f"scene_{slug}".rstrip("_")
    return f"{slug}_{hashlib.sha1(label.encode('utf-8')).hexdigest()[:8]}"


class InputFileError(InvalidInput):
    """An input file is malformed; the message is ``file:line: problem``."""


def parse_timestamp(text: str) -> float:
    """ISO-8601 text → seconds since the epoch (UTC; a naive time is taken as UTC)."""
    t = text.strip()
    if not t:
        raise ValueError("empty timestamp")
    dt = datetime.fromisoformat(t[:-1] + "+00:00" if t.endswith(("Z", "z")) else t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def format_timestamp(ts: float) -> str:
    """Seconds since the epoch → ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class TransferEvent:
    """One business event: a transfer or a code payment from ``from_account`` to ``to_account``."""

    txn_id: str
    ts: float
    from_account: str
    to_account: str
    amount: float
    currency: str = ""
    channel: str = "transfer"
    from_device: str | None = None
    to_device: str | None = None
    from_ip: str | None = None
    to_ip: str | None = None

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> TransferEvent:
        """Build from a dict with ``timestamp`` (ISO text or epoch seconds) or ``ts``."""
        raw_ts = d.get("ts", d.get("timestamp"))
        if raw_ts is None:
            raise ValueError("timestamp: missing")
        ts = float(raw_ts) if isinstance(raw_ts, int | float) else parse_timestamp(str(raw_ts))
        raw_amount = d["amount"]
        amount = parse_float(raw_amount) if isinstance(raw_amount, str) else float(raw_amount)
        if not math.isfinite(amount) or amount < 0:
            raise ValueError("amount: must be a finite non-negative number")
        for key in ("txn_id", "from_account", "to_account"):
            if not str(d.get(key) or "").strip():
                raise ValueError(f"{key}: missing")
        return cls(
            txn_id=str(d["txn_id"]), ts=ts, from_account=str(d["from_account"]),
            to_account=str(d["to_account"]), amount=amount,
            currency=str(d.get("currency") or ""), channel=str(d.get("channel") or "transfer"),
            from_device=_opt(d.get("from_device")), to_device=_opt(d.get("to_device")),
            from_ip=_opt(d.get("from_ip")), to_ip=_opt(d.get("to_ip")),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "txn_id": self.txn_id, "timestamp": format_timestamp(self.ts),
            "from_account": self.from_account, "to_account": self.to_account,
            "amount": self.amount, "currency": self.currency, "channel": self.channel,
        }
        for key in TXN_OPTIONAL:
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def _opt(v: Any) -> str | None:
    s = "" if v is None else str(v).strip()
    return s or None


@dataclass
class TransferTable:
    """Events in columns (what batch screening works on); row ``i`` is :meth:`event` ``(i)``."""

    txn_id: list[str]
    ts: np.ndarray
    from_account: list[str]
    to_account: list[str]
    amount: np.ndarray
    currency: list[str]
    channel: list[str]
    from_device: list[str | None]
    to_device: list[str | None]
    from_ip: list[str | None]
    to_ip: list[str | None]
    source: str = ""
    _index: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.txn_id)

    def event(self, i: int) -> TransferEvent:
        return TransferEvent(
            self.txn_id[i], float(self.ts[i]), self.from_account[i], self.to_account[i],
            float(self.amount[i]), self.currency[i], self.channel[i], self.from_device[i],
            self.to_device[i], self.from_ip[i], self.to_ip[i],
        )

    def events(self) -> Iterator[TransferEvent]:
        for i in range(len(self)):
            yield self.event(i)

    def index_of(self, txn_id: str) -> int:
        if self._index is None:
            self._index = {t: i for i, t in enumerate(self.txn_id)}
        return self._index[txn_id]

    def take(self, rows: np.ndarray | list[int]) -> TransferTable:
        """A new table with the given rows (in that order)."""
        r = [int(i) for i in rows]
        return TransferTable(
            [self.txn_id[i] for i in r], self.ts[r], [self.from_account[i] for i in r],
            [self.to_account[i] for i in r], self.amount[r], [self.currency[i] for i in r],
            [self.channel[i] for i in r], [self.from_device[i] for i in r],
            [self.to_device[i] for i in r], [self.from_ip[i] for i in r],
            [self.to_ip[i] for i in r], self.source,
        )

    @classmethod
    def from_events(cls, events: list[TransferEvent], source: str = "") -> TransferTable:
        return cls(
            [e.txn_id for e in events], np.array([e.ts for e in events], dtype=np.float64),
            [e.from_account for e in events], [e.to_account for e in events],
            np.array([e.amount for e in events], dtype=np.float64),
            [e.currency for e in events], [e.channel for e in events],
            [e.from_device for e in events], [e.to_device for e in events],
            [e.from_ip for e in events], [e.to_ip for e in events], source,
        )


def _open_csv(path: Path, required: tuple[str, ...]) -> tuple[Any, csv.DictReader, Any]:
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputFileError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    try:
        reader = csv.DictReader(fh)
        header = reader.fieldnames
    except (UnicodeDecodeError, csv.Error) as exc:
        fh.close()
        raise InputFileError(f"{path}:1: cannot read the header: {exc}") from exc
    if not header:
        fh.close()
        raise InputFileError(f"{path}:1: empty file (expected a header: {','.join(required)})")
    missing = [c for c in required if c not in header]
    if missing:
        fh.close()
        raise InputFileError(f"{path}:1: missing column(s): {', '.join(missing)}")
    return fh, reader, header


def csv_rows(path: Path, required: tuple[str, ...]
             ) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """The header and ``(line, row)`` of every data row of a CSV file with ``required``
    columns; a row with the wrong number of fields, or text that is not CSV in UTF-8, stops
    with ``file:line: problem``."""
    fh, reader, header = _open_csv(path, required)

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        line = 1
        try:
            with fh:
                for row in reader:
                    line = reader.line_num
                    if None in row or any(row.get(c) is None for c in required):
                        raise InputFileError(f"{path}:{line}: wrong number of fields")
                    yield line, row
        except (UnicodeDecodeError, csv.Error) as exc:
            raise InputFileError(f"{path}:{line + 1}: cannot parse: {exc}") from exc

    return list(header), rows()


def read_transactions(path: str | Path) -> TransferTable:
    """Read and validate ``transactions.csv``.

    Raises
    ------
    InputFileError
        On the first bad line (``file:line: column: problem``), a duplicate ``txn_id`` or a
        missing column.
    """
    p = Path(path)
    header, rows = csv_rows(p, TXN_REQUIRED)
    opt = [c for c in TXN_OPTIONAL if c in header]
    cols: dict[str, list[Any]] = {c: [] for c in (*TXN_REQUIRED, *TXN_OPTIONAL)}
    seen: set[str] = set()
    for line, row in rows:
        txn = row["txn_id"].strip()
        if not txn:
            raise InputFileError(f"{p}:{line}: txn_id: empty")
        if txn in seen:
            raise InputFileError(f"{p}:{line}: txn_id: duplicate {txn!r}")
        seen.add(txn)
        try:
            ts = parse_timestamp(row["timestamp"])
        except ValueError as exc:
            raise InputFileError(
                f"{p}:{line}: timestamp: not ISO-8601 ({row['timestamp']!r}: {exc})"
            ) from None
        try:
            amount = parse_float(row["amount"])
        except ValueError:
            raise InputFileError(
                f"{p}:{line}: amount: not a number ({row['amount']!r})"
            ) from None
        if not math.isfinite(amount) or amount < 0:
            raise InputFileError(f"{p}:{line}: amount: must be finite and >= 0")
        for c in ("from_account", "to_account"):
            if not row[c].strip():
                raise InputFileError(f"{p}:{line}: {c}: empty")
        cols["txn_id"].append(txn)
        cols["timestamp"].append(ts)
        cols["from_account"].append(row["from_account"].strip())
        cols["to_account"].append(row["to_account"].strip())
        cols["amount"].append(amount)
        cols["currency"].append(row["currency"].strip())
        cols["channel"].append(row["channel"].strip() or "transfer")
        for c in TXN_OPTIONAL:
            cols[c].append(_opt(row.get(c)) if c in opt else None)
    return TransferTable(
        cols["txn_id"], np.asarray(cols["timestamp"], dtype=np.float64), cols["from_account"],
        cols["to_account"], np.asarray(cols["amount"], dtype=np.float64), cols["currency"],
        cols["channel"], cols["from_device"], cols["to_device"], cols["from_ip"], cols["to_ip"],
        source=str(p),
    )


@dataclass(frozen=True)
class Label:
    scene: str | None  # None = normal
    group: str | None


def read_labels(path: str | Path, txn_ids: set[str] | None = None) -> dict[str, Label]:
    """Read ``labels.csv`` → ``{txn_id: Label}``.

    A risky row (non-empty ``scene``) needs a ``group``; a scene is any label as written
    (:func:`check_label`). With ``txn_ids``, every labelled id must be a known transaction.
    """
    p = Path(path)
    _, rows = csv_rows(p, LABEL_COLUMNS)
    out: dict[str, Label] = {}
    for line, row in rows:
        txn = row["txn_id"].strip()
        scene = row["scene"].strip() or None
        group = row["group"].strip() or None
        if not txn:
            raise InputFileError(f"{p}:{line}: txn_id: empty")
        if txn in out:
            raise InputFileError(f"{p}:{line}: txn_id: duplicate {txn!r}")
        if txn_ids is not None and txn not in txn_ids:
            raise InputFileError(f"{p}:{line}: txn_id: {txn!r} is not in the transactions")
        if scene is not None:
            try:
                scene = check_label(scene)
            except ValueError as exc:
                raise InputFileError(f"{p}:{line}: scene: {scene!r} {exc}") from None
            if group is None:
                raise InputFileError(f"{p}:{line}: group: a risky row needs a group")
        out[txn] = Label(scene, group)
    return out


def write_transactions(path: Path, table: TransferTable) -> int:
    """Write ``table`` as ``transactions.csv`` (optional columns only when any is set)."""
    opt = [c for c in TXN_OPTIONAL if any(getattr(table, c))]
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*TXN_REQUIRED, *opt])
        for i in range(len(table)):
            w.writerow([
                table.txn_id[i], format_timestamp(float(table.ts[i])), table.from_account[i],
                table.to_account[i], f"{table.amount[i]:.2f}", table.currency[i],
                table.channel[i], *[getattr(table, c)[i] or "" for c in opt],
            ])
    return len(table)


def write_labels(path: Path, labels: Mapping[str, Label], order: list[str]) -> int:
    """Write ``labels.csv`` for the ids in ``order`` (missing ids are written as normal)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(LABEL_COLUMNS)
        for txn in order:
            lab = labels.get(txn)
            w.writerow([txn, (lab.scene or "") if lab else "", (lab.group or "") if lab else ""])
    return len(order)
