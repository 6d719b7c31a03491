"""DynamoDB stream records: the one reader of their shape, shared by every stream consumer.

Accrual and risk screening both read the ``Transactions`` stream (NEW_IMAGE); the alert view
reads a stored item serialised the same way. They all take an item's plain values from here,
so a change of the record format is met once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paver.errors import InvalidInput


class BadStreamRecord(InvalidInput):
    """A stream record whose image cannot be read (retrying would not help: never retried)."""


def sequence_number(record: Mapping[str, Any]) -> str:
    """The record's ``SequenceNumber`` (the ``itemIdentifier`` of a partial batch response)."""
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def plain_item(image: Mapping[str, Any]) -> dict[str, Any]:
    """An item in DynamoDB JSON (a stream image, ``Model.serialize()``) as plain values.

    Numbers stay ``Decimal`` (exact: amounts are money); sets become Python sets.

    Raises
    ------
    BadStreamRecord
        When ``image`` is not DynamoDB JSON.
    """
    from boto3.dynamodb.types import TypeDeserializer

    if not isinstance(image, Mapping):
        raise BadStreamRecord("dynamodb.NewImage: not an object")
    des = TypeDeserializer()
    try:
        return {str(k): des.deserialize(v) for k, v in image.items()}
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as exc:
        raise BadStreamRecord(f"dynamodb.NewImage: unreadable ({exc!r})") from exc


def inserted_item(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """The new item of an ``INSERT`` record as plain values; ``None`` for other events.

    Raises
    ------
    BadStreamRecord
        An ``INSERT`` without a readable ``NewImage``.
    """
    if record.get("eventName") != "INSERT":
        return None
    image = (record.get("dynamodb") or {}).get("NewImage")
    if image is None:
        raise BadStreamRecord("dynamodb.NewImage: missing")
    return plain_item(image)
