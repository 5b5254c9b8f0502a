"""Who a registry request comes from and what it names, checked before any state or file is touched.

A password from GetAuthorizationToken names its caller and the (account, region) registry it reaches by default;
the registry's policies decide what the caller may do there (``authorization``). Names, tags and digests must have
the shapes ECR allows, so nothing a client sends can reach outside that registry or the blob store.
"""

import base64
import re

from ..models import manifests
from ..models.store import Store
from ..specs import model, patterns
from .errors import DIGEST_INVALID, NAME_INVALID, TAG_INVALID, UNAUTHORIZED, RegistryError

_TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")


def unauthorized(realm: str, why: str) -> RegistryError:
    """ECR's challenge: a Basic realm naming the registry host, and the service; clients such as oras-py's ECR
    authenticator read the account and region from the realm."""
    return UNAUTHORIZED.error(detail=why,
                              headers={"WWW-Authenticate": f'Basic realm="{realm}",service="ecr.amazonaws.com"'})


def caller(store: Store, authorization: str | None, realm: str) -> tuple[str, str, str]:
    """The (caller, registry account, region) of the request's password."""
    if not authorization or not authorization.lower().startswith("basic "):
        raise unauthorized(realm, "send HTTP Basic credentials: user AWS, password from GetAuthorizationToken")
    # Tokens and the user name are ASCII, so anything else (in the header or in what it decodes to) cannot be valid;
    # ValueError covers both the base64 and the ASCII decoding faults.
    try:
        user, _, password = base64.b64decode(authorization[6:].strip(), validate=True).decode("ascii").partition(":")
    except ValueError:
        raise unauthorized(realm, "malformed Basic credentials: expected base64 of ASCII user:password") from None
    granted = store.tokens.verify(password, store.clock.now()) if user == "AWS" else None
    if granted is None:
        raise unauthorized(realm, "the password is not a current authorization token of this registry")
    return granted


def repository_name(name: str) -> str:
    shape = model.shape("RepositoryName")
    if not (shape.get("min", 0) <= len(name) <= shape.get("max", 256)) or not patterns.compiled(
            shape["pattern"]).fullmatch(name):
        raise NAME_INVALID.error(detail={"name": name})
    return name


def digest(value: str) -> str:
    if not manifests.is_digest(value):
        raise DIGEST_INVALID.error("provided digest is not a sha256 digest", detail={"digest": value})
    return value


def is_digest(reference: str) -> bool:
    return ":" in reference


def reference(value: str) -> str:
    """A manifest reference: a digest, or a tag in the Distribution Specification's grammar."""
    if is_digest(value):
        return digest(value)
    if not _TAG.fullmatch(value):
        raise TAG_INVALID.error(detail={"tag": value})
    return value
