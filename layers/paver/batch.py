"""Partial batch responses: the one policy for every SQS and DynamoDB-stream batch.

Lambda hands a function a batch and, with ``ReportBatchItemFailures``, takes back the items to
redeliver (``{"batchItemFailures": [{"itemIdentifier": id}]}``). Every consumer in Paver (the
rollout queue, the skin certifier's queue, accrual and risk screening on the Transactions
stream) runs its items through these two loops, so the policy is written once:

- An item that can never succeed (a *permanent* error: :class:`paver.errors.InvalidInput`, of
  which :class:`paver.storage.streams.BadStreamRecord` is one, or what the caller names) is
  logged, handed to ``on_permanent`` (e.g. the dead-letter queue) and never retried.
- Anything else is transient and reported for retry. In an SQS batch each failed message is
  reported alone, the others are done. A stream is ordered: Lambda resumes it from the lowest
  reported sequence number, so the loop stops at the first failure and reports that record
  and every record after it (processing them would only be replayed).
- If ``on_permanent`` itself fails (the dead-letter queue is down), the item is retried.

Powertools' ``BatchProcessor`` does the same for SQS; for streams it keeps going after a
failure, and it would be one more dependency in the layer for two loops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from paver.errors import InvalidInput
from paver.storage.streams import sequence_number

log = logging.getLogger(__name__)

#: One entry of ``batchItemFailures``.
Failure = dict[str, str]
Record = Mapping[str, Any]
#: Errors that no redelivery can fix, unless the caller names others.
PERMANENT: tuple[type[BaseException], ...] = (InvalidInput,)


def _run(record: Record, handle: Callable[[Record], Any], what: str, item: str,
         permanent: tuple[type[BaseException], ...],
         on_permanent: Callable[[Record, Exception], Any] | None) -> bool:
    """Handle one item; False when it must be retried."""
    try:
        try:
            handle(record)
        except permanent as exc:
            log.error("%s: %s cannot succeed, not retried: %s", what, item, exc)
            if on_permanent is not None:
                on_permanent(record, exc)  # type: ignore[arg-type]  # permanent ⊂ Exception
    except Exception:
        log.exception("%s: %s failed; reported for retry", what, item)
        return False
    return True


def sqs_batch(records: Iterable[Record], handle: Callable[[Record], Any], *, what: str,
              permanent: tuple[type[BaseException], ...] = PERMANENT,
              on_permanent: Callable[[Record, Exception], Any] | None = None,
              ) -> dict[str, list[Failure]]:
    """Handle each SQS message; report the ones that failed transiently.

    Parameters
    ----------
    records
        The event's ``Records``.
    handle
        Does one message's work; raises on failure.
    what
        The consumer's name in log lines.
    permanent
        Error classes that are never retried.
    on_permanent
        Called with the message and the error for a permanent failure.

    Returns
    -------
    dict
        ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}``.
    """
    failures: list[Failure] = []
    for rec in records:
        msg_id = str(rec.get("messageId", ""))
        if not _run(rec, handle, what, f"message {msg_id}", permanent, on_permanent):
            failures.append({"itemIdentifier": msg_id})
    return {"batchItemFailures": failures}


def stream_batch(records: Sequence[Record], handle: Callable[[Record], Any], *, what: str,
                 permanent: tuple[type[BaseException], ...] = PERMANENT,
                 on_permanent: Callable[[Record, Exception], Any] | None = None,
                 ) -> list[Failure]:
    """Handle stream records in order; stop at the first transient failure.

    Parameters are those of :func:`sqs_batch`.

    Returns
    -------
    list
        ``batchItemFailures``: empty, or the failed record and every record after it.
    """
    for i, rec in enumerate(records):
        seq = sequence_number(rec)
        if not _run(rec, handle, what, f"record {seq}", permanent, on_permanent):
            return failures_from(records, i)
    return []


def failures_from(records: Sequence[Record], index: int) -> list[Failure]:
    """Stream records ``index`` onwards as ``batchItemFailures`` (a failure after the loop,
    e.g. a batch write of the results, replays from the first record it covers)."""
    return [{"itemIdentifier": sequence_number(r)} for r in records[index:]]
