"""Sample Lambda events as JSON files (the way Powertools keeps them), and the one reader.

Tests load an event with :func:`load_event` and change only the fields they test, so every
handler and parser sees the shape AWS sends.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

_HERE = Path(__file__).parent


@cache
def _read(name: str) -> dict[str, Any]:
    return json.loads((_HERE / f"{name}.json").read_text(encoding="utf-8"))


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/events/<name>.json`` (callers may mutate it)."""
    return copy.deepcopy(_read(name))


def stream_records(cfg: Any, table: str = "Transactions") -> list[dict[str, Any]]:
    """Every record a table's (moto) stream holds, shaped as Lambda hands them to a handler:
    JSON values (epoch seconds, not botocore's datetimes) and the stream's ARN."""
    from paver.aws import client

    arn = client("dynamodb", cfg).describe_table(
        TableName=cfg.table_name(table))["Table"]["LatestStreamArn"]
    streams = client("dynamodbstreams", cfg)
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=it)["Records"]
    for r in records:
        r["dynamodb"]["ApproximateCreationDateTime"] = 1.7e9  # Lambda sends epoch seconds
        r["eventSourceARN"] = arn
    return records
