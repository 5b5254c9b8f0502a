"""Which registry, or which region, a request's Host names: AWS's host name shapes under the configured domains.

``<account>.dkr.ecr.<region>.<domain>`` is an account's registry in a region (the /v2 API); ``api.ecr.<region>.
<domain>`` and ``ecr.<region>.<domain>`` are the JSON API's endpoints for a region. Any other host (an IP address,
``localhost``) addresses what it always has: the caller's own registry, the region of the request's signature.
"""

import re

DEFAULT_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "localhost")
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_REGISTRY = re.compile(rf"(\d{{12}})\.dkr\.ecr(?:-fips)?\.({_REGION})\.(.+)")
_API = re.compile(rf"(?:api\.)?ecr(?:-fips)?\.({_REGION})\.(.+)")
_DOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*")


def is_domain(value: str) -> bool:
    return _DOMAIN.fullmatch(value) is not None


def name_of(host: str | None) -> str:
    """The host name of a ``Host`` header, without its port, lower-cased and without a trailing dot."""
    if not host:
        return ""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


def registry_of(host: str | None, domains) -> tuple[str, str] | None:
    """The (account, region) of a registry host name under one of ``domains``; None for any other host."""
    match = _REGISTRY.fullmatch(name_of(host))
    if match is None or match.group(3) not in domains:
        return None
    return match.group(1), match.group(2)


def api_region(host: str | None, domains) -> str | None:
    """The region of a JSON API host name under one of ``domains``; None for any other host."""
    match = _API.fullmatch(name_of(host))
    if match is None or match.group(2) not in domains:
        return None
    return match.group(1)


def is_served(name: str, domains) -> bool:
    """Whether a host name is one this server answers as AWS would: a registry or API host under ``domains``."""
    return registry_of(name, domains) is not None or api_region(name, domains) is not None


def registry_host(account: str, region: str, domain: str, port: int | None) -> str:
    """A registry's host as clients write it: the port only when it is not HTTPS's default."""
    host = f"{account}.dkr.ecr.{region}.{domain}"
    return host if port in (None, 443) else f"{host}:{port}"
