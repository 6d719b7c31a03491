"""The certifier of partner skins as SAM resources: a container-image Lambda on the
``skin-certify`` queue (``functions/skin_certifier.py``, image from ``infra/certifier/Dockerfile``).

Not a Chalice function — it needs the QR readers the zip layer cannot hold — so ``chalice
package`` does not produce it. :func:`resources` gives the function, its log group, its
least-privilege policy (declared like every other function's, through :mod:`infra.iam`) and the
``CertifierImageUri`` parameter, to merge into the stack beside the merge template's
``SkinCertifyQueue``: ``merge_template(...)`` output ``_deep_merge``'d with ``resources(cfg)``.
"""

from __future__ import annotations

from typing import Any

from infra.iam import GET, SQS_CONSUME, UPDATE, Access, function_name, policy
from infra.template import LOG_RETENTION_DAYS, VISIBILITY_TIMEOUT_S, cfn_name
from paver.config import Settings

CERTIFIER = "skin_certifier"
#: Reads the pending skin, records its verdict, adds a certified skin to the partner's list.
ACCESS = Access(tables={"PartnerSkins": GET + UPDATE, "Partners": UPDATE},
                queues={"skin-certify": SQS_CONSUME})
#: Seconds one certification may take (about 2-4 s measured per skin; cold start loads OpenCV).
TIMEOUT_S = 300
assert TIMEOUT_S <= VISIBILITY_TIMEOUT_S  # SQS event sources require it


def resources(cfg: Settings) -> dict[str, Any]:
    """``Parameters`` and ``Resources`` of the certifier for one stage."""
    name = function_name(cfg, CERTIFIER)
    logical = cfn_name(CERTIFIER)
    return {
        "Parameters": {"CertifierImageUri": {
            "Type": "String", "Description": "ECR image of infra/certifier/Dockerfile"}},
        "Resources": {
            logical: {"Type": "AWS::Serverless::Function", "Properties": {
                "FunctionName": name, "PackageType": "Image",
                "ImageUri": {"Ref": "CertifierImageUri"}, "Timeout": TIMEOUT_S,
                "MemorySize": 2048, "Environment": {"Variables": {"PAVER_STAGE": cfg.stage}},
                "Policies": [policy(cfg, CERTIFIER, ACCESS)],
                "Events": {"SkinCertifySqsEventSource": {"Type": "SQS", "Properties": {
                    "Queue": {"Fn::GetAtt": [f"{cfn_name('skin-certify')}Queue", "Arn"]},
                    "BatchSize": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"]}}}}},
            f"{logical}LogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
                "LogGroupName": f"/aws/lambda/{name}", "RetentionInDays": LOG_RETENTION_DAYS}},
        },
    }
