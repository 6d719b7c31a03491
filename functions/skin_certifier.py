"""The certifier of partner skins: an SQS-triggered Lambda packaged as a container image.

Not a Chalice function: it needs the four QR readers (OpenCV contrib, zbar), which do not fit
the zip functions' dependency layer (250 MB). ``infra/certifier/Dockerfile`` builds the image
(the layer's requirements plus the readers); its handler is :func:`handler`. It consumes the
``skin-certify`` queue that ``POST /partners/{id}/skins`` feeds on deployed stages, and reports
partial batch failures. Locally and in tests the same core runs in-process
(:func:`paver.partner_skins.certification_mode`).
"""

from __future__ import annotations

from typing import Any

from paver import partner_skins
from paver.logs import configure
from paver.storage.registry import bind_all

configure()


def handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Certify the skin of each SQS record; failed records return to the queue."""
    del context
    bind_all()  # its own entry point: not behind app.py's binding middleware
    return partner_skins.process_records(event.get("Records", []))
