"""``ecr-emulator`` / ``python -m ecr_emulator``: flags, each mirrored by an ``ECR_EMULATOR_*`` variable."""

import argparse
import logging
import os
import signal
import sys

from .config import Config


def _env(name: str, default=None):
    return os.environ.get(f"ECR_EMULATOR_{name}", default)


def _flag(value) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def _number(parser: argparse.ArgumentParser, text: str, kind, flag: str, variable: str):
    """``text`` (from ``flag`` or ``ECR_EMULATOR_<variable>``) as a ``kind``; a one-line error naming both if not."""
    try:
        return kind(text)
    except ValueError:
        parser.error(f"{flag} (ECR_EMULATOR_{variable}) must be a number, not {text!r}")


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(prog="ecr-emulator", description="An AWS-compatible Amazon ECR emulator.")
    parser.add_argument("--host", default=_env("HOST", "127.0.0.1"), help="address to bind (ECR_EMULATOR_HOST)")
    parser.add_argument("--port", type=int, default=int(_env("PORT", "5000")), help="port (ECR_EMULATOR_PORT)")
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
    parser.add_argument("--max-connections", type=int, default=int(_env("MAX_CONNECTIONS", "1000")),
                        help="client connections served at once, each by its own thread; when all are taken, an idle "
                             "one is closed to make room, or the new client is answered 503 "
                             "(ECR_EMULATOR_MAX_CONNECTIONS)")
    parser.add_argument("--max-body-bytes", type=int, default=int(_env("MAX_BODY_BYTES", str(32 * 1024 * 1024))),
                        help="largest JSON API request body; bigger bodies are dropped as they arrive and answered "
                             "413 (ECR_EMULATOR_MAX_BODY_BYTES)")
    parser.add_argument("--lifecycle-interval", type=float, default=_env("LIFECYCLE_INTERVAL"), metavar="SECONDS",
                        help="apply every repository's lifecycle policy every SECONDS of real time; default: only "
                             "on POST /_emulator/lifecycle/run (ECR_EMULATOR_LIFECYCLE_INTERVAL)")
    parser.add_argument("--header-timeout", default=_env("HEADER_TIMEOUT", str(Config.header_timeout)),
                        metavar="SECONDS",
                        help="a request head must arrive within SECONDS of its first byte (of the connection, for "
                             "its first request), or the connection is closed (ECR_EMULATOR_HEADER_TIMEOUT)")
    parser.add_argument("--min-body-rate", default=_env("MIN_BODY_RATE", str(Config.min_body_rate)),
                        metavar="BYTES_PER_SECOND",
                        help=f"after {Config.body_grace:g} s, a request body must arrive at this rate or its "
                             "connection is closed; 0 turns the check off (ECR_EMULATOR_MIN_BODY_RATE)")
    args = parser.parse_args(argv)
    header_timeout = _number(parser, args.header_timeout, float, "--header-timeout", "HEADER_TIMEOUT")
    if not 0 < header_timeout < float("inf"):
        parser.error("--header-timeout (ECR_EMULATOR_HEADER_TIMEOUT) must be a positive number of seconds, "
                     f"not {args.header_timeout!r}")
    min_body_rate = _number(parser, args.min_body_rate, int, "--min-body-rate", "MIN_BODY_RATE")
    if min_body_rate < 0:
        parser.error("--min-body-rate (ECR_EMULATOR_MIN_BODY_RATE) must be a number of bytes a second, 0 or "
                     f"more, not {args.min_body_rate!r}")
    if not (args.account_id.isdigit() and len(args.account_id) == 12):
        parser.error("--account-id must be 12 digits")
    if args.max_connections < 1:
        parser.error("--max-connections must be positive")
    if args.max_body_bytes < 1:
        parser.error("--max-body-bytes must be positive")
    if args.lifecycle_interval is not None and not args.lifecycle_interval > 0:
        parser.error("--lifecycle-interval must be a positive number of seconds")
    config = Config(host=args.host, port=args.port, advertise_url=args.advertise_url, account_id=args.account_id,
                    log_level=args.log_level.upper(), strict_layers=args.strict_layers,
                    max_connections=args.max_connections,
                    state_dir=args.state_dir, lifecycle_interval=args.lifecycle_interval,
                    max_body_bytes=args.max_body_bytes, header_timeout=header_timeout, min_body_rate=min_body_rate)
    return config


def transfer(argv: list[str]) -> int:
    """``ecr-emulator export FILE`` / ``ecr-emulator import FILE``: save or restore a running emulator's whole state
    (registries and blobs) through its admin API."""
    parser = argparse.ArgumentParser(prog="ecr-emulator", description="Export or import a running emulator's state.")
    parser.add_argument("action", choices=["export", "import"])
    parser.add_argument("file")
    parser.add_argument("--endpoint", default=_env("ENDPOINT", "http://127.0.0.1:5000"),
                        help="the running emulator (ECR_EMULATOR_ENDPOINT)")
    args = parser.parse_args(argv)
    import json
    import shutil
    import urllib.error
    import urllib.request

    url = f"{args.endpoint.rstrip('/')}/_emulator/{args.action}"
    try:
        if args.action == "export":
            with urllib.request.urlopen(url) as reply, open(args.file, "wb") as out:
                shutil.copyfileobj(reply, out, 1024 * 1024)
            print(f"exported {url} to {args.file}")
            return 0
        with open(args.file, "rb") as archive:
            request = urllib.request.Request(url, data=archive, method="POST", headers={
                "Content-Type": "application/x-tar", "Content-Length": str(os.fstat(archive.fileno()).st_size)})
            with urllib.request.urlopen(request) as reply:
                print(f"imported {args.file}: {json.loads(reply.read())}")
        return 0
    except urllib.error.HTTPError as exc:
        print(f"{args.action} failed: {exc.code} {exc.read().decode(errors='replace')}", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"{args.action} failed: {exc}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("export", "import"):
        return transfer(argv)
    config = parse_args(argv)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from .app import create_app
    from .serving import make_server

    app = create_app(config)
    if config.lifecycle_interval:
        from .models import lifecycle

        lifecycle.start_periodic(app.config["ECR_STORE"], config.lifecycle_interval)
    server = make_server(app, config)
    print(f"ecr-emulator listening on http://{config.host}:{server.effective_port} "
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
