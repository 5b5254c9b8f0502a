"""Errors of the registry API, in the OCI Distribution Specification's JSON shape and status codes."""

import json

from flask import Response

from .. import errors as ecr_errors


class RegistryError(Exception):
    def __init__(self, status: int, code: str, message: str, detail=None, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers or {}

    def response(self) -> Response:
        entry = {"code": self.code, "message": self.message}
        if self.detail is not None:
            entry["detail"] = self.detail
        return Response(json.dumps({"errors": [entry]}), status=self.status, content_type="application/json",
                        headers=self.headers)


# How an ECR refusal reads to a registry client: the status and code the spec defines for the same fault.
_FROM_ECR = {
    "RepositoryNotFoundException": (404, "NAME_UNKNOWN"),
    "ImageNotFoundException": (404, "MANIFEST_UNKNOWN"),
    "InvalidParameterException": (400, "MANIFEST_INVALID"),
    "ImageDigestDoesNotMatchException": (400, "DIGEST_INVALID"),
    "ImageTagAlreadyExistsException": (400, "TAG_INVALID"),
    "LayersNotFoundException": (400, "MANIFEST_BLOB_UNKNOWN"),
    "ReferencedImagesNotFoundException": (400, "MANIFEST_BLOB_UNKNOWN"),
    "LimitExceededException": (429, "TOOMANYREQUESTS"),
    "AccessDeniedException": (403, "DENIED"),
    # The state directory could not be written (a full disk): a fault of the machine, not the request.
    "ServerException": (500, "UNKNOWN"),
}

# BatchGetImage / BatchDeleteImage failure codes, likewise. An archived image (ImageInaccessible) answers 404: the
# ECR User Guide's "Archiving an image" page says pulls of an archived image fail with a 404 error.
_FROM_FAILURE = {
    "ImageNotFound": (404, "MANIFEST_UNKNOWN"),
    "ImageTagDoesNotMatchDigest": (404, "MANIFEST_UNKNOWN"),
    "ImageInaccessible": (404, "MANIFEST_UNKNOWN"),
    "ImageReferencedByManifestList": (409, "DENIED"),
    # A pull through cache rule's upstream registry refused or failed the fetch.
    "UpstreamAccessDenied": (403, "DENIED"),
    "UpstreamTooManyRequests": (429, "TOOMANYREQUESTS"),
    "UpstreamUnavailable": (503, "UNAVAILABLE"),
}


def from_ecr(exc: ecr_errors.ServiceError) -> RegistryError:
    status, code = _FROM_ECR.get(exc.code, (400, "UNSUPPORTED"))
    return RegistryError(status, code, exc.message, detail={"ecrError": exc.code})


def from_failure(failure: dict) -> RegistryError:
    status, code = _FROM_FAILURE.get(failure["failureCode"], (400, "UNSUPPORTED"))
    return RegistryError(status, code, failure["failureReason"], detail={"failureCode": failure["failureCode"]})
