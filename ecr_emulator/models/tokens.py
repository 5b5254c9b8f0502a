"""Registry passwords: self-describing, signed tokens that name a caller, a registry, a region and an expiry.

``GetAuthorizationToken`` issues them and the registry API verifies them, with no table to keep: the payload is
``caller.registry.region.expiry`` and an HMAC over it with a per-store secret, so a forged or edited token fails.
The caller is the principal the registry's policies are asked about; the registry is the one a request reaches when
its host does not name one (``registryIds`` of the request that issued it, else the caller's own).
"""

import base64
import hashlib
import hmac
import os


class TokenIssuer:
    def __init__(self, secret: bytes | None = None):
        self.secret = secret or os.urandom(32)

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self.secret, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, caller: str, account: str, region: str, expires_at: float) -> str:
        payload = f"{caller}.{account}.{region}.{int(expires_at)}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, password: str, now: float) -> tuple[str, str, str] | None:
        """The (caller, registry account, region) of a valid, unexpired password; None for anything else."""
        parts = password.split(".")
        if len(parts) != 5:
            return None
        caller, account, region, expiry, signature = parts
        if not hmac.compare_digest(signature, self._sign(f"{caller}.{account}.{region}.{expiry}")):
            return None
        if not expiry.isdigit() or int(expiry) <= now:
            return None
        return caller, account, region
