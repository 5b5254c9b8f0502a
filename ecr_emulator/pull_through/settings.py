"""Where each upstream registry is reached and the credentials a rule's secret stands for.

Secrets Manager is not emulated, so ``--upstream-credentials FILE`` supplies the secrets: a JSON object from secret
ARN to the secret's value in the form AWS asks for (``{"username": ..., "accessToken": ...}``). ``--upstream-endpoint
HOST=URL`` sends what a rule addresses to ``HOST`` to ``URL`` instead (a local mirror or a test registry); any other
host is reached at ``https://HOST``.
"""

import json
import re

from ..models.pull_through_cache import SECRET_ARN

_URL = re.compile(r"https?://[^/\s]+/?")
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]+)?")


class SettingsError(ValueError):
    """A credentials file or endpoint mapping that cannot be used; the message is one line naming it."""


def load_credentials(path: str) -> dict[str, tuple[str, str]]:
    """Secret ARN -> (username, access token) from the JSON file at ``path``."""
    try:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
    except OSError as exc:
        raise SettingsError(f"cannot read the upstream credentials file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SettingsError(f"the upstream credentials file {path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"the upstream credentials file {path} must hold a JSON object of secret ARNs")
    credentials = {}
    for arn, secret in document.items():
        if not SECRET_ARN.fullmatch(arn):
            raise SettingsError(f"the upstream credentials file {path} names {arn!r}, which is not a Secrets "
                                f"Manager secret ARN")
        if not (isinstance(secret, dict) and isinstance(secret.get("username"), str)
                and isinstance(secret.get("accessToken"), str)):
            raise SettingsError(f"the upstream credentials file {path}: the secret {arn} must be an object with "
                                f"string members \"username\" and \"accessToken\"")
        credentials[arn] = (secret["username"], secret["accessToken"])
    return credentials


def parse_endpoint(text: str) -> tuple[str, str]:
    """(host, base URL) from ``HOST=URL``."""
    host, _, url = text.partition("=")
    if not _HOST.fullmatch(host) or not _URL.fullmatch(url):
        raise SettingsError(f"--upstream-endpoint {text!r} must be HOST=URL, such as "
                            f"registry-1.docker.io=http://127.0.0.1:5001")
    return host.lower(), url.rstrip("/")


def endpoint(endpoints: dict[str, str], host: str) -> str:
    return endpoints.get(host.lower(), f"https://{host}")
