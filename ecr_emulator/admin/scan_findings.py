"""Admin endpoints that declare what image scans find: ``/_emulator/scan-findings``.

``POST`` adds a declaration (see ``models.scan_findings.parse`` for its members), ``GET`` lists them, ``DELETE``
removes all of them or the one named by ``?id=``. Bodies are read up to ``MAX_BODY_BYTES``; a bad body is answered
400 with ``{"error": ..., "field": ...}`` naming the offending member, and changes nothing.
"""

import json

from flask import Blueprint, Response, request

from .. import extension
from ..api.protocol import refuse_non_json_number
from ..models import scan_findings, scans
from ..state.persistence import StateWriteError
from .routes import token_refusal

blueprint = Blueprint("scan_admin", __name__)

MAX_BODY_BYTES = 1024 * 1024
PATH = "/_emulator/scan-findings"


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _refused(field: str, message: str, status: int = 400) -> Response:
    return _json({"error": f"{field}: {message}", "field": field}, status)


@blueprint.before_request
def _guard():
    """The admin token, when the server has one, guards these routes as it guards the rest of the admin API."""
    token = extension.current().config.admin_token
    return token_refusal(token) if token else None


@blueprint.post(PATH)
def declare():
    data = request.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        return _refused("body", f"larger than {MAX_BODY_BYTES} bytes", 413)
    try:
        body = json.loads(data, parse_constant=refuse_non_json_number)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return _refused("body", "not a JSON document")
    config = extension.current().config
    try:
        stored = scans.declare(extension.current().store, body, config.account_id, config.default_region)
    except scan_findings.DeclarationError as exc:
        return _refused(exc.field, exc.message)
    except StateWriteError as exc:
        return _json({"error": f"nothing was declared: {exc}"}, 500)
    return _json({"declaration": stored})


@blueprint.get(PATH)
def list_declarations():
    return _json({"declarations": scan_findings.listing(extension.current().store)})


@blueprint.delete(PATH)
def clear():
    declaration_id = request.args.get("id")
    try:
        removed = scans.clear_declarations(extension.current().store, declaration_id)
    except StateWriteError as exc:
        return _json({"error": f"nothing was cleared: {exc}"}, 500)
    if declaration_id is not None and not removed:
        return _refused("id", f"no declaration '{declaration_id}'", 404)
    return _json({"removed": removed})
