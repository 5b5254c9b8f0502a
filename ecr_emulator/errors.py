"""Service errors, one class per AWS error code.

The classes for ECR's own errors are made from the error shapes in botocore's model, so the catalogue
cannot drift from the contract; protocol-level errors that the model does not list are declared here.
A handler raises ``errors.RepositoryNotFoundException("...")`` and the protocol layer renders it.
"""

from .specs import model


class ServiceError(Exception):
    """An AWS-shaped error: ``code`` is the ``__type``; ``fields`` are the error shape's extra members."""

    code = "ServiceError"
    status = 400

    def __init__(self, message: str, **fields):
        super().__init__(message)
        self.message = message
        self.fields = fields

    def body(self) -> dict:
        body = {"__type": self.code, "message": self.message}
        body.update((k, v) for k, v in self.fields.items() if v is not None)
        return body


def _define(name: str, status: int = 400) -> type[ServiceError]:
    cls = type(name, (ServiceError,), {"code": name, "status": status, "__doc__": f"AWS error code {name}."})
    globals()[name] = cls
    return cls


for _name in model.error_shape_names():
    _define(_name, 500 if _name == "ServerException" else 400)

for _name in ("SerializationException", "UnknownOperationException", "ValidationException",
              "UnsupportedOperationException", "RequestEntityTooLargeException",
              "AccessDeniedException"):
    if _name not in globals():
        _define(_name, 413 if _name == "RequestEntityTooLargeException" else 400)


def by_code(code: str) -> type[ServiceError]:
    return globals()[code]


def __getattr__(name: str) -> type[ServiceError]:
    """Tells type checkers that the generated classes are error classes; every name that exists is found before
    this is called, so any other is still an AttributeError."""
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
