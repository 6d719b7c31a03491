"""Input files, the synthetic transfer world, the AMLSim converter and the evaluation split."""

from __future__ import annotations

import csv
import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paver.risk.evaluate import identification_metrics, split_rows
from paver.risk.events import (
    InputFileError,
    Label,
    TransferEvent,
    TransferTable,
    parse_timestamp,
    read_labels,
    read_transactions,
    scene_key,
)
from paver.risk.screening import Dataset
from paver.risk.store import InMemoryStore
from paver_dev.amlsim import convert, metadata_scene, structural_scene, subsample
from paver_dev.world import transfers

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "amlsim"
HEADER = "txn_id,timestamp,from_account,to_account,amount,currency,channel\n"


def test_timestamps() -> None:
    assert parse_timestamp("2024-03-01T00:00:00Z") == parse_timestamp("2024-03-01T08:00:00+08:00")
    assert parse_timestamp("2024-03-01T00:00:00") == parse_timestamp("2024-03-01T00:00:00Z")
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")


@pytest.mark.parametrize(("body", "message"), [
    ("t1,2024-03-01T00:00:00Z,A,B,abc,CNY,transfer\n", r":2: amount: not a number"),
    ("t1,2024-03-01T00:00:00Z,A,B,١٠٠,CNY,transfer\n", r":2: amount: not a number"),  # Arabic-Indic
    ("t1,2024-03-01T00:00:00Z,A,B,-1,CNY,transfer\n", r":2: amount: must be finite"),
    ("t1,2024-03-01T00:00:00Z,A,B,1,CNY,transfer\nt1,2024-03-01T00:00:00Z,A,B,1,CNY,qr\n",
     r":3: txn_id: duplicate"),
    ("t1,03/01/2024,A,B,1,CNY,transfer\n", r":2: timestamp: not ISO-8601"),
    ("t1,2024-03-01T00:00:00Z,,B,1,CNY,transfer\n", r":2: from_account: empty"),
    ("t1,2024-03-01T00:00:00Z,A,B,1,CNY\n", r":2: wrong number of fields"),
])
def test_bad_transactions_name_the_line(tmp_path: Path, body: str, message: str) -> None:
    p = tmp_path / "t.csv"
    p.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(InputFileError, match=message):
        read_transactions(p)


def test_missing_columns_and_labels(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("txn_id,timestamp\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r":1: missing column\(s\): from_account"):
        read_transactions(p)
    lab = tmp_path / "l.csv"
    # labels as users write them are kept as written (trimmed); control characters are not
    lab.write_text("txn_id,scene,group\nt1, Gather Scatter ,g1\nt2,分散转入,g2\n"
                   "t3,fan-out,g3\n", encoding="utf-8")
    assert [v.scene for v in read_labels(lab).values()] == ["Gather Scatter", "分散转入",
                                                            "fan-out"]
    lab.write_text("txn_id,scene,group\nt1,fan\x07in,g1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"l.csv:2: scene: .* control characters"):
        read_labels(lab)
    lab.write_text("txn_id,scene,group\nt1,fan_in,\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r":2: group: a risky row needs a group"):
        read_labels(lab)
    lab.write_text("txn_id,scene,group\nt9,,\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r":2: txn_id: 't9' is not in the transactions"):
        read_labels(lab, {"t1"})


def test_world_is_deterministic_and_has_every_scene(tmp_path: Path) -> None:
    a = transfers.generate(np.random.default_rng(3), 200, instances_per_scene=2)
    b = transfers.generate(np.random.default_rng(3), 200, instances_per_scene=2)
    ca, cb = a.write(tmp_path / "a"), b.write(tmp_path / "b")
    assert ca == cb
    for name in ca:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    table = read_transactions(tmp_path / "a" / "transactions.csv")
    labels = read_labels(tmp_path / "a" / "labels.csv", set(table.txn_id))
    scenes = {lab.scene for lab in labels.values() if lab.scene}
    assert scenes == set(transfers.SCENES)
    risky = sum(1 for lab in labels.values() if lab.scene)
    assert risky / len(table) < 0.1  # normal traffic dominates
    assert all(table.from_device) and (np.diff(table.ts) >= 0).all()
    with (tmp_path / "a" / "devices.csv").open() as fh:
        assert set(next(csv.reader(fh))) >= {"account_id", "device_id", "ip", "network_type",
                                             "first_seen"}
    scam = [t for t, lab in labels.items() if lab.scene == "fake_customer_service_scam"]
    assert scam  # the scam has its social link: the victim added the scammer as a contact
    contacts = {(r["account_id"], r["contact_id"]) for r in a.contacts}
    i = table.index_of(scam[0])
    pair = (table.from_account[i], table.to_account[i])
    assert pair in contacts or pair[::-1] in contacts


def test_amlsim_conversion(tmp_path: Path) -> None:
    samples = [(FIXTURES / s / "nodes.csv", FIXTURES / s / "transactions.csv")
               for s in ("fanin", "cycle")]
    report = convert(samples, tmp_path)
    assert report["samples"][0]["metadata_scene"] == "fan_in"
    assert report["samples"][1]["metadata_scene"] == "cycle"
    assert report["samples"][0]["normal_amount_floor"] > 100
    table = read_transactions(tmp_path / "transactions.csv")
    labels = read_labels(tmp_path / "labels.csv", set(table.txn_id))
    assert len(table) == 740 + 840
    risky = {t: lab for t, lab in labels.items() if lab.scene}
    assert len(risky) == report["risky_transactions"] == 116 + 124
    assert {lab.scene for lab in risky.values()} == {"fan_in", "cycle"}
    assert all(lab.group and lab.group[:3] in ("s1_", "s2_") for lab in risky.values())
    # every alert transaction sits between two fraud accounts, below the normal floor
    for t, _lab in list(risky.items())[:20]:
        assert table.amount[table.index_of(t)] < 100


def _edges(path: Path) -> set[tuple[int, int, float, int]]:
    """AMLSim transactions (plain or gzipped) as (source, target, value, step)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return {(int(r["sourceNodeId"]), int(r["targetNodeId"]), float(r["value"]),
                 int(r["time"])) for r in csv.DictReader(fh)}


def test_amlsim_subsample_keeps_instances_whole_with_their_accounts_activity(
        tmp_path: Path) -> None:
    src = FIXTURES / "fanin"
    rep = subsample(src / "nodes.csv", src / "transactions.csv", tmp_path / "a", instances=5,
                    normal_accounts=20, seed=3, gzip=True)
    assert rep["instances"] == 5 and rep["instances_available"] == 12
    out = tmp_path / "a"
    conv = convert([(out / "nodes.csv.gz", out / "transactions.csv.gz")], tmp_path / "c")
    assert conv["samples"][0]["groups"] == 5  # the chosen instances, no more, none split
    assert conv["samples"][0]["metadata_scene"] == "fan_in"  # metadata.txt came along
    full, kept = _edges(src / "transactions.csv"), _edges(out / "transactions.csv.gz")
    assert kept < full
    whole = convert([(src / "nodes.csv", src / "transactions.csv")], tmp_path / "w")
    assert conv["risky_transactions"] < whole["risky_transactions"]
    # a kept fraud account's every transfer is there, not only its alert transfers
    table = read_transactions(tmp_path / "c" / "transactions.csv")
    labels = read_labels(tmp_path / "c" / "labels.csv", set(table.txn_id))
    fraud = {int(table.from_account[table.index_of(t)]) for t, lab in labels.items() if lab.scene}
    assert fraud
    assert {e for e in full if e[0] in fraud or e[1] in fraud} <= kept
    # reproducible to the byte; another seed picks other instances
    subsample(src / "nodes.csv", src / "transactions.csv", tmp_path / "b", 5, 20, seed=3,
              gzip=True)
    for name in ("nodes.csv.gz", "transactions.csv.gz"):
        assert (out / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    subsample(src / "nodes.csv", src / "transactions.csv", tmp_path / "d", 5, 20, seed=4)
    assert _edges(tmp_path / "d" / "transactions.csv") != kept
    with pytest.raises(InputFileError, match="12 pattern instances, asked for 13"):
        subsample(src / "nodes.csv", src / "transactions.csv", tmp_path / "e", 13, 20)


def test_amlsim_scene_from_structure(tmp_path: Path) -> None:
    assert structural_scene([1, 2, 3], [2, 3, 1]) == "cycle"
    assert structural_scene([1, 2, 3, 4], [9, 9, 9, 9]) == "fan_in"
    assert structural_scene([9, 9, 9], [1, 2, 3]) == "fan_out"
    d = tmp_path / "s"
    shutil.copytree(FIXTURES / "cycle", d)
    (d / "metadata.txt").unlink()
    assert metadata_scene(d / "metadata.txt") is None
    report = convert([(d / "nodes.csv", d / "transactions.csv")], tmp_path / "o")
    assert set(report["samples"][0]["scenes"]) <= {"cycle", "fan_in", "fan_out", "aml_pattern"}
    (d / "nodes.csv").write_text("nodeid,isFraud\nx,1\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"nodes.csv:2: nodeid: not a number"):
        convert([(d / "nodes.csv", d / "transactions.csv")], tmp_path / "o2")


def _dataset(scenes: list[str | None], groups: list[str | None]) -> Dataset:
    events = [TransferEvent(f"t{i}", float(i), "a", "b", 1.0) for i in range(len(scenes))]
    labels = {f"t{i}": Label(s, g) for i, (s, g) in enumerate(zip(scenes, groups, strict=True))}
    return Dataset(TransferTable.from_events(events), InMemoryStore(), labels)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["x", "y", None]), st.integers(0, 6)), min_size=2,
                max_size=60),
       st.floats(0.1, 0.9), st.integers(0, 1000))
def test_split_never_puts_a_group_on_both_sides(rows: list[tuple[str | None, int]],
                                                frac: float, seed: int) -> None:
    scenes = [s for s, _ in rows]
    groups = [f"{s}{g}" if s else None for s, g in rows]
    ds = _dataset(scenes, groups)
    train, test = split_rows(ds, frac, seed)
    assert sorted([*train, *test]) == list(range(len(rows)))
    tr = {groups[i] for i in train if groups[i]}
    te = {groups[i] for i in test if groups[i]}
    assert not tr & te
    for s in ("x", "y"):  # a scene with two or more groups is on both sides
        gs = {g for g, sc in zip(groups, scenes, strict=True) if sc == s}
        if len(gs) >= 2:
            assert tr & gs and te & gs


def test_scene_keys_are_distinct_and_stable() -> None:
    labels = ["fan_in", "fan-in", "Fan In", "fan in", "分散转入", "分散转出", "Gather Scatter"]
    keys = [scene_key(x) for x in labels]
    assert keys[0] == "fan_in"  # a label that already is a key stays itself
    assert len(set(keys)) == len(labels)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{0,63}", k) for k in keys)
    assert keys == [scene_key(x) for x in labels]


def test_flagged_normals_count_against_the_scene() -> None:
    # 2 fan-out events found, and 2 normal events flagged as fan-out: precision 0.5, not 1.0
    m = identification_metrics(["fan-out", "fan-out", None, None, None],
                               ["fan-out", "fan-out", "fan-out", "fan-out", None])
    assert m["per_scene"]["fan-out"]["precision"] == 0.5
    assert m["per_scene"]["fan-out"]["recall"] == 1.0
    assert m["accuracy"] == 1.0


def test_identification_metrics() -> None:
    m = identification_metrics(["a", "a", "b", "b"], ["a", "normal", "b", "a"])
    assert m["accuracy"] == 0.5
    assert m["per_scene"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_scene"]["b"]["precision"] == 1.0 and m["per_scene"]["b"]["recall"] == 0.5
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2, abs=1e-4)
