"""The AWS JSON 1.1 endpoint: parse, identify, validate, dispatch, serialize, and render errors AWS's way."""

import itertools
import json
import logging
import uuid

from flask import Blueprint, Response, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

from .. import errors, extension, handlers
from ..pull_through import fetch as pull_through
from ..registry.blob_store import DiskFaultError
from ..server import hosts
from ..specs import model
from ..specs.serialize import serialize
from ..specs.validate import validate
from ..state.persistence import StateWriteError, journaled
from . import authorization, identity
from .context import RequestContext

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.1"

blueprint = Blueprint("json_api", __name__)


_REQUEST_SERIAL = itertools.count(1)
_REQUEST_PREFIX = str(uuid.uuid4())[:24]


def new_request_id() -> str:
    """A unique, UUID-shaped request id: a per-process random prefix and a serial, so no system call per request."""
    return f"{_REQUEST_PREFIX}{next(_REQUEST_SERIAL):012x}"


def _reply(status: int, body: dict, request_id: str) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=status,
                    headers=[("Content-Type", CONTENT_TYPE), ("x-amzn-RequestId", request_id)])


def _operation(target: str | None) -> str:
    prefix = model.target_prefix() + "."
    if not target or not target.startswith(prefix) or target[len(prefix):] not in model.operations():
        raise errors.UnknownOperationException(f"Unknown operation: {target or '(no X-Amz-Target header)'}")
    return target[len(prefix):]


def _read_body(stream, length: int | None, max_bytes: int) -> bytes:
    """The body, read in one call when its length is declared, else in pieces up to ``max_bytes`` (never a buffer
    the size of the limit)."""
    if length is not None:
        return stream.read(length)
    pieces, size = [], 0
    while size <= max_bytes:
        piece = stream.read(65536)
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    if size > max_bytes:
        raise errors.RequestEntityTooLargeException(f"The request body exceeds the limit of {max_bytes} bytes")
    return b"".join(pieces)


def refuse_non_json_number(name: str):
    """``NaN`` and ``Infinity`` are Python's extensions to JSON, not JSON: refused like any other invalid body."""
    raise ValueError(f"{name} is not a JSON value")


def _params(environ: dict, max_bytes: int) -> dict:
    """The request's JSON object. The body is read from the WSGI environ rather than through werkzeug's request
    properties, which cost a third of this endpoint's own time: a declared length is read exactly, an undeclared one
    only from a server that ends the stream itself (``wsgi.input_terminated``, as chunked bodies need)."""
    declared = environ.get("CONTENT_LENGTH")
    length = int(declared) if declared and declared.isdigit() else None
    if length is not None and length > max_bytes:
        raise errors.RequestEntityTooLargeException(
            f"The request body of {length} bytes exceeds the limit of {max_bytes} bytes")
    if length is None and not environ.get("wsgi.input_terminated"):
        return {}
    stream = environ["wsgi.input"]
    if length is None and hasattr(stream, "limit_to"):
        # The project's server then refuses a chunk that would pass the limit before reading it.
        stream.limit_to(max_bytes)
    try:
        raw = _read_body(stream, length, max_bytes)
    except RequestEntityTooLarge:
        raise errors.RequestEntityTooLargeException(
            f"The request body exceeds the limit of {max_bytes} bytes") from None
    except BadRequest as exc:
        raise errors.SerializationException(f"The request body could not be read: {exc.description}") from None
    if not raw.strip():
        return {}
    try:
        params = json.loads(raw.decode("utf-8"), parse_constant=refuse_non_json_number)
    except UnicodeDecodeError:
        raise errors.SerializationException("The request body is not valid UTF-8") from None
    except RecursionError:
        raise errors.SerializationException("The request body is nested too deeply") from None
    except ValueError as exc:
        raise errors.SerializationException(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(params, dict):
        raise errors.SerializationException("The request body must be a JSON object")
    return params


def _handle(ctx: RequestContext, operation: str, params: dict) -> dict:
    """Validate ``params`` against the operation's input shape, authorize the caller and run the handler."""
    params = validate(operation, params)
    authorization.check_operation(ctx, operation, params)
    handler = handlers.handler_for(operation)
    if handler is None:
        raise errors.UnsupportedOperationException(f"The emulator does not implement {operation} yet")
    return handler(ctx, params)


def apply(ctx: RequestContext, operation: str, params: dict) -> dict:
    """Run the operation and render its output shape, without journaling it (replays use this)."""
    return serialize(operation, _handle(ctx, operation, params))


def dispatch(ctx: RequestContext, operation: str, params: dict) -> dict:
    """``apply``, made durable first with a state directory: a mutation and its journal record happen under the
    store lock, so the journal's order is the order in which the changes were made, and the record is durable
    before the reply is rendered and sent. A record that cannot be written undoes the change and answers
    ``ServerException``. A pull through a pull through cache rule fetches from the upstream first, outside the store
    lock."""
    pull_through.prepare(ctx, operation, params)
    store = ctx.store
    if store.persistence is None or not journaled(operation):
        return apply(ctx, operation, params)
    with store.lock:
        now = ctx.clock.now()
        with ctx.clock.frozen_at(now):
            result = _handle(ctx, operation, params)
        try:
            store.persistence.append({"op": operation, "account": ctx.account, "region": ctx.region, "now": now,
                                      "params": params})
        except StateWriteError as exc:
            raise errors.change_not_made(exc) from None
        store.notify("committed")
    return serialize(operation, result)


@blueprint.post("/")
def json_api():
    request_id = new_request_id()
    emulator = extension.current()
    config, store = emulator.config, emulator.store
    environ = request.environ
    try:
        operation = _operation(environ.get("HTTP_X_AMZ_TARGET"))
        params = _params(environ, config.max_body_bytes)
        # An unsigned request's region is the one its host names (api.ecr.<region>.<domain>), else the default.
        default_region = hosts.api_region(environ.get("HTTP_HOST"), config.domains) or config.default_region
        account, region = identity.caller(environ.get("HTTP_AUTHORIZATION"), config.account_id, default_region)
        ctx = RequestContext(store, config, account, region, request_id)
        return _reply(200, dispatch(ctx, operation, params), request_id)
    except errors.ServiceError as exc:
        refusal = exc
    except StateWriteError as exc:
        log.error("request %s failed: %s", request_id, exc)
        refusal = errors.change_not_made(exc)
    except DiskFaultError as exc:
        log.error("request %s failed: %s", request_id, exc)
        refusal = errors.ServerException(str(exc))
    except Exception:
        log.exception("internal error in request %s", request_id)
        refusal = errors.ServerException("An internal error occurred in the emulator")
    return _reply(refusal.status, refusal.body(), request_id)
