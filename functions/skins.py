"""Partner skin routes: define a skin (validated, then certified by four readers), read its
verdict, list the partner's skins, set the partner's default.

An operator or the partner itself may call them; another partner gets 403 before anything is
looked up, so a reply never says whether someone else's skin exists.
"""

from __future__ import annotations

from chalice import Blueprint, Response

from functions._auth import require_merchant, require_partner
from functions._http import json_response, parse_body, path_id
from functions.codes import SkinChoice
from paver import partner_skins
from paver.partner_skins import SkinSpec

bp = Blueprint(__name__)
#: HTTP status per certification state: queued, offered, refused (with the failing cells).
_STATUS = {"pending": 202, "certified": 201, "refused": 422}


@bp.route("/partners/{partner_id}/skins", methods=["POST"])
def create_skin(partner_id: str) -> Response:
    pid = path_id(partner_id, "partner_id")
    require_partner(pid)
    body = parse_body(bp, SkinSpec)
    item, _created = partner_skins.submit(pid, body)
    view = partner_skins.skin_view(item)
    view["links"] = {"self": f"/partners/{pid}/skins/{item.name}"}
    return json_response(view, status=_STATUS[item.status])


@bp.route("/partners/{partner_id}/skins", methods=["GET"])
def list_skins(partner_id: str) -> dict:
    pid = path_id(partner_id, "partner_id")
    require_partner(pid)
    own = partner_skins.list_skins(pid)
    from paver.rollout.service import allowed_skins, default_skin
    from paver.storage.models import Partner

    partner = Partner.get(pid)
    return {"partner_id": pid, "default_skin": default_skin(partner),
            "offered": allowed_skins(partner),
            "own": [partner_skins.skin_view(i) for i in own]}


@bp.route("/partners/{partner_id}/skins/{name}", methods=["GET"])
def get_skin(partner_id: str, name: str) -> dict:
    pid = path_id(partner_id, "partner_id")
    require_partner(pid)
    return partner_skins.skin_view(partner_skins.get_skin(pid, path_id(name, "name")))


@bp.route("/partners/{partner_id}/default-skin", methods=["PUT"])
def set_default_skin(partner_id: str) -> dict:
    pid = path_id(partner_id, "partner_id")
    require_partner(pid)
    body = parse_body(bp, SkinChoice)
    return partner_skins.set_default(pid, body.skin)


@bp.route("/merchants/{merchant_id}/skins", methods=["GET"])
def merchant_skin_choices(merchant_id: str) -> dict:
    """What ``PUT /merchants/{id}/skin`` accepts: the partner's offered skins, default first."""
    from paver.rollout.service import allowed_skins, default_skin
    from paver.storage.models import Merchant, Partner

    mid = path_id(merchant_id, "merchant_id")
    require_merchant(mid)
    merchant = Merchant.get(mid)
    partner = Partner.get(merchant.partner_id)
    return {"merchant_id": mid, "skin": merchant.skin or default_skin(partner),
            "default_skin": default_skin(partner), "choices": allowed_skins(partner)}
