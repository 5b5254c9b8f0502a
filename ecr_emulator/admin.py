"""Admin endpoints: health, reset (ours and moto's path), the model clock, running lifecycle policies now, and
whole-emulator export and import."""

import datetime
import json

from flask import Blueprint, Response, current_app, request

from . import __version__, archive
from .models import lifecycle
from .persistence import StateWriteError

blueprint = Blueprint("admin", __name__)


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _store():
    return current_app.config["ECR_STORE"]


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


@blueprint.post("/_emulator/clock")
def move_clock():
    body = request.get_json(silent=True)
    clock = _store().clock
    if not isinstance(body, dict) or len(body) != 1:
        return _json({"error": "send one of {\"advance\": SECONDS}, {\"set\": ISO-8601}, {\"real\": true}"}, 400)
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
        return _json({"error": "send one of {\"advance\": SECONDS}, {\"set\": ISO-8601}, {\"real\": true}"}, 400)
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
    """Replace all state with an archive from ``/_emulator/export``; a bad archive is refused and changes nothing."""
    try:
        return _json(archive.import_stream(_store(), request.stream))
    except archive.ArchiveError as exc:
        return _json({"error": str(exc)}, 400)
    except StateWriteError as exc:
        return _json({"error": f"nothing was imported: {exc}"}, 500)
    except OSError as exc:
        return _json({"error": f"nothing was imported: cannot stage the archive: {exc.strerror or exc}"}, 500)
