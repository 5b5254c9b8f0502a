"""ECR's wording for refused parameters: one table of message templates, each with where the wording was seen.

ECR answers a parameter fault with ``InvalidParameterException`` and one message in its own frame,
``Invalid parameter at '<member>' failed to satisfy constraint: '<constraint>'``, where ``<member>`` is the member's
own name (``imageTag``, not its path inside ``imageIds``). The constraint reads by what broke:

- a rule of the member itself: ``must have length greater than or equal to 2``;
- a list's own length: ``Member must have length greater than or equal to 1``;
- a rule broken by an element of a list of strings, named at the list:
  ``Member must satisfy constraint: [Member must satisfy regular expression pattern: [0-9]{12}]``.

The generic frame of AWS's request validation, ``N validation errors detected: Value 'x' at 'a.b' failed to satisfy
constraint: Member must ...``, belongs to operations that answer ``ValidationException`` instead.

Sources are public threads that quote ECR's replies; an entry marked "by analogy" has no quoted instance and follows
the wording of its siblings.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Rule:
    """One model constraint: its wording in ECR's frame for the member itself, in the generic ``Member must`` form
    (used for lists, list elements and the ValidationException frame), and where the ECR wording was seen."""

    ecr: str
    generic: str
    source: str


RULES = {
    "min_length": Rule(
        "must have length greater than or equal to {limit}",
        "Member must have length greater than or equal to {limit}",
        "github.com/aws/aws-dotnet-deploy/issues/549 (repositoryName); "
        "github.com/puemos/aws-lambda-ecr-cleaner/issues/3 (imageIds, list form)"),
    "max_length": Rule(
        "must have length less than or equal to {limit}",
        "Member must have length less than or equal to {limit}",
        "by analogy with min_length"),
    "pattern": Rule(
        "must satisfy regular expression '{pattern}'",
        "Member must satisfy regular expression pattern: {pattern}",
        "github.com/jenkins-x/jx/issues/1344 and github.com/int128/create-ecr-repository-action/issues/231 "
        "(repositoryName); github.com/alexjurkiewicz/ecr-scan-image/issues/40 (imageTag); "
        "github.com/pulumi/pulumi-aws/issues/2466 (imageDigest); "
        "github.com/aws-actions/amazon-ecr-login/issues/27 (registryIds, list-element form)"),
    "enum": Rule(
        "Member must satisfy enum value set: [{values}]",
        "Member must satisfy enum value set: [{values}]",
        "ECR's reply for imageTagMutability as recorded in getmoto/moto's tests/test_ecr/test_ecr.py "
        "(test_put_image_tag_mutability_error_invalid_param); the values in the model's order, the order of the "
        "API reference's Valid Values"),
    "min_value": Rule(
        "must have value greater than or equal to {limit}",
        "Member must have value greater than or equal to {limit}",
        "by analogy with min_length"),
    "max_value": Rule(
        "must have value less than or equal to {limit}",
        "Member must have value less than or equal to {limit}",
        "by analogy with min_length"),
    "not_null": Rule(
        "must not be null",
        "Member must not be null",
        "by analogy with min_length"),
}

# ECR's frame, seen in every thread above and in github.com/aws/aws-cli/issues/8620.
PARAMETER = "Invalid parameter at '{member}'"
INVALID_PARAMETER = PARAMETER + " failed to satisfy constraint: '{constraint}'"
# A parameter refused for what it names rather than for a rule of its own (DescribeImages' imageIds, with the
# failure reason BatchGetImage gives for the same id): the emulator's wording after ECR's frame, no quoted instance.
REFUSED_PARAMETER = PARAMETER + ": {reason}"
# A fault of one element of a list of strings: github.com/aws-actions/amazon-ecr-login/issues/27 and /225,
# github.com/goharbor/harbor/issues/17642.
LIST_ELEMENT = "Member must satisfy constraint: [{inner}]"
# The generic frame (ValidationException): github.com/ministryofjustice/modernisation-platform/pull/8116,
# github.com/aws/aws-sdk-js-v3/issues/2804.
VALIDATION_FAULT = "Value {value} at '{path}' failed to satisfy constraint: {constraint}"
VALIDATION_REPORT = "{count} validation error{plural} detected: {faults}"

# Constraints ECR words for whole documents rather than model rules.
# PutImage of a manifest that is not JSON, or that has no mediaType when imageManifestMediaType is not given:
# github.com/aws/aws-cli/issues/8620, github.com/aws/aws-sdk/issues/193, github.com/aws/containers-roadmap/issues/1873,
# github.com/containers/image/pull/584.
MANIFEST_SYNTAX = "Invalid JSON syntax"
# ListTagsForResource, TagResource and UntagResource of a resourceArn that is not a repository ARN: ECR's reply as
# recorded in getmoto/moto's tests/test_ecr/test_ecr.py (test_list_tags_for_resource_error_invalid_param).
INVALID_ARN = "Invalid ARN"
# SetRepositoryPolicy / PutRegistryPolicy of a document ECR refuses: github.com/pulumi/pulumi-aws/issues/2326
# (registry); the repository wording is the same with "repository".
POLICY = "Invalid {kind} policy provided"


def invalid_parameter(member: str, constraint: str) -> str:
    """A message in ECR's frame."""
    return INVALID_PARAMETER.format(member=member, constraint=constraint)


def refused_parameter(member: str, reason: str) -> str:
    return REFUSED_PARAMETER.format(member=member, reason=reason)


def ecr_constraint(rule: str, element: bool = False, listed: bool = False, **args) -> str:
    """The constraint text of one model rule in ECR's frame: for the member itself, for a list (``listed``) or for
    an element of a list of strings (``element``)."""
    if element:
        return LIST_ELEMENT.format(inner=RULES[rule].generic.format(**args))
    return (RULES[rule].generic if listed else RULES[rule].ecr).format(**args)


def generic_constraint(rule: str, **args) -> str:
    return RULES[rule].generic.format(**args)


def validation_report(faults: list[str]) -> str:
    """Faults in the generic frame, all at once."""
    return VALIDATION_REPORT.format(count=len(faults), plural="s" if len(faults) != 1 else "", faults="; ".join(faults))
