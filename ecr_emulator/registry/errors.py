"""Errors of the registry API, in the OCI Distribution Specification's JSON shape and status codes.

Every error code the API answers with is declared once below with its HTTP status and default message, as CNCF
Distribution's ``errcode`` registry declares its descriptors, so a handler raises a code (``BLOB_UNKNOWN.error(...)``)
rather than spelling a (status, code) pair; a message several places build has one builder here. Where ECR answers a
code with a status other than its usual one, ``ErrorCode.at`` names that variant at the point of use. ECR's own
refusals (from the JSON API's operations) translate through ``from_ecr`` and ``from_failure``.
"""

import dataclasses
import json

from flask import Response

from .. import errors as ecr_errors


@dataclasses.dataclass(frozen=True)
class ErrorCode:
    """One error code of the specification: its name, the status it answers with, and its default message."""

    code: str
    status: int
    message: str

    def at(self, status: int) -> "ErrorCode":
        """The same code answered with another status."""
        return dataclasses.replace(self, status=status)

    def error(self, message: str | None = None, detail=None, headers: dict | None = None) -> "RegistryError":
        """The error to raise: this code with the default message unless the fault has a more telling one."""
        return RegistryError(self, self.message if message is None else message, detail, headers)


class RegistryError(Exception):
    """A refusal of a registry request, answered as the spec's ``{"errors": [...]}`` body by the blueprint."""

    def __init__(self, code: ErrorCode, message: str, detail=None, headers: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> Response:
        entry = {"code": self.code.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return Response(json.dumps({"errors": [entry]}), status=self.code.status, content_type="application/json",
                        headers=self.headers)


BLOB_UNKNOWN = ErrorCode("BLOB_UNKNOWN", 404, "blob unknown to registry")
# An upload refused for where its bytes start: 416 with the Range it has reached, as the spec asks of a chunk out of
# order.
BLOB_UPLOAD_INVALID = ErrorCode("BLOB_UPLOAD_INVALID", 416, "blob upload invalid")
BLOB_UPLOAD_UNKNOWN = ErrorCode("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry")
DIGEST_INVALID = ErrorCode("DIGEST_INVALID", 400, "provided digest did not match uploaded content")
MANIFEST_BLOB_UNKNOWN = ErrorCode("MANIFEST_BLOB_UNKNOWN", 400, "manifest blob unknown to registry")
MANIFEST_INVALID = ErrorCode("MANIFEST_INVALID", 400, "manifest invalid")
MANIFEST_UNKNOWN = ErrorCode("MANIFEST_UNKNOWN", 404, "manifest unknown to registry")
NAME_INVALID = ErrorCode("NAME_INVALID", 400, "invalid repository name")
NAME_UNKNOWN = ErrorCode("NAME_UNKNOWN", 404, "repository name not known to registry")
PAGINATION_NUMBER_INVALID = ErrorCode("PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested")
TAG_INVALID = ErrorCode("TAG_INVALID", 400, "manifest tag did not match URI")
UNAUTHORIZED = ErrorCode("UNAUTHORIZED", 401, "authentication required")
DENIED = ErrorCode("DENIED", 403, "requested access to the resource is denied")
UNSUPPORTED = ErrorCode("UNSUPPORTED", 405, "the operation is unsupported")
TOOMANYREQUESTS = ErrorCode("TOOMANYREQUESTS", 429, "too many requests")
UNAVAILABLE = ErrorCode("UNAVAILABLE", 503, "service unavailable")
UNKNOWN = ErrorCode("UNKNOWN", 500, "unknown error")


def name_unknown(name: str, account: str) -> RegistryError:
    return NAME_UNKNOWN.error(detail={"name": name, "registryId": account})


def upload_unknown(upload_id: str) -> RegistryError:
    return BLOB_UPLOAD_UNKNOWN.error(detail={"uploadId": upload_id})


def digest_mismatch(digest: str, actual: str) -> RegistryError:
    return DIGEST_INVALID.error(detail={"digest": digest, "actual": actual})


def manifest_too_large(limit: int) -> RegistryError:
    return MANIFEST_INVALID.at(413).error(f"manifest is larger than {limit} bytes")


def method_unsupported(method: str, allow: str | None = None) -> RegistryError:
    """A method the path does not take; ``allow`` lists those it does, when routing knows them."""
    return UNSUPPORTED.error(f"{method} is not supported here", headers=None if allow is None else {"Allow": allow})


# How an ECR refusal reads to a registry client: the code the spec defines for the same fault. A refusal without one
# is UNSUPPORTED, answered 400 since it is the request that is at fault.
_UNMAPPED = UNSUPPORTED.at(400)
_FROM_ECR = {
    "RepositoryNotFoundException": NAME_UNKNOWN,
    "ImageNotFoundException": MANIFEST_UNKNOWN,
    "InvalidParameterException": MANIFEST_INVALID,
    "ImageDigestDoesNotMatchException": DIGEST_INVALID,
    "ImageTagAlreadyExistsException": TAG_INVALID,
    "LayersNotFoundException": MANIFEST_BLOB_UNKNOWN,
    "ReferencedImagesNotFoundException": MANIFEST_BLOB_UNKNOWN,
    "LimitExceededException": TOOMANYREQUESTS,
    "AccessDeniedException": DENIED,
    # The state directory could not be written (a full disk): a fault of the machine, not the request.
    "ServerException": UNKNOWN,
}

# BatchGetImage / BatchDeleteImage failure codes, likewise. An archived image (ImageInaccessible) answers 404: the
# ECR User Guide's "Archiving an image" page says pulls of an archived image fail with a 404 error.
_FROM_FAILURE = {
    "ImageNotFound": MANIFEST_UNKNOWN,
    "ImageTagDoesNotMatchDigest": MANIFEST_UNKNOWN,
    "ImageInaccessible": MANIFEST_UNKNOWN,
    # Deleting an image an index still names conflicts with that index.
    "ImageReferencedByManifestList": DENIED.at(409),
    # A pull through cache rule's upstream registry refused or failed the fetch.
    "UpstreamAccessDenied": DENIED,
    "UpstreamTooManyRequests": TOOMANYREQUESTS,
    "UpstreamUnavailable": UNAVAILABLE,
}


def from_ecr(exc: ecr_errors.ServiceError) -> RegistryError:
    return _FROM_ECR.get(exc.code, _UNMAPPED).error(exc.message, detail={"ecrError": exc.code})


def from_failure(failure: dict) -> RegistryError:
    return _FROM_FAILURE.get(failure["failureCode"], _UNMAPPED).error(failure["failureReason"],
                                                                      detail={"failureCode": failure["failureCode"]})
