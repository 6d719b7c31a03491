"""Realtime (point-in-time) features never read an event later than the one screened."""

from __future__ import annotations

import numpy as np
import pytest

from paver.risk.events import TransferTable
from paver.risk.features import BatchRelationBuilder
from paver.risk.replay import realtime_features
from paver.risk.store import InMemoryStore, load_world
from paver_dev.world import transfers


@pytest.fixture(scope="module")
def world() -> transfers.TransferWorld:
    return transfers.generate(np.random.default_rng(4), 300, instances_per_scene=3,
                              scene_set="amlworld")


def _side(w: transfers.TransferWorld) -> InMemoryStore:
    empty = TransferTable.from_events([])
    return load_world(InMemoryStore(), transfers.TransferWorld(
        w.accounts, w.devices, w.contacts, empty, {}))


def _rewrite_future(table: TransferTable, cut: int, rng: np.random.Generator
                    ) -> TransferTable:
    """The same window with every event after replay position ``cut`` changed (same times)."""
    order = np.argsort(table.ts, kind="stable")
    later = order[cut + 1:]
    t = table.take(np.arange(len(table)))
    accounts = sorted(set(table.from_account) | set(table.to_account))
    for i in later.tolist():
        t.amount[i] = float(rng.uniform(1, 90000))
        t.to_account[i] = accounts[int(rng.integers(len(accounts)))]
        t.from_device[i] = f"DNEW{i}"
        t.from_ip[i] = f"192.0.2.{i % 250}"
    return t


def test_realtime_features_never_read_a_later_event(world: transfers.TransferWorld) -> None:
    table = world.transactions
    side = _side(world)
    X, _ = realtime_features(table, side)
    order = np.argsort(table.ts, kind="stable")
    rng = np.random.default_rng(0)
    for cut in (len(table) // 3, len(table) // 2, (3 * len(table)) // 4):
        changed = _rewrite_future(table, cut, rng)
        side2 = _side(world)
        for k in range(40):  # address-book links made after the cut
            a, b = changed.from_account[k], changed.to_account[-k - 1]
            side2.add_contact(a, b, float(table.ts[order[cut]]) + 1 + k)
        X2, _ = realtime_features(changed, side2)
        past = order[: cut + 1]
        np.testing.assert_array_equal(X2[past], X[past])
        # the test can fail: retrospective features of the same past events do change
        retro = BatchRelationBuilder(load_world(_side(world), _with(world, table))).features(table)
        retro2 = BatchRelationBuilder(load_world(side2, _with(world, changed))).features(changed)
        assert not np.array_equal(retro[past], retro2[past])


def _with(w: transfers.TransferWorld, table: TransferTable) -> transfers.TransferWorld:
    return transfers.TransferWorld([], [], [], table, {})


def test_realtime_sees_the_event_itself_and_its_past(world: transfers.TransferWorld) -> None:
    table = world.transactions
    X, _ = realtime_features(table, _side(world))
    from paver.risk.features import FEATURE_NAMES

    pair = FEATURE_NAMES.index("transaction.pair_count")
    out_deg = FEATURE_NAMES.index("transaction.a_out_degree")
    order = np.argsort(table.ts, kind="stable").tolist()
    seen: dict[tuple[str, str], int] = {}
    payees: dict[str, set[str]] = {}
    for i in order:
        a, b = table.from_account[i], table.to_account[i]
        seen[(a, b)] = seen.get((a, b), 0) + 1
        payees.setdefault(a, set()).add(b)
        assert X[i, pair] == pytest.approx(np.log1p(seen[(a, b)]))
        assert X[i, out_deg] == pytest.approx(np.log1p(len(payees[a])))
