"""Who is calling and where: region from the SigV4 credential scope, account from the access key id."""

import re

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([a-z0-9-]+)/")


def caller(authorization: str | None, default_account: str, default_region: str) -> tuple[str, str]:
    """(account, region) of a request; unsigned requests get the defaults, as do access keys that are not an
    account id (a 12-digit access key id selects that account, as in moto)."""
    if authorization:
        match = _CREDENTIAL.search(authorization)
        if match:
            access_key, region = match.groups()
            account = access_key if len(access_key) == 12 and access_key.isdigit() else default_account
            return account, region
    return default_account, default_region
