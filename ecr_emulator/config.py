"""Emulator configuration, passed into the app factory rather than read from globals."""

import dataclasses
import urllib.parse

from .server import hosts


@dataclasses.dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 5000
    advertise_url: str | None = None
    account_id: str = "123456789012"
    default_region: str = "us-east-1"
    log_level: str = "INFO"
    strict_layers: bool = False
    state_dir: str | None = None
    max_body_bytes: int = 32 * 1024 * 1024
    max_connections: int = 1000
    header_timeout: float = 30.0
    # Apache's mod_reqtimeout defaults: a body gets 20 s, then must arrive at 500 bytes a second.
    min_body_rate: int = 500
    body_grace: float = 20.0
    lifecycle_interval: float | None = None
    # Required (as a bearer token) by every admin route but health; None leaves the admin API open.
    admin_token: str | None = None
    max_import_bytes: int = 16 * 1024 ** 3
    scan_seconds: float = 0.0
    # Pull through cache: secret ARN -> (username, access token), and upstream host -> the URL contacted instead.
    upstream_credentials: dict = dataclasses.field(default_factory=dict)
    upstream_endpoints: dict = dataclasses.field(default_factory=dict)
    # Host names answered as AWS's (see ``hosts``), and the one that repositoryUri and proxyEndpoint name (None:
    # repositoryUri is AWS's own and proxyEndpoint is ``endpoint``).
    domains: tuple[str, ...] = hosts.DEFAULT_DOMAINS
    registry_domain: str | None = None
    # HTTPS on the same port as HTTP: with a certificate and key of the user's, or leaf certificates made by a
    # local certificate authority kept in ``ca_dir`` (see ``tls``).
    tls: bool = False
    tls_cert: str | None = None
    tls_key: str | None = None
    ca_dir: str | None = None
    seed: str | None = None

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.tls else "http"
        return (self.advertise_url or f"{scheme}://{self.host}:{self.port}").rstrip("/")

    def registry_host(self, account: str, region: str) -> str | None:
        """The host of a registry as repositoryUri and proxyEndpoint name it in the ``registry_domain`` mode, with
        the advertised port; None when the mode is off."""
        if self.registry_domain is None:
            return None
        return hosts.registry_host(account, region, self.registry_domain, urllib.parse.urlsplit(self.endpoint).port)

    def proxy_endpoint(self, account: str, region: str) -> str:
        host = self.registry_host(account, region)
        if host is None:
            return self.endpoint
        return f"{urllib.parse.urlsplit(self.endpoint).scheme}://{host}"
