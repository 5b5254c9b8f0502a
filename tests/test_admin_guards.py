"""The admin API's guards: body caps on every route (a separate, streamed cap for imports) and the optional admin
token, with the CLI and the pytest helpers sending it."""

import http.client
import json
import os
import socket
import subprocess
import sys
import urllib.parse

import pytest

from ecr_emulator import cli as cli_module
from ecr_emulator.admin.routes import MAX_ADMIN_BODY_BYTES
from ecr_emulator.testing import running_server

TOKEN = "s3cret-Token_1"
ROUTES = [("GET", "/_emulator/clock"), ("POST", "/_emulator/clock"), ("POST", "/_emulator/reset"),
          ("POST", "/moto-api/reset"), ("POST", "/_emulator/lifecycle/run"), ("GET", "/_emulator/export"),
          ("POST", "/_emulator/import")]
# Admin routes with body caps of their own, guarded by the token all the same.
SCAN_ROUTES = [("POST", "/_emulator/scan-findings"), ("GET", "/_emulator/scan-findings"),
               ("DELETE", "/_emulator/scan-findings")]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ecr_emulator", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def request(endpoint: str, method: str, path: str, body=None, headers: dict | None = None, chunked: bool = False):
    """(status, headers, parsed JSON or raw bytes) of one request; ``chunked`` sends ``body`` (an iterable of
    bytes) with chunked transfer encoding."""
    parsed = urllib.parse.urlparse(endpoint)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        reply = conn.getresponse()
        data = reply.read()
    finally:
        conn.close()
    if reply.headers.get("Content-Type") == "application/json":
        data = json.loads(data)
    return reply.status, reply.headers, data


def pieces(total: int, piece: bytes = b" " * 65536):
    for _ in range(total // len(piece)):
        yield piece


@pytest.fixture(scope="module")
def server():
    with running_server() as running:
        yield running


@pytest.fixture(scope="module")
def guarded():
    with running_server("--admin-token", TOKEN) as running:
        yield running


def _repositories(server) -> list[str]:
    return [r["repositoryName"] for r in server.client().describe_repositories()["repositories"]]


@pytest.mark.parametrize("method, path", [r for r in ROUTES if r[1] != "/_emulator/import"]
                         + [("GET", "/_emulator/health")])
def test_a_chunked_body_past_the_cap_is_refused_and_changes_nothing(server, method, path):
    server.reset()
    server.client().create_repository(repositoryName="kept")
    clock = server.admin("/_emulator/clock")["now"]
    status, _, body = request(server.endpoint, method, path, body=pieces(1024 * 1024), chunked=True,
                              headers={"Content-Type": "application/json"})
    assert status == 413
    assert body == {"error": f"the request body exceeds the limit of {MAX_ADMIN_BODY_BYTES} bytes"}
    assert _repositories(server) == ["kept"]
    assert server.admin("/_emulator/clock")["now"] >= clock


def test_a_declared_length_past_the_cap_is_refused_before_the_body_is_sent(server):
    """With ``Expect: 100-continue`` the client waits for the server's go-ahead, which a refusal never gives."""
    parsed = urllib.parse.urlparse(server.endpoint)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(b"POST /_emulator/clock HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n")
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"exceeds the limit of 65536 bytes" in reply


def test_a_body_within_the_cap_still_works_chunked_or_not(server):
    status, _, body = request(server.endpoint, "POST", "/_emulator/clock", body=[b'{"set": "2031-02-03T04:05:06Z"}'],
                              chunked=True)
    assert status == 200 and body["now"].startswith("2031-02-03T04:05:06")
    padded = b'{"real": true}' + b" " * (MAX_ADMIN_BODY_BYTES - 14)
    status, _, body = request(server.endpoint, "POST", "/_emulator/clock", body=padded)
    assert status == 200 and body["now"] < "2031"
    status, _, body = request(server.endpoint, "POST", "/_emulator/clock", body=padded + b" ")
    assert status == 413


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_a_huge_chunked_admin_body_does_not_grow_the_server():
    """200 MiB sent chunked to the clock: the server keeps at most the cap of it, whatever the client manages to
    send before the server answers and closes."""
    with running_server() as running:
        before = _rss_kib(running.process.pid)
        parsed = urllib.parse.urlparse(running.endpoint)
        with socket.create_connection((parsed.hostname, parsed.port), timeout=30) as sock:
            sock.sendall(b"POST /_emulator/clock HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (1024 * 1024, b" " * 1024 * 1024)
            try:
                for _ in range(200):
                    sock.sendall(chunk)
                sock.sendall(b"0\r\n\r\n")
            except OSError:
                pass  # the server answered and closed the connection before the end of the body
        growth = _rss_kib(running.process.pid) - before
        assert growth < 32 * 1024, f"the server grew by {growth} KiB"
        assert running.admin("/_emulator/health")["status"] == "ok"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> bytes:
    """An export of a server holding one repository and a 256 KiB blob."""
    with running_server() as source:
        source.client().create_repository(repositoryName="imported")
        from registry_client import RegistryClient
        RegistryClient(source.endpoint, source.client()).push_blob("imported", os.urandom(256 * 1024))
        status, _, data = request(source.endpoint, "GET", "/_emulator/export")
        assert status == 200
    return data


@pytest.mark.parametrize("chunked", [False, True])
def test_an_import_past_its_cap_is_refused_and_changes_nothing(tmp_path, archive, chunked):
    state = tmp_path / "state"
    limit = len(archive) - 1
    with running_server("--state-dir", str(state), "--max-import-bytes", str(limit)) as target:
        target.client().create_repository(repositoryName="kept")
        body = [archive[i:i + 65536] for i in range(0, len(archive), 65536)] if chunked else archive
        status, _, reply = request(target.endpoint, "POST", "/_emulator/import", body=body, chunked=chunked)
        assert status == 413
        assert reply == {"error": f"the archive (see --max-import-bytes) exceeds the limit of {limit} bytes"}
        assert _repositories(target) == ["kept"]
        assert [p.name for p in state.iterdir() if p.name.startswith("import-")] == []


@pytest.mark.parametrize("chunked", [False, True])
def test_an_import_exactly_at_its_cap_is_accepted(archive, chunked):
    with running_server("--max-import-bytes", str(len(archive))) as target:
        body = [archive[i:i + 65536] for i in range(0, len(archive), 65536)] if chunked else archive
        status, _, reply = request(target.endpoint, "POST", "/_emulator/import", body=body, chunked=chunked)
        assert status == 200, reply
        assert _repositories(target) == ["imported"]


@pytest.mark.parametrize("method, path", ROUTES + SCAN_ROUTES)
def test_with_a_token_every_admin_route_requires_it(guarded, method, path):
    guarded.client().create_repository(repositoryName="guarded")
    status, headers, body = request(guarded.endpoint, method, path, body=b"" if method == "POST" else None)
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="ecr-emulator admin"'
    assert "Authorization: Bearer" in body["error"]
    for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer \xe9t\xe9", f"Basic {TOKEN}"):
        status, _, body = request(guarded.endpoint, method, path, body=b"" if method == "POST" else None,
                                  headers={"Authorization": wrong.encode("latin-1")})
        assert status == (401 if wrong.startswith("Basic") else 403), wrong
    assert "guarded" in _repositories(guarded)
    guarded.reset()


def test_with_a_token_the_right_one_is_accepted_and_health_stays_open(guarded):
    status, _, body = request(guarded.endpoint, "GET", "/_emulator/health")
    assert status == 200 and body["status"] == "ok"
    guarded.client().create_repository(repositoryName="gone")
    status, _, body = request(guarded.endpoint, "POST", "/moto-api/reset",
                              headers={"Authorization": f"bearer  {TOKEN} "})
    assert status == 200 and _repositories(guarded) == []
    assert guarded.admin("/_emulator/clock", {"advance": 60})["now"]


def test_the_token_can_come_from_the_environment_and_the_helpers_send_it():
    with running_server(env={"ECR_EMULATOR_ADMIN_TOKEN": TOKEN}) as running:
        assert request(running.endpoint, "GET", "/_emulator/clock")[0] == 401
        assert running.admin_token == TOKEN
        running.client().create_repository(repositoryName="app")
        running.reset()
        assert _repositories(running) == []


def test_export_and_import_commands_send_the_token(tmp_path, guarded):
    guarded.reset()
    guarded.client().create_repository(repositoryName="moved")
    path = str(tmp_path / "emulator.tar")
    refused = cli("export", path, "--endpoint", guarded.endpoint, env={"ECR_EMULATOR_ADMIN_TOKEN": ""})
    assert refused.returncode != 0
    refused = cli("export", path, "--endpoint", guarded.endpoint, "--admin-token", "wrong")
    assert refused.returncode == 1 and "export failed: 403" in refused.stderr
    result = cli("export", path, "--endpoint", guarded.endpoint, "--admin-token", TOKEN)
    assert result.returncode == 0, result.stderr
    guarded.reset()
    result = cli("import", path, "--endpoint", guarded.endpoint, env={"ECR_EMULATOR_ADMIN_TOKEN": TOKEN})
    assert result.returncode == 0, result.stderr
    assert _repositories(guarded) == ["moved"]
    guarded.reset()


@pytest.mark.parametrize("argv, env, message", [
    (["--admin-token", "two words"], {}, "--admin-token (ECR_EMULATOR_ADMIN_TOKEN) must be printable ASCII"),
    ([], {"ECR_EMULATOR_ADMIN_TOKEN": "t\xe9"}, "--admin-token (ECR_EMULATOR_ADMIN_TOKEN) must be printable ASCII"),
    (["--admin-token", ""], {}, "--admin-token (ECR_EMULATOR_ADMIN_TOKEN) must be printable ASCII"),
    (["--max-import-bytes", "0"], {}, "--max-import-bytes must be positive"),
    ([], {"ECR_EMULATOR_MAX_IMPORT_BYTES": "lots"}, "ECR_EMULATOR_MAX_IMPORT_BYTES must be a whole number, not 'lots'"),
])
def test_bad_admin_settings_get_a_one_line_error(monkeypatch, capsys, argv, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exc_info:
        cli_module.parse_args(argv)
    assert exc_info.value.code == 2
    assert message in capsys.readouterr().err


def test_admin_settings_default_to_an_open_api_and_a_16_gib_import_cap(monkeypatch):
    monkeypatch.delenv("ECR_EMULATOR_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("ECR_EMULATOR_MAX_IMPORT_BYTES", raising=False)
    config = cli_module.parse_args([])
    assert config.admin_token is None and config.max_import_bytes == 16 * 1024 ** 3
