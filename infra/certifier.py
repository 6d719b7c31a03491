"""The certifier of partner skins: a container-image Lambda on the ``skin-certify`` queue
(``functions/skin_certifier.py``, image from ``infra/certifier/Dockerfile``).

Not a Chalice function — it needs the QR readers the zip layer cannot hold — so ``chalice
package`` does not produce it: the merge template (:mod:`infra.template`) adds it, with its log
group, its least-privilege policy (declared here like every other function's, through
:mod:`infra.iam`), the SQS event source on the stage's ``skin-certify`` queue and the
``CertifierImageUri`` parameter.
"""

from __future__ import annotations

from infra.iam import GET, SQS_CONSUME, UPDATE, Access

CERTIFIER = "skin_certifier"
#: Reads the pending skin, records its verdict, adds a certified skin to the partner's list.
ACCESS = Access(tables={"PartnerSkins": GET + UPDATE, "Partners": UPDATE},
                queues={"skin-certify": SQS_CONSUME})
#: Seconds one certification may take (about 2-4 s measured per skin; cold start loads OpenCV).
TIMEOUT_S = 300
#: OpenCV, zbar and zxing-cpp decoding a 300 dpi print.
MEMORY_MB = 2048
#: The stack parameter naming the pushed image (ECR URI of ``infra/certifier/Dockerfile``).
IMAGE_PARAMETER = "CertifierImageUri"
