"""Admin endpoints: health, reset (ours and moto's path), the model clock, running lifecycle policies now, and
whole-emulator export and import.

These routes change or reveal everything the emulator holds, so two guards run before any of them: with
``--admin-token`` every route but health requires ``Authorization: Bearer <token>``, and a body is refused (413)
past a small cap, or past ``--max-import-bytes`` for an import, which is counted as it streams. Health stays open so
container health checks (the Dockerfile's, an orchestrator's probe) need no secret; it reveals only a version.
"""

import datetime
import hashlib
import hmac
import json

from flask import Blueprint, Response, g, request

from .. import __version__, extension
from ..api.protocol import refuse_non_json_number
from ..models import lifecycle
from ..registry.blob_store import fault_reason, is_disk_fault
from ..state import archive
from ..state.persistence import StateWriteError

blueprint = Blueprint("admin", __name__)

# Every admin body but an import's is a small JSON object (or nothing).
MAX_ADMIN_BODY_BYTES = 64 * 1024
_OPEN = {"admin.health"}
_STREAMED = {"admin.import_archive"}


def _json(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json", headers=headers)


def _store():
    return extension.current().store


def _too_large(limit: int, what: str) -> Response:
    return _json({"error": f"{what} exceeds the limit of {limit} bytes"}, 413)


@blueprint.before_request
def _guard():
    """Refuse a request without the admin token, or with a body past its route's cap, before it does anything."""
    config = extension.current().config
    if config.admin_token and request.endpoint not in _OPEN:
        refusal = token_refusal(config.admin_token)
        if refusal is not None:
            return refusal
    if request.endpoint in _STREAMED:
        if (request.content_length or 0) > config.max_import_bytes:
            return _too_large(config.max_import_bytes, "the archive (see --max-import-bytes)")
        return None
    if (request.content_length or 0) > MAX_ADMIN_BODY_BYTES:
        return _too_large(MAX_ADMIN_BODY_BYTES, "the request body")
    g.admin_body = _read_capped(request.stream, MAX_ADMIN_BODY_BYTES)
    if g.admin_body is None:
        return _too_large(MAX_ADMIN_BODY_BYTES, "the request body")
    return None


def token_refusal(token: str) -> Response | None:
    """401 without a bearer token, 403 with the wrong one; compared as fixed-length digests in constant time, so
    neither the token's bytes nor its length show in the timing."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        return _json({"error": "the admin API requires Authorization: Bearer <the server's --admin-token>"}, 401,
                     headers={"WWW-Authenticate": 'Bearer realm="ecr-emulator admin"'})
    if not hmac.compare_digest(hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest(),
                               hashlib.sha256(token.encode()).digest()):
        return _json({"error": "the bearer token is not the server's --admin-token"}, 403)
    return None


def _read_capped(stream, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes ``limit`` (a chunked body declares no length up front)."""
    pieces: list[bytes] = []
    size = 0
    while size <= limit:
        piece = stream.read(limit + 1 - size)
        if not piece:
            return b"".join(pieces)
        pieces.append(piece)
        size += len(piece)
    return None


class _ArchiveTooLarge(Exception):
    """The import body passed ``--max-import-bytes``."""


class _CountedStream:
    """The request body as ``archive.import_stream`` reads it, failing the read that passes ``limit``: an oversized
    chunked archive stops the import (which then changes nothing) instead of filling the disk."""

    def __init__(self, stream, limit: int):
        self._stream = stream
        self._left = limit
        self.exceeded = False

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > self._left:
            size = self._left + 1
        data = self._stream.read(size)
        self._left -= len(data)
        if self._left < 0:
            self.exceeded = True
            raise _ArchiveTooLarge()
        return data


@blueprint.get("/_emulator/health")
def health():
    return _json({"status": "ok", "version": __version__})


@blueprint.post("/_emulator/reset")
@blueprint.post("/moto-api/reset")
def reset():
    try:
        _store().reset()
    except StateWriteError as exc:
        return _json({"error": f"nothing was reset: {exc}"}, 500)
    return _json({"status": "ok"})


def _clock_view():
    return _json({"now": _store().clock.now_datetime().isoformat()})


@blueprint.get("/_emulator/clock")
def get_clock():
    return _clock_view()


_CLOCK_USAGE = "send one of {\"advance\": SECONDS}, {\"set\": ISO-8601}, {\"real\": true}"


@blueprint.post("/_emulator/clock")
def move_clock():
    try:
        body = json.loads(g.admin_body, parse_constant=refuse_non_json_number)
    except ValueError:
        body = None
    clock = _store().clock
    if not isinstance(body, dict) or len(body) != 1:
        return _json({"error": _CLOCK_USAGE}, 400)
    if "advance" in body and isinstance(body["advance"], (int, float)) and not isinstance(body["advance"], bool):
        clock.advance(float(body["advance"]))
    elif "set" in body and isinstance(body["set"], str):
        try:
            clock.set(datetime.datetime.fromisoformat(body["set"].replace("Z", "+00:00")))
        except ValueError:
            return _json({"error": f"not an ISO-8601 time: {body['set']}"}, 400)
    elif body.get("real") is True:
        clock.reset_to_real()
    else:
        return _json({"error": _CLOCK_USAGE}, 400)
    return _clock_view()


@blueprint.post("/_emulator/lifecycle/run")
def run_lifecycle():
    """Apply every repository's lifecycle policy at once, instead of waiting for AWS's daily evaluation."""
    try:
        return _json(lifecycle.run_all(_store()))
    except StateWriteError as exc:
        return _json({"error": f"the run was undone: {exc}"}, 500)


@blueprint.get("/_emulator/export")
def export_archive():
    """A tar archive of every registry and blob; ``POST /_emulator/import`` (or ``ecr-emulator import``) restores it."""
    return Response(archive.export_stream(_store()), content_type="application/x-tar",
                    headers={"Content-Disposition": 'attachment; filename="ecr-emulator.tar"'})


@blueprint.post("/_emulator/import")
def import_archive():
    """Replace all state with an archive from ``/_emulator/export``; a bad or oversized archive is refused and
    changes nothing."""
    limit = extension.current().config.max_import_bytes
    body = _CountedStream(request.stream, limit)
    try:
        return _json(archive.import_stream(_store(), body))
    except Exception as exc:
        # Checked first: however the archive reader reports a failed read, an oversized archive is a 413.
        if body.exceeded:
            return _too_large(limit, "the archive (see --max-import-bytes)")
        if isinstance(exc, archive.ArchiveError):
            return _json({"error": str(exc)}, 400)
        if isinstance(exc, StateWriteError):
            return _json({"error": f"nothing was imported: {exc}"}, 500)
        if is_disk_fault(exc):
            return _json({"error": f"{fault_reason(exc)} while importing the archive"}, 500)
        raise
