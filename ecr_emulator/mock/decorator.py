"""``mock_ecr``: every botocore ECR client in the process answered by the emulator's own application, in-process.

The hook is a botocore ``before-send`` handler added to botocore's built-in handlers when this module is imported, so
every session made afterwards (and every client of it, created before or after a mock starts) carries it; while no
mock is active it answers nothing. It is registered on the event ``before-send.ecr``, which botocore calls before
handlers of the bare ``before-send`` (more specific events first), so it runs ahead of moto's hook whatever the import
or activation order. An answered request is then claimed: its URL is set to an address no AWS mock matches, so moto's
hook, which botocore still calls, leaves it alone; a last ``before-send`` handler of ours puts the URL back.

There is one emulator per process (so one state per pytest-xdist worker), made on first use and kept: the outermost
activation starts from an empty state (or the seed), nested activations share it, and the last one to end clears it.
"""

import contextlib
import datetime
import functools
import inspect
import os
import sys
import threading
import unittest
from typing import TYPE_CHECKING
from unittest import mock as _patching

from botocore.handlers import BUILTIN_HANDLERS, REGISTER_LAST

from .. import extension
from . import transport

if TYPE_CHECKING:
    from ..server.http_server import Server

_CLAIMED = "ecr_emulator.answered_url"
_CLAIMED_URL = "http://in-process.ecr-emulator.invalid/"
_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class _Emulator:
    """The application, its store and (while a mock asks for it) the registry server of this process."""

    def __init__(self):
        from ..app import create_app
        from ..config import Config
        from ..specs import model

        self.config = Config()
        self.default_account = self.config.account_id
        self.app = create_app(self.config)
        self.store = extension.of(self.app).store
        self.target_prefix = model.target_prefix() + "."
        self.server: Server | None = None
        self._server_thread: threading.Thread | None = None

    def start_registry(self) -> None:
        from ..server.http_server import Server

        self.server = server = Server(self.app, "127.0.0.1", 0)
        self._server_thread = thread = threading.Thread(target=server.run, daemon=True, name="ecr-emulator-registry")
        thread.start()
        self.config.advertise_url = f"http://127.0.0.1:{server.effective_port}"

    def stop_registry(self) -> None:
        if self.server is None or self._server_thread is None:
            return
        self.server.close()
        self._server_thread.join(10)
        self.server = self._server_thread = None
        self.config.advertise_url = None


_lock = threading.RLock()
_emulator: _Emulator | None = None
_depth = 0
_outer_undo: contextlib.ExitStack | None = None


def _current() -> _Emulator | None:
    return _emulator if _depth else None


def _answer(request, **_):
    """Answer an ECR JSON API request while a mock is active; None (not ours) otherwise."""
    emulator = _current()
    if emulator is None or _CLAIMED in (request.context or ()):
        return None
    target = request.headers.get("X-Amz-Target")
    if isinstance(target, bytes):
        target = target.decode("latin-1")
    if not target or not target.startswith(emulator.target_prefix):
        return None
    response = transport.call(emulator.app, request)
    if isinstance(request.context, dict):
        request.context[_CLAIMED] = request.url
        request.url = _CLAIMED_URL
    return response


def _release(request, **_):
    """Give an answered request its URL back once every other ``before-send`` handler has seen it."""
    context = getattr(request, "context", None)
    if context and _CLAIMED in context:
        request.url = context.pop(_CLAIMED)


# A second import of this module (a reload) replaces the hooks of the first rather than adding to them.
BUILTIN_HANDLERS[:] = [spec for spec in BUILTIN_HANDLERS if getattr(spec[1], "__module__", None) != __name__]
BUILTIN_HANDLERS.append(("before-send.ecr", _answer))
BUILTIN_HANDLERS.append(("before-send", _release, REGISTER_LAST))


def _hook_default_session() -> None:
    """A boto3 default session made before this module was imported lacks the built-in hooks; give it them, so its
    later clients are answered too."""
    boto3 = sys.modules.get("boto3")
    session = getattr(boto3, "DEFAULT_SESSION", None)
    if session is not None:
        session.events.register("before-send.ecr", _answer, unique_id=_CLAIMED + ".answer")
        session.events.register_last("before-send", _release, unique_id=_CLAIMED + ".release")


_hook_default_session()
# The boto3 default session made while a mock supplied fake credentials: it caches them, so it is the default only
# while a mock is active, and is brought back by the next activation (its clients' set-up is paid once a process).
_kept_session = None


@contextlib.contextmanager
def _default_session_with_fake_credentials():
    global _kept_session
    try:
        import boto3
    except ImportError:
        boto3 = None
    if boto3 is None or boto3.DEFAULT_SESSION is not None:
        # No boto3, or a default session the suite set up itself: that one stays.
        yield
        return
    boto3.DEFAULT_SESSION = _kept_session
    try:
        yield
    finally:
        _kept_session, boto3.DEFAULT_SESSION = boto3.DEFAULT_SESSION, None


def _outer_patches() -> contextlib.ExitStack:
    """What the outermost activation changes and its end restores: fake credentials when none are set (so clients
    sign without looking further, as moto does), with a default session of their own."""
    stack = contextlib.ExitStack()
    if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
        stack.enter_context(_patching.patch.dict(os.environ, _FAKE_CREDENTIALS))
        stack.enter_context(_default_session_with_fake_credentials())
    return stack


class mock_ecr:  # noqa: N801 - named like moto's decorators, which it replaces
    """Answer every botocore/boto3 ECR client in this process with the emulator, in-process.

    Use as ``@mock_ecr`` / ``@mock_ecr(...)`` on a function or class, or ``with mock_ecr() as ecr:``.

    ``seed``: a seed file's path or a dict in the same schema, loaded into the fresh state of the outermost
    activation (see ``ecr_emulator.seeds.loader``). ``registry=True``: also serve the registry API (``/v2/``) on a free
    127.0.0.1 port for as long as this activation lasts; ``GetAuthorizationToken``'s ``proxyEndpoint`` points there.
    ``account_id``: the default account (otherwise ``123456789012``).
    """

    def __new__(cls, func=None, **kwargs):
        if func is not None and callable(func) and not kwargs:
            return cls()(func)
        return super().__new__(cls)

    def __init__(self, func=None, *, seed=None, registry: bool = False, account_id: str | None = None):
        if account_id is not None and not (isinstance(account_id, str) and account_id.isdigit()
                                           and len(account_id) == 12):
            raise ValueError(f"mock_ecr(account_id=...) takes 12 digits, not {account_id!r}")
        self.seed = seed
        self.registry = registry
        self.account_id = account_id
        self._started_server: list[bool] = []

    # Activation.

    def start(self) -> "mock_ecr":
        global _emulator, _depth, _outer_undo
        with _lock:
            if _emulator is None:
                _emulator = _Emulator()
            emulator = _emulator
            if _depth and self.seed is not None:
                raise RuntimeError("mock_ecr(seed=...) loads its seed into a fresh state, so it must be the "
                                   "outermost active mock_ecr")
            started = self.registry and emulator.server is None
            undo = _outer_patches() if not _depth else None
            try:
                if not _depth:
                    emulator.config.account_id = self.account_id or emulator.default_account
                    self._fresh_state(emulator)
                if started:
                    emulator.start_registry()
            except BaseException:
                if undo is not None:
                    undo.close()
                    emulator.store.reset()
                    emulator.config.account_id = emulator.default_account
                raise
            if undo is not None:
                _outer_undo = undo
            self._started_server.append(started)
            _depth += 1
        return self

    def stop(self) -> None:
        global _depth, _outer_undo
        with _lock:
            emulator = _emulator
            if emulator is None or not self._started_server:
                raise RuntimeError("mock_ecr.stop() called without a matching start()")
            if self._started_server.pop():
                emulator.stop_registry()
            _depth -= 1
            if not _depth:
                emulator.store.reset()
                emulator.config.account_id = emulator.default_account
                if _outer_undo is not None:
                    _outer_undo.close()
                _outer_undo = None

    def _fresh_state(self, emulator: _Emulator) -> None:
        if self.seed is None:
            emulator.store.reset()
            return
        from ..seeds import loader as seed

        seed.load(emulator.store, emulator.config, self.seed, reuse=True)

    def __enter__(self) -> "mock_ecr":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # Decoration.

    def __call__(self, target):
        if inspect.isclass(target):
            return self._decorate_class(target)
        if inspect.iscoroutinefunction(target):
            @functools.wraps(target)
            async def run_async(*args, **kwargs):
                with self:
                    return await target(*args, **kwargs)
            return run_async

        @functools.wraps(target)
        def run(*args, **kwargs):
            with self:
                return target(*args, **kwargs)
        return run

    def _decorate_class(self, cls):
        """Each test of the class gets a fresh state that its set-up also sees: a ``unittest.TestCase`` is mocked from
        ``setUp`` to its cleanups; other classes (pytest's) from ``setup_method`` to ``teardown_method``. Test methods
        are decorated too, so calling one directly is mocked as well (sharing the state when already active)."""
        for name, value in list(vars(cls).items()):
            if name.startswith("test") and inspect.isfunction(value):
                setattr(cls, name, self(value))
        if issubclass(cls, unittest.TestCase):
            original_setup = cls.setUp

            @functools.wraps(original_setup)
            def set_up(test, *args, **kwargs):
                self.start()
                test.addCleanup(self.stop)
                return original_setup(test, *args, **kwargs)
            cls.setUp = set_up
            return cls
        original_setup = getattr(cls, "setup_method", None)
        original_teardown = getattr(cls, "teardown_method", None)

        def setup_method(test, method=None):
            self.start()
            if original_setup is not None:
                try:
                    _call_xunit(original_setup, test, method)
                except BaseException:
                    self.stop()
                    raise

        def teardown_method(test, method=None):
            try:
                if original_teardown is not None:
                    _call_xunit(original_teardown, test, method)
            finally:
                self.stop()
        cls.setup_method = setup_method
        cls.teardown_method = teardown_method
        return cls

    # Control: what the admin endpoints do, without HTTP.

    @property
    def _active(self) -> _Emulator:
        emulator = _current()
        if emulator is None:
            raise RuntimeError("mock_ecr is not active")
        return emulator

    @property
    def store(self):
        """The emulator's state (``ecr_emulator.models.store.Store``), for tests that inspect it directly."""
        return self._active.store

    @property
    def endpoint(self) -> str | None:
        """``http://127.0.0.1:PORT`` of the in-process registry (and JSON API) when one is served, else None."""
        server = self._active.server
        return f"http://127.0.0.1:{server.effective_port}" if server is not None else None

    def client(self, region: str = "us-east-1", account: str | None = None, **kwargs):
        """A boto3 ECR client of ``account`` (default: the mock's default account) in ``region``."""
        import boto3

        return boto3.client("ecr", region_name=region, aws_access_key_id=account or "testing",
                            aws_secret_access_key="testing", **kwargs)

    def reset(self) -> None:
        """Back to the state the outermost activation started with: empty, or its seed."""
        emulator = self._active
        if self.seed is not None:
            self._fresh_state(emulator)
        else:
            emulator.store.reset()

    def load_seed(self, seed) -> dict:
        """Replace the whole state with ``seed`` (a path or dict); a bad seed raises ``ecr_emulator.mock.SeedError``
        and changes nothing."""
        from ..seeds import loader as seeds

        emulator = self._active
        return seeds.load(emulator.store, emulator.config, seed)

    def now(self) -> datetime.datetime:
        return self._active.store.clock.now_datetime()

    def advance_clock(self, seconds: float) -> datetime.datetime:
        """Move the model clock (push and pull times, token expiry, lifecycle ages) forward by ``seconds``."""
        clock = self._active.store.clock
        clock.advance(float(seconds))
        return clock.now_datetime()

    def set_clock(self, when: datetime.datetime | str | None) -> datetime.datetime:
        """Set the model clock to ``when`` (a datetime or ISO-8601 string; naive means UTC); None: real time again."""
        clock = self._active.store.clock
        if when is None:
            clock.reset_to_real()
        else:
            if isinstance(when, str):
                when = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
            clock.set(when)
        return clock.now_datetime()

    def run_lifecycle(self) -> dict:
        """Apply every repository's lifecycle policy now; returns what was expired and transitioned."""
        from ..models import lifecycle

        return lifecycle.run_all(self._active.store)

    def export_state(self, target) -> None:
        """Write the whole state (registries and blobs) as the archive ``ecr-emulator export`` writes, to a path or
        a binary file."""
        from ..state import archive

        with _binary(target, "wb") as out:
            for piece in archive.export_stream(self._active.store):
                out.write(piece)

    def import_state(self, source) -> dict:
        """Replace the whole state with an archive from ``export_state`` (or ``ecr-emulator export``), from a path or
        a binary file; a bad archive raises ``ecr_emulator.mock.ArchiveError`` and changes nothing."""
        from ..state import archive

        with _binary(source, "rb") as stream:
            return archive.import_stream(self._active.store, stream)


def _call_xunit(func, test, method):
    """Call a ``setup_method``/``teardown_method`` as pytest would: with the test method only if it takes one."""
    if len(inspect.signature(func).parameters) > 1:
        return func(test, method)
    return func(test)


@contextlib.contextmanager
def _binary(target, mode: str):
    if hasattr(target, "write" if "w" in mode else "read"):
        yield target
        return
    with open(target, mode) as f:
        yield f
