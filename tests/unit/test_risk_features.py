"""Relation features: known values on hand-built graphs; the batch and per-event paths agree."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paver.risk.events import TransferEvent, TransferTable
from paver.risk.features import FEATURE_NAMES, N_FEATURES, BatchRelationBuilder
from paver.risk.relations import RelationBuilder
from paver.risk.store import InMemoryStore
from paver_dev.world import transfers

T0 = 1_710_000_000.0
H = 3600.0


def _idx(name: str) -> int:
    return FEATURE_NAMES.index(name)


def _store(edges: list[tuple[str, str, float, float]], **kw: object) -> tuple[InMemoryStore,
                                                                                TransferTable]:
    st_ = InMemoryStore()
    events = [TransferEvent(f"t{i}", T0 + dt, a, b, amt, **kw)  # type: ignore[arg-type]
              for i, (a, b, amt, dt) in enumerate(edges)]
    for e in events:
        st_.record_transfer(e)
    return st_, TransferTable.from_events(events)


def _both(st_: InMemoryStore, table: TransferTable) -> tuple[np.ndarray, np.ndarray]:
    batch = BatchRelationBuilder(st_).features(table)
    rb = RelationBuilder(st_, budget_ms=None)
    single = np.array([rb.build(e).features for e in table.events()])
    return batch, single


def test_cycle_back_path_and_forwarding() -> None:
    st_, table = _store([("A", "B", 1000, 0), ("B", "C", 990, H), ("C", "A", 980, 2 * H)])
    batch, single = _both(st_, table)
    np.testing.assert_allclose(batch, single, atol=1e-9)
    assert batch[0, _idx("transaction.back_path")] == pytest.approx(0.5)  # B → C → A
    assert batch[0, _idx("transaction.b_forward_ratio")] == pytest.approx(0.99)
    assert batch[0, _idx("transaction.b_forward_delay")] == pytest.approx(math.log1p(1.0))
    assert batch[1, _idx("transaction.a_fund_delay")] == pytest.approx(math.log1p(1.0))
    assert batch[0, _idx("behaviour.new_payee")] == 1.0


def test_reciprocal_pair_and_repeats() -> None:
    st_, table = _store([("X", "Y", 50, 0), ("Y", "X", 50, H), ("X", "Y", 50, 2 * H)])
    batch, single = _both(st_, table)
    np.testing.assert_allclose(batch, single, atol=1e-9)
    assert batch[0, _idx("transaction.back_path")] == 1.0
    assert batch[0, _idx("transaction.pair_count")] == pytest.approx(math.log1p(2))
    assert batch[2, _idx("behaviour.new_payee")] == 0.0


def test_scatter_gather_diamond() -> None:
    st_, table = _store([("S", "M1", 500, 0), ("S", "M2", 500, 60), ("M1", "T", 490, H),
                         ("M2", "T", 490, H + 60)])
    batch, single = _both(st_, table)
    np.testing.assert_allclose(batch, single, atol=1e-9)
    assert batch[0, _idx("transaction.scatter_converge")] == pytest.approx(math.log1p(1))
    assert batch[2, _idx("transaction.gather_common_source")] == pytest.approx(math.log1p(1))
    assert batch[0, _idx("transaction.b_in_degree")] == pytest.approx(math.log1p(1))
    assert batch[0, _idx("transaction.a_out_degree")] == pytest.approx(math.log1p(2))


def test_device_address_and_social_features() -> None:
    st_ = InMemoryStore()
    for acc in ("M1", "M2", "M3"):  # a phone shared by three accounts, behind a proxy
        st_.record_device(acc, "PHONE", "6.6.6.6", T0 - 10 * 86400, "proxy")
    st_.record_device("V", "OLD", "1.1.1.1", T0 - 400 * 86400, "wifi")
    st_.record_device("V", "NEW", "2.2.2.2", T0 - 600, "vpn")  # first seen 10 minutes ago
    st_.add_contact("V", "K", T0 - 1800)  # added half an hour before paying
    st_.add_contact("V", "F", T0 - 900 * 86400)
    st_.add_contact("K", "F", T0 - 900 * 86400)
    st_.put_account("V", {"created_at": "2020-01-01T00:00:00Z", "kyc_level": 3})
    events = [
        TransferEvent("t0", T0, "V", "K", 5000, from_device="NEW", from_ip="2.2.2.2"),
        TransferEvent("t1", T0 + 60, "V", "M1", 100, from_device="OLD", to_device="PHONE",
                      to_ip="6.6.6.6"),
        TransferEvent("t2", T0 + 120, "M1", "M2", 90, from_device="PHONE", from_ip="6.6.6.6"),
    ]
    for e in events:
        st_.record_transfer(e)
    table = TransferTable.from_events(events)
    batch, single = _both(st_, table)
    np.testing.assert_allclose(batch, single, atol=1e-9)
    v_k, v_m, m_m = batch
    assert v_k[_idx("device.a_device_new")] == 1.0
    assert v_k[_idx("device.a_ip_new")] == 1.0
    assert v_k[_idx("device.a_net_risky")] == 1.0
    assert v_k[_idx("device.a_device_count")] == pytest.approx(math.log1p(2))
    assert v_k[_idx("social.contact_link")] == 1.0
    assert v_k[_idx("social.contact_recent")] == 1.0
    assert v_k[_idx("social.common_contacts")] == pytest.approx(math.log1p(1))
    assert v_m[_idx("device.b_device_accounts")] == pytest.approx(math.log1p(2))
    assert v_m[_idx("device.b_net_risky")] == 1.0
    assert v_m[_idx("device.a_device_new")] == 0.0
    assert m_m[_idx("device.shared_device_ab")] == 1.0
    assert m_m[_idx("device.a_ip_accounts")] == pytest.approx(math.log1p(2))
    assert v_k[_idx("behaviour.a_kyc")] == pytest.approx(1.0)
    assert v_k[_idx("behaviour.b_account_age")] == pytest.approx(math.log1p(1000))


@pytest.fixture(scope="module")
def small_world() -> tuple[InMemoryStore, TransferTable]:
    w = transfers.generate(np.random.default_rng(11), 150, instances_per_scene=2)
    from paver.risk.store import load_world

    return load_world(InMemoryStore(), w), w.transactions


def test_batch_equals_per_event_on_a_world(small_world: tuple[InMemoryStore,
                                                                TransferTable]) -> None:
    st_, table = small_world
    batch = BatchRelationBuilder(st_, chunk=512).features(table)
    rb = RelationBuilder(st_, budget_ms=None)
    rows = np.random.default_rng(0).choice(len(table), 400, replace=False)
    single = np.array([rb.build(table.event(int(i)), with_elements=False).features for i in rows])
    assert batch.shape == (len(table), N_FEATURES)
    np.testing.assert_allclose(batch[rows], single, rtol=1e-6, atol=1e-5)


def test_budget_marks_partial_and_keeps_hop_one(small_world: tuple[InMemoryStore,
                                                                    TransferTable]) -> None:
    st_, table = small_world
    e = table.event(len(table) // 2)
    full = RelationBuilder(st_, budget_ms=None).build(e)
    cut = RelationBuilder(st_, budget_ms=0.0).build(e)
    assert not full.partial and full.hops_done == 3
    assert cut.partial and cut.hops_done == 1
    hop1 = [i for i, n in enumerate(FEATURE_NAMES)
            if n not in ("transaction.back_path", "transaction.scatter_converge",
                         "transaction.gather_common_source", "transaction.closes_loop",
                         "transaction.co_payers")]
    np.testing.assert_allclose(cut.features[hop1], full.features[hop1])
    groups = full.groups
    assert set(groups) == {"transaction", "device", "behaviour", "social"}
    first = groups["transaction"].elements[0]
    assert (first.source, first.target) == (e.from_account, e.to_account)
    assert first.attrs["role"] == "event"


_names = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(_names, _names, st.floats(1, 1e4), st.integers(0, 400)),
                min_size=1, max_size=25))
def test_batch_equals_per_event_on_random_graphs(
        edges: list[tuple[str, str, float, int]]) -> None:
    st_, table = _store([(a, b, x, dt * 1800.0) for a, b, x, dt in edges])
    batch, single = _both(st_, table)
    np.testing.assert_allclose(batch, single, rtol=1e-6, atol=1e-6)


def test_hub_accounts_and_long_back_paths_agree_with_batch() -> None:
    # a merchant hub paid by 300 customers, a back path of length 5 (hub ⇝ customer), a
    # length-4 one through the hub's settlement account, and a sender with no way back
    edges: list[tuple[str, str, float, float]] = []
    for k in range(300):
        edges.append((f"C{k}", "HUB", 10.0 + k % 7, k * 60.0))
    edges += [("HUB", "SETTLE", 2000.0, 400 * 60.0), ("SETTLE", "P1", 1500.0, 401 * 60.0),
              ("P1", "P2", 1400.0, 402 * 60.0), ("P2", "P3", 1300.0, 403 * 60.0),
              ("P3", "C0", 1200.0, 404 * 60.0), ("SETTLE", "Q1", 50.0, 405 * 60.0),
              ("Q1", "Q2", 40.0, 406 * 60.0), ("Q2", "C1", 30.0, 407 * 60.0),
              ("LONE", "HUB", 5.0, 408 * 60.0)]
    st_, table = _store(edges)
    batch, single = _both(st_, table)
    np.testing.assert_allclose(batch, single, atol=1e-9)
    bp = _idx("transaction.back_path")
    assert batch[0, bp] == pytest.approx(1 / 5)  # C0 → HUB ⇝ C0 in five steps
    assert batch[1, bp] == pytest.approx(1 / 4)  # C1 → HUB → SETTLE → Q1 → Q2 → C1
    assert batch[len(edges) - 1, bp] == 0.0
    assert batch[0, _idx("transaction.b_in_degree")] == pytest.approx(math.log1p(301))


def test_store_aggregates_follow_the_transfer_log() -> None:
    st_, _ = _store([("A", "B", 0.1, 10.0), ("A", "C", 0.2, 5.0), ("A", "B", 0.7, 1.0)])
    assert st_.out_amount_total("A") == (0.0 + 0.1) + 0.2 + 0.7  # recording order
    assert st_.out_amount_total("B") == 0.0
    assert st_.first_transfer_ts("A", "B") == T0 + 1.0
    assert st_.first_transfer_ts("B", "A") is None


def test_layering_depth_and_bipartite_overlap() -> None:
    # s → m1 → m2 → m3 with 1-3 % cut per hop within hours (a layered path), plus a K2,2:
    # p1, p2 both pay q1 and q2
    h = 3600.0
    st_, table = _store([("s", "m1", 10000.0, 0.0), ("m1", "m2", 9800.0, 2 * h),
                         ("m2", "m3", 9650.0, 5 * h), ("m3", "z", 2000.0, 6 * h),
                         ("p1", "q1", 50.0, 0.0), ("p1", "q2", 50.0, h),
                         ("p2", "q1", 50.0, 2 * h), ("p2", "q2", 50.0, 3 * h)])
    batch, single = _both(st_, table)
    np.testing.assert_allclose(batch, single, rtol=1e-6, atol=1e-6)
    col = {n.split(".")[1]: i for i, n in enumerate(FEATURE_NAMES)}
    assert batch[2, col["layer_depth_in"]] == 2  # m2 → m3 traces back m1 → m2, s → m1
    assert batch[2, col["layer_ratio_in"]] == pytest.approx(9650 / 9800)
    assert batch[0, col["layer_depth_out"]] == 2  # s → m1 is passed on twice
    assert batch[3, col["layer_depth_in"]] == 0  # 2000 is not 90-100 % of what m3 got
    assert batch[7, col["co_payers"]] == pytest.approx(np.log1p(1))  # p1 also pays q1
    assert batch[0, col["co_payers"]] == 0


def test_addresses_as_places() -> None:
    from paver.risk.places import haversine_km, region_distance_km

    assert haversine_km((31.2304, 121.4737), (39.9042, 116.4074)) == pytest.approx(1067, abs=5)
    assert region_distance_km("east", "unknown-place") == 0.0
    st_ = InMemoryStore()
    for acc, home in (("a", "north"), ("b", "north"), ("c", "north")):
        st_.put_account(acc, {"region": home})
    st_.record_device("a", "DA", None, T0 - 86400, region="north")
    st_.record_device("a", "DX", None, T0 - 600, region="south")  # a new phone far away
    st_.record_device("b", "DB", None, T0 - 86400, region="north")
    st_.record_device("c", "DC", None, T0 - 86400, region="east")
    events = [TransferEvent("t0", T0, "a", "b", 10.0, from_device="DA", to_device="DB"),
              TransferEvent("t1", T0 + 60, "a", "c", 10.0, from_device="DX", to_device="DC")]
    for e in events:
        st_.record_transfer(e)
    table = TransferTable.from_events(events)
    batch, single = _both(st_, table)
    np.testing.assert_allclose(batch, single, rtol=1e-6, atol=1e-6)
    mism, dist, away = (_idx("device.region_mismatch"), _idx("device.region_distance_km"),
                        _idx("device.a_region_unusual"))
    assert batch[0, [mism, dist, away]].tolist() == [0.0, 0.0, 0.0]
    assert batch[1, mism] == 1.0 and batch[1, away] == 1.0  # south phone, north home, east payee
    km = np.expm1(batch[1, dist])
    assert km == pytest.approx(region_distance_km("south", "east"))
    assert 1000 < km < 1400
