"""GetAuthorizationToken: a registry password that the /v2 API accepts as a ``docker login`` password.

The password is the caller's: at another account's registry it is worth what that registry's policies grant the
caller. ``proxyEndpoint`` is the registry's own host in the ``--registry-domain`` mode, else this server."""

import base64

from ..api.context import RequestContext
from . import operation

TOKEN_LIFETIME_SECONDS = 12 * 3600


@operation("GetAuthorizationToken")
def get_authorization_token(ctx: RequestContext, params: dict) -> dict:
    expires_at = ctx.clock.now() + TOKEN_LIFETIME_SECONDS
    data = []
    for account in params.get("registryIds") or [ctx.account]:
        password = ctx.store.tokens.issue(ctx.account, account, ctx.region, expires_at)
        data.append({
            "authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
            "expiresAt": expires_at,
            "proxyEndpoint": ctx.config.proxy_endpoint(account, ctx.region),
        })
    return {"authorizationData": data}
