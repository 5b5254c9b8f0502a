"""Emulator configuration, passed into the app factory rather than read from globals."""

import dataclasses


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

    @property
    def endpoint(self) -> str:
        return (self.advertise_url or f"http://{self.host}:{self.port}").rstrip("/")
