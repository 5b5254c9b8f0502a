"""``ecr-emulator`` / ``python -m ecr_emulator``: flags, each mirrored by an ``ECR_EMULATOR_*`` variable."""

import argparse
import logging
import os
import signal
import sys

from . import extension
from .config import Config
from .pull_through import settings as upstream
from .server import hosts


class _Parser(argparse.ArgumentParser):
    """Refuses bad input with one line naming it (no usage block above it); ``--help`` still shows the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _env(name: str, default=None):
    return os.environ.get(f"ECR_EMULATOR_{name}", default)


def _env_number(parser: argparse.ArgumentParser, name: str, kind: type, default=None):
    """A numeric flag's default from ``ECR_EMULATOR_<name>``; a value that is not a number is a one-line error
    naming the variable (argparse would name only the flag)."""
    raw = _env(name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        parser.error(f"ECR_EMULATOR_{name} must be {'a whole number' if kind is int else 'a number'}, not {raw!r}")


def _flag(value) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def _admin_token_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--admin-token", default=_env("ADMIN_TOKEN"), metavar="TOKEN",
                        help="the bearer token of the admin API (/_emulator/*, /moto-api/reset) "
                             "(ECR_EMULATOR_ADMIN_TOKEN)")


def _check_admin_token(parser: argparse.ArgumentParser, token: str | None) -> None:
    """A token travels in an HTTP header, so it is printable ASCII without spaces."""
    if token is not None and not (token and all("!" <= c <= "~" for c in token)):
        parser.error("--admin-token (ECR_EMULATOR_ADMIN_TOKEN) must be printable ASCII characters without spaces")


def parse_args(argv: list[str] | None = None) -> Config:
    parser = _Parser(prog="ecr-emulator", description="An AWS-compatible Amazon ECR emulator.")
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address to bind (ECR_EMULATOR_HOST)")
    parser.add_argument("--port", type=int, default=_env_number(parser, "PORT", int, 5000),
                        help="port (ECR_EMULATOR_PORT)")
    parser.add_argument("--advertise-url", default=_env("ADVERTISE_URL"),
                        help="URL clients should use to reach this server, default http://HOST:PORT "
                             "(ECR_EMULATOR_ADVERTISE_URL)")
    parser.add_argument("--account-id", default=_env("ACCOUNT_ID", "123456789012"),
                        help="default account (ECR_EMULATOR_ACCOUNT_ID)")
    parser.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"),
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning", "error"],
                        help="log level (ECR_EMULATOR_LOG_LEVEL)")
    parser.add_argument("--strict-layers", action="store_true", default=_flag(_env("STRICT_LAYERS", "0")),
                        help="PutImage requires the manifest's layers and config to exist "
                             "(ECR_EMULATOR_STRICT_LAYERS=1)")
    parser.add_argument("--state-dir", default=_env("STATE_DIR"),
                        help="keep all state (metadata and blobs) in this directory across restarts; default: in "
                             "memory and temporary files (ECR_EMULATOR_STATE_DIR)")
    parser.add_argument("--max-connections", type=int, default=_env_number(parser, "MAX_CONNECTIONS", int, 1000),
                        help="client connections served at once, each by its own thread; when all are taken, an idle "
                             "one is closed to make room, or the new client is answered 503 "
                             "(ECR_EMULATOR_MAX_CONNECTIONS)")
    parser.add_argument("--max-body-bytes", type=int,
                        default=_env_number(parser, "MAX_BODY_BYTES", int, 32 * 1024 * 1024),
                        help="largest JSON API request body; bigger bodies are dropped as they arrive and answered "
                             "413 (ECR_EMULATOR_MAX_BODY_BYTES)")
    parser.add_argument("--lifecycle-interval", type=float, default=_env_number(parser, "LIFECYCLE_INTERVAL", float),
                        metavar="SECONDS",
                        help="apply every repository's lifecycle policy every SECONDS of real time; default: only "
                             "on POST /_emulator/lifecycle/run (ECR_EMULATOR_LIFECYCLE_INTERVAL)")
    _admin_token_option(parser)
    parser.add_argument("--max-import-bytes", type=int,
                        default=_env_number(parser, "MAX_IMPORT_BYTES", int, 16 * 1024 ** 3),
                        help="largest archive POST /_emulator/import accepts, counted as it streams; default 16 GiB "
                             "(ECR_EMULATOR_MAX_IMPORT_BYTES)")
    parser.add_argument("--scan-seconds", type=float, default=_env_number(parser, "SCAN_SECONDS", float, 0.0),
                        metavar="SECONDS",
                        help="model time a basic scan takes before it is COMPLETE; default 0: done at once "
                             "(ECR_EMULATOR_SCAN_SECONDS)")
    parser.add_argument("--upstream-credentials", default=_env("UPSTREAM_CREDENTIALS"), metavar="FILE",
                        help="pull through cache credentials: a JSON object from Secrets Manager secret ARN to "
                             "{\"username\": ..., \"accessToken\": ...} (ECR_EMULATOR_UPSTREAM_CREDENTIALS)")
    parser.add_argument("--upstream-endpoint", action="append", metavar="HOST=URL",
                        default=[e for e in _env("UPSTREAM_ENDPOINTS", "").split(",") if e],
                        help="contact URL instead of https://HOST for a pull through cache rule's upstream, such as "
                             "registry-1.docker.io=http://127.0.0.1:5001; repeatable "
                             "(ECR_EMULATOR_UPSTREAM_ENDPOINTS, comma-separated)")
    parser.add_argument("--seed", default=_env("SEED"), metavar="FILE",
                        help="load this seed file (JSON, or TOML) at start; with --state-dir only into an empty "
                             "state (ECR_EMULATOR_SEED)")
    parser.add_argument("--header-timeout", type=float,
                        default=_env_number(parser, "HEADER_TIMEOUT", float, Config.header_timeout), metavar="SECONDS",
                        help="a request head must arrive within SECONDS of its first byte (of the connection, for "
                             "its first request), or the connection is closed (ECR_EMULATOR_HEADER_TIMEOUT)")
    parser.add_argument("--min-body-rate", type=int,
                        default=_env_number(parser, "MIN_BODY_RATE", int, Config.min_body_rate),
                        metavar="BYTES_PER_SECOND",
                        help=f"after {Config.body_grace:g} s, a request body must arrive at this rate or its "
                             "connection is closed; 0 turns the check off (ECR_EMULATOR_MIN_BODY_RATE)")
    _host_and_tls_flags(parser)
    args = parser.parse_args(argv)
    _check_admin_token(parser, args.admin_token)
    if args.max_import_bytes < 1:
        parser.error("--max-import-bytes must be positive")
    try:
        upstream_credentials = (upstream.load_credentials(args.upstream_credentials)
                                if args.upstream_credentials else {})
        upstream_endpoints = dict(upstream.parse_endpoint(e) for e in args.upstream_endpoint)
    except upstream.SettingsError as exc:
        parser.error(str(exc))
    if not 0 < args.header_timeout < float("inf"):
        parser.error("--header-timeout (ECR_EMULATOR_HEADER_TIMEOUT) must be a positive number of seconds, "
                     f"not {args.header_timeout!r}")
    if args.min_body_rate < 0:
        parser.error("--min-body-rate (ECR_EMULATOR_MIN_BODY_RATE) must be a number of bytes a second, 0 or "
                     f"more, not {args.min_body_rate!r}")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be from 0 to 65535")
    if not (args.account_id.isdigit() and len(args.account_id) == 12):
        parser.error("--account-id must be 12 digits")
    if args.max_connections < 1:
        parser.error("--max-connections must be positive")
    if args.max_body_bytes < 1:
        parser.error("--max-body-bytes must be positive")
    if args.lifecycle_interval is not None and not args.lifecycle_interval > 0:
        parser.error("--lifecycle-interval must be a positive number of seconds")
    if not 0 <= args.scan_seconds < float("inf"):
        parser.error("--scan-seconds must be a number of seconds, 0 or more")
    config = Config(host=args.host, port=args.port, advertise_url=args.advertise_url, account_id=args.account_id,
                    log_level=args.log_level.upper(), strict_layers=args.strict_layers,
                    max_connections=args.max_connections,
                    state_dir=args.state_dir, lifecycle_interval=args.lifecycle_interval,
                    max_body_bytes=args.max_body_bytes, admin_token=args.admin_token,
                    max_import_bytes=args.max_import_bytes, scan_seconds=args.scan_seconds,
                    upstream_credentials=upstream_credentials, upstream_endpoints=upstream_endpoints,
                    seed=args.seed, header_timeout=args.header_timeout, min_body_rate=args.min_body_rate)
    _host_and_tls_config(parser, args, config)
    return config


def _host_and_tls_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--domains", default=_env("DOMAINS", ",".join(hosts.DEFAULT_DOMAINS)),
                        help="comma-separated domains under which <account>.dkr.ecr.<region>.DOMAIN names a registry "
                             "and api.ecr.<region>.DOMAIN a region of the JSON API (ECR_EMULATOR_DOMAINS)")
    parser.add_argument("--registry-domain", default=_env("REGISTRY_DOMAIN"),
                        help="repositoryUri and proxyEndpoint name <account>.dkr.ecr.<region>.DOMAIN with the "
                             "advertised port (none when 443), so the API's URIs reach this server; default: "
                             "AWS's repositoryUri (ECR_EMULATOR_REGISTRY_DOMAIN)")
    parser.add_argument("--tls", action="store_true", default=_flag(_env("TLS", "0")),
                        help="also serve HTTPS on the same port, with certificates made by a local certificate "
                             "authority (see `ecr-emulator ca`) (ECR_EMULATOR_TLS=1)")
    parser.add_argument("--tls-cert", default=_env("TLS_CERT"),
                        help="serve HTTPS with this PEM certificate (chain) instead (ECR_EMULATOR_TLS_CERT)")
    parser.add_argument("--tls-key", default=_env("TLS_KEY"),
                        help="the PEM private key of --tls-cert (ECR_EMULATOR_TLS_KEY)")
    parser.add_argument("--ca-dir", default=_env("CA_DIR"),
                        help="where the local certificate authority lives; default: STATE_DIR/ca with --state-dir, "
                             "else the user cache directory (ECR_EMULATOR_CA_DIR)")


def _host_and_tls_config(parser: argparse.ArgumentParser, args, config: Config) -> None:
    domains = tuple(d.strip().lower().rstrip(".") for d in args.domains.split(",") if d.strip())
    for domain in domains + ((args.registry_domain.lower(),) if args.registry_domain else ()):
        if not hosts.is_domain(domain):
            parser.error(f"--domains/--registry-domain: {domain!r} is not a domain name")
    config.domains = domains
    if args.registry_domain:
        config.registry_domain = args.registry_domain.lower().rstrip(".")
        if config.registry_domain not in domains:
            config.domains = domains + (config.registry_domain,)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path and not os.path.isfile(path):
            parser.error(f"{flag}: {path} is not a readable file")
    config.tls = args.tls or bool(args.tls_cert)
    config.tls_cert, config.tls_key, config.ca_dir = args.tls_cert, args.tls_key, args.ca_dir


def transfer(argv: list[str]) -> int:
    """``ecr-emulator export FILE`` / ``ecr-emulator import FILE``: save or restore a running emulator's whole state
    (registries and blobs) through its admin API."""
    parser = _Parser(prog="ecr-emulator", description="Export or import a running emulator's state.")
    parser.add_argument("action", choices=["export", "import"])
    parser.add_argument("file")
    parser.add_argument("--endpoint", default=_env("ENDPOINT", "http://127.0.0.1:5000"),
                        help="the running emulator (ECR_EMULATOR_ENDPOINT)")
    _admin_token_option(parser)
    args = parser.parse_args(argv)
    _check_admin_token(parser, args.admin_token)
    auth = {"Authorization": f"Bearer {args.admin_token}"} if args.admin_token else {}
    import json
    import shutil
    import urllib.error
    import urllib.request

    url = f"{args.endpoint.rstrip('/')}/_emulator/{args.action}"
    try:
        if args.action == "export":
            with urllib.request.urlopen(urllib.request.Request(url, headers=auth)) as reply, \
                    open(args.file, "wb") as out:
                shutil.copyfileobj(reply, out, 1024 * 1024)
            print(f"exported {url} to {args.file}")
            return 0
        with open(args.file, "rb") as archive:
            request = urllib.request.Request(url, data=archive, method="POST", headers={
                "Content-Type": "application/x-tar", "Content-Length": str(os.fstat(archive.fileno()).st_size),
                **auth})
            with urllib.request.urlopen(request) as reply:
                print(f"imported {args.file}: {json.loads(reply.read())}")
        return 0
    except urllib.error.HTTPError as exc:
        print(f"{args.action} failed: {exc.code} {exc.read().decode(errors='replace')}", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"{args.action} failed: {exc}", file=sys.stderr)
    return 1


def show_ca(argv: list[str]) -> int:
    """``ecr-emulator ca``: where the local certificate authority is (made now if it does not exist yet) and how to
    trust it; takes the server's flags, so it names the CA that server uses."""
    config = parse_args(argv)
    from .server.tls import CertificateAuthority, TlsError, ca_dir, trust_instructions

    try:
        authority = CertificateAuthority(ca_dir(config))
    except TlsError as exc:
        print(f"ecr-emulator: error: {exc}", file=sys.stderr)
        return 2
    print(trust_instructions(authority.cert_path, config), end="")
    return 0


def _load_seed(app, config: Config) -> bool:
    """Load ``--seed`` into an empty state; a state directory that already holds state keeps it (the seed is a
    starting point, never merged into or written over what was saved)."""
    from .seeds import loader as seed

    store = extension.of(app).store
    if any(registry.repositories or registry.settings for registry in store.registries()):
        print(f"ecr-emulator: {config.state_dir} already holds state; the seed {config.seed} was not loaded",
              file=sys.stderr)
        return True
    try:
        loaded = seed.load(store, config, config.seed)
    except seed.SeedError as exc:
        print(f"ecr-emulator: error: bad seed: {exc}; nothing was loaded", file=sys.stderr)
        return False
    print(f"ecr-emulator: seeded {loaded['repositories']} repositories and {loaded['images']} images from "
          f"{config.seed}", file=sys.stderr)
    return True


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("export", "import"):
        return transfer(argv)
    if argv and argv[0] == "ca":
        return show_ca(argv[1:])
    config = parse_args(argv)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .app import create_app
    from .server.http_server import make_server
    from .state.persistence import StateDirError

    try:
        app = create_app(config)
    except StateDirError as exc:
        print(f"ecr-emulator: error: {exc}", file=sys.stderr)
        return 2
    if config.seed and not _load_seed(app, config):
        return 2
    if config.lifecycle_interval:
        from .models import lifecycle

        lifecycle.start_periodic(extension.of(app).store, config.lifecycle_interval)
    from .server.tls import TlsError

    try:
        server = make_server(app, config)
    except TlsError as exc:
        print(f"ecr-emulator: error: {exc}", file=sys.stderr)
        return 2
    schemes = "http and https" if config.tls else "http"
    print(f"ecr-emulator listening on {config.host}:{server.effective_port} for {schemes} "
          f"(advertised as {config.endpoint})", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
