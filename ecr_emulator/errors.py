"""Service errors: one class per AWS error code, and the catalogue of the messages they carry.

The classes for ECR's own errors are made from the error shapes in botocore's model, so the codes cannot drift from
the contract; protocol-level errors that the model does not list are declared here. The protocol layer renders any
``ServiceError`` a handler raises.

Below the classes, each message the JSON API gives in more than one place, or for more than one resource in one
wording, is built by one function of its parameters (``repository_not_found(name, registry_id)``,
``invalid_parameter(member, constraint)``, ...), so a handler raises ``errors.repository_not_found(...)`` and the
wording lives here once. ECR's parameter frames themselves (``Invalid parameter at ...``) are worded, with their
sources, in ``specs.messages``, beside the model-constraint wording that request validation shares. A message that
only one situation ever gives stays where it is raised.
"""

from .specs import messages, model


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


# The catalogue of messages, each built from its parameters.


def _error(code: str, message: str) -> ServiceError:
    return by_code(code)(message)


def invalid_parameter(member: str, constraint: str) -> ServiceError:
    """A parameter that breaks a rule of the operation, in ECR's frame."""
    return _error("InvalidParameterException", messages.invalid_parameter(member, constraint))


def refused_parameter(member: str, reason: str) -> ServiceError:
    """A parameter refused for a reason that is not a rule of its own, such as a failure of the image it names."""
    return _error("InvalidParameterException", messages.refused_parameter(member, reason))


def invalid_next_token() -> ServiceError:
    return invalid_parameter("nextToken", "The nextToken is not valid")


def paging_with_ids(member: str, ids: str) -> ServiceError:
    """maxResults or nextToken beside the member ``ids`` that names what to describe."""
    return invalid_parameter(member, f"maxResults and nextToken cannot be used when {ids} is specified")


def _missing(code: str, what: str, registry_id: str) -> ServiceError:
    return _error(code, f"{what} does not exist in the registry with id '{registry_id}'")


def _missing_for(code: str, what: str, repository: str, registry_id: str) -> ServiceError:
    """A setting of one repository that it does not have."""
    return _error(code, f"{what} does not exist for the repository with name '{repository}' "
                        f"in the registry with id '{registry_id}'")


def repository_not_found(name: str, registry_id: str) -> ServiceError:
    return _missing("RepositoryNotFoundException", f"The repository with name '{name}'", registry_id)


def repository_policy_not_found(repository: str, registry_id: str) -> ServiceError:
    return _missing_for("RepositoryPolicyNotFoundException", "Repository policy", repository, registry_id)


def lifecycle_policy_not_found(repository: str, registry_id: str) -> ServiceError:
    return _missing_for("LifecyclePolicyNotFoundException", "Lifecycle policy", repository, registry_id)


def lifecycle_policy_preview_not_found(repository: str, registry_id: str) -> ServiceError:
    return _missing_for("LifecyclePolicyPreviewNotFoundException", "Lifecycle policy preview", repository,
                        registry_id)


def registry_policy_not_found(registry_id: str) -> ServiceError:
    return _missing("RegistryPolicyNotFoundException", "Registry policy", registry_id)


def signing_configuration_not_found(registry_id: str) -> ServiceError:
    return _missing("SigningConfigurationNotFoundException", "Signing configuration", registry_id)


def template_not_found(prefix: str, registry_id: str) -> ServiceError:
    return _missing("TemplateNotFoundException", f"The repository creation template with prefix '{prefix}'",
                    registry_id)


def pull_through_cache_rule_not_found(prefix: str, registry_id: str) -> ServiceError:
    return _missing("PullThroughCacheRuleNotFoundException", f"The pull through cache rule with prefix '{prefix}'",
                    registry_id)


def exclusion_not_found(principal_arn: str, registry_id: str) -> ServiceError:
    return _missing("ExclusionNotFoundException",
                    f"The pull time update exclusion for principal '{principal_arn}'", registry_id)


def replication_backfill_not_found(backfill_id: str, registry_id: str) -> ServiceError:
    return _missing("ReplicationBackfillNotFoundException", f"The replication backfill with id '{backfill_id}'",
                    registry_id)


def upload_not_found(upload_id: str, repository: str, registry_id: str) -> ServiceError:
    return _error("UploadNotFoundException", f"Upload with id '{upload_id}' is not found in the repository with name "
                                             f"'{repository}' in the registry with id '{registry_id}'")


def _shown(image_id: dict) -> str:
    """An ImageIdentifier as ECR's messages show it: both members, ``null`` for one the request left out."""
    return ", ".join(f"{k}:'{image_id.get(k, 'null')}'" for k in ("imageDigest", "imageTag"))


def image_not_found(image_id: dict, repository: str, registry_id: str) -> ServiceError:
    return _error("ImageNotFoundException",
                  f"The image with imageId {{{_shown(image_id)}}} does not exist within the repository with name "
                  f"'{repository}' in the registry with id '{registry_id}'")


def scan_not_found(image_id: dict, repository: str, registry_id: str) -> ServiceError:
    return _error("ScanNotFoundException",
                  f"Image scan does not exist for the image with '{{{_shown(image_id)}}}' in the repository with name "
                  f"'{repository}' in the registry with id '{registry_id}'")


def repository_already_exists(name: str, registry_id: str) -> ServiceError:
    return _error("RepositoryAlreadyExistsException",
                  f"The repository with name '{name}' already exists in the registry with id '{registry_id}'")


def template_already_exists(prefix: str, registry_id: str) -> ServiceError:
    return _error("TemplateAlreadyExistsException",
                  f"The repository creation template with prefix '{prefix}' already exists in the registry with id "
                  f"'{registry_id}'. Specify a unique prefix and try again.")


def pull_through_cache_rule_already_exists(prefix: str, registry_id: str) -> ServiceError:
    return _error("PullThroughCacheRuleAlreadyExistsException",
                  f"A pull through cache rule with prefix '{prefix}' already exists in the registry with id "
                  f"'{registry_id}'")


def exclusion_already_exists(principal_arn: str, registry_id: str) -> ServiceError:
    return _error("ExclusionAlreadyExistsException",
                  f"The pull time update exclusion for principal '{principal_arn}' already exists in the registry "
                  f"with id '{registry_id}'")


def limit_exceeded(registry_id: str, maximum: int, what: str) -> ServiceError:
    """A registry that already holds ``maximum`` of ``what`` (say "pull through cache rules")."""
    return _error("LimitExceededException",
                  f"The registry with id '{registry_id}' already has the maximum of {maximum} {what}")


def change_not_made(reason: object) -> ServiceError:
    """A change undone because the state directory could not record it (``reason``: the failed write): a fault of the
    machine, answered 500."""
    return _error("ServerException", f"The change was not made: {reason}")
