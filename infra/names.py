"""The names the deployment shares: CloudFormation logical ids and deployed function names.

Both the IAM policies (``infra.iam``) and the merge template (``infra.template``) name the same
resources; they take the names from here so neither imports the other's internals and the
arrow runs one way (``template`` → ``iam`` → ``names``).
"""

from __future__ import annotations

import re

from paver.config import Settings

#: The customer-managed key of everything Paver stores (CloudFormation logical id).
DATA_KEY = "DataKey"
#: The HS256 signing secret of bearer tokens (a Secrets Manager secret; logical id).
TOKEN_SECRET = "TokenSecret"
#: Where stream records go once their retries are exhausted (never silently dropped).
STREAM_FAILURES = "StreamFailureQueue"


def cfn_name(*parts: str) -> str:
    """A CloudFormation logical id (or IAM ``Sid``) from names: each alphanumeric run
    capitalised and joined (``rollout_worker`` → ``RolloutWorker``; Chalice's rule)."""
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]", "-".join(parts))
                   if p)


def function_logical_id(fn: str) -> str:
    """Chalice's logical id of a function (the API handler is spelt ``APIHandler``)."""
    return "APIHandler" if fn == "api_handler" else cfn_name(fn)


def function_dlq(fn: str) -> str:
    """Logical id of the dead-letter queue of an asynchronously invoked function."""
    return f"{function_logical_id(fn)}DeadLetterQueue"


def function_name(cfg: Settings, fn: str) -> str:
    """The deployed Lambda name (set in the merge template; log groups follow from it)."""
    return f"{cfg.prefix}-{fn}"
