"""Does a payment count toward milestones? Only through the merchant's active aggregated code.

A payment counts (claim 5) when it came through the merchant's aggregated code — the caller
names the code (``code_id``) or passes the scan reference the platform received from the wallet
(``scan_ref``, :func:`paver.rollout.service.scan_ref_for`) — and the code was ``active`` when
the payment was made. Any other payment is stored but accrues nothing, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist

from paver.errors import InvalidInput
from paver.rollout.service import active_since, code_id_for, scan_ref_for
from paver.storage.models import Code

THROUGH_ACTIVE_CODE = "through_active_code"
NOT_THROUGH_CODE = "not_through_code"
NO_CODE_ISSUED = "no_code_issued"
CODE_NOT_ACTIVE = "code_not_active"


class AttributionError(InvalidInput):
    """The payment names a code or scan that is not the merchant's (the message names the
    field)."""


@dataclass(frozen=True)
class Attribution:
    """Whether a payment accrues, and why (``code`` is machine-readable, ``reason`` is prose)."""

    accrues: bool
    code: str
    reason: str
    code_id: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


def _merchant_code(merchant_id: str) -> Code | None:
    try:
        return Code.get(code_id_for(merchant_id), consistent_read=True)
    except DoesNotExist:
        return None


def attribute(merchant_id: str, code_id: str | None, scan_ref: str | None,
              paid_at: datetime) -> Attribution:
    """Decide whether a payment of ``merchant_id`` made at ``paid_at`` accrues.

    Raises
    ------
    AttributionError
        ``code_id`` is not the merchant's code id, or ``scan_ref`` is not a scan of the
        merchant's code.
    """
    own_id = code_id_for(merchant_id)
    if code_id is not None and code_id != own_id:
        raise AttributionError("code_id: not the aggregated code of this merchant")
    if code_id is None and scan_ref is None:
        return Attribution(False, NOT_THROUGH_CODE,
                           "the payment did not come through the merchant's aggregated code "
                           "(neither code_id nor scan_ref was given)")
    code = _merchant_code(merchant_id)
    if scan_ref is not None and (code is None or scan_ref != scan_ref_for(code.payload)):
        raise AttributionError("scan_ref: not a scan of this merchant's aggregated code")
    if code is None:
        return Attribution(False, NO_CODE_ISSUED,
                           "the merchant has no aggregated code issued", own_id)
    since = active_since(code)
    if since is None:
        return Attribution(False, CODE_NOT_ACTIVE,
                           f"the aggregated code is {code.status!r}, not 'active': it counts "
                           "once the merchant's store photo binds it", code.code_id)
    if paid_at < since:
        return Attribution(False, CODE_NOT_ACTIVE,
                           f"the payment was made before the aggregated code became active "
                           f"({since.isoformat()})", code.code_id)
    return Attribution(True, THROUGH_ACTIVE_CODE,
                       "paid through the merchant's active aggregated code", code.code_id)
