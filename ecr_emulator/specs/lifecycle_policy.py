"""Lifecycle policy documents: parsed and checked before a repository accepts them, as AWS does.

The structure lives in ``lifecycle_policy.schema.json``; the rules that relate fields and rules to one another
(documented on AWS's "Lifecycle policy properties" and "How lifecycle policies work" pages) are checked here.
Every fault is an ``InvalidParameterException`` that names the rule by its ``rulePriority``.
"""

import functools
import json
import pathlib
from typing import TYPE_CHECKING

from .. import errors

if TYPE_CHECKING:
    import jsonschema

MAX_WILDCARDS = 4
# AWS: archived images have a minimum storage duration of 90 days; a policy may not delete them sooner.
MIN_ARCHIVE_DAYS = 90
_SINCE = ("sinceImagePushed", "sinceImagePulled", "sinceImageTransitioned")


@functools.cache
def _validator() -> "jsonschema.protocols.Validator":
    """Built on the first policy put: importing jsonschema costs a tenth of the server's start-up time."""
    import jsonschema

    schema = json.loads(pathlib.Path(__file__).with_name("lifecycle_policy.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _fail(fault: str) -> errors.ServiceError:
    return errors.invalid_parameter("LifecyclePolicyText", f"Lifecycle policy validation failure: {fault}")


def _rule_fail(priority, fault: str) -> errors.ServiceError:
    return _fail(f"rule with rulePriority {priority}: {fault}")


def _schema_fault(document, error: "jsonschema.ValidationError") -> errors.ServiceError:
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "rules" and isinstance(path[1], int):
        rule = document["rules"][path[1]]
        priority = rule.get("rulePriority") if isinstance(rule, dict) else None
        label = priority if isinstance(priority, int) and not isinstance(priority, bool) else f"#{path[1] + 1}"
        return _rule_fail(label, f"{'/'.join(str(p) for p in path[2:]) or 'rule'}: {error.message}")
    return _fail(f"{'/'.join(str(p) for p in path) or 'policy'}: {error.message}")


def storage_class(selection: dict) -> str:
    """The storage class a rule selects from; AWS uses ``standard`` when the rule names none."""
    return selection.get("storageClass", "standard")


def _check_rule(rule: dict) -> None:
    priority, selection, action = rule["rulePriority"], rule["selection"], rule["action"]
    status, count_type = selection["tagStatus"], selection["countType"]
    prefixes, patterns = selection.get("tagPrefixList"), selection.get("tagPatternList")
    if status == "tagged":
        if prefixes is None and patterns is None:
            raise _rule_fail(priority, "tagStatus 'tagged' requires tagPrefixList or tagPatternList")
        if prefixes is not None and patterns is not None:
            raise _rule_fail(priority, "specify either tagPrefixList or tagPatternList, not both")
    elif prefixes is not None or patterns is not None:
        raise _rule_fail(priority, f"tagPrefixList and tagPatternList are only allowed when tagStatus is 'tagged', "
                                   f"not '{status}'")
    for pattern in patterns or ():
        if pattern.count("*") > MAX_WILDCARDS:
            raise _rule_fail(priority, f"tagPatternList entry '{pattern}' has more than {MAX_WILDCARDS} wildcards (*)")
    if count_type in _SINCE:
        if "countUnit" not in selection:
            raise _rule_fail(priority, f"countUnit 'days' is required when countType is {count_type}")
    elif "countUnit" in selection:
        raise _rule_fail(priority, f"countUnit is not allowed when countType is {count_type}")
    klass = storage_class(selection)
    if count_type == "sinceImageTransitioned":
        if klass != "archive":
            raise _rule_fail(priority, "countType sinceImageTransitioned requires storageClass 'archive'")
        if selection["countNumber"] < MIN_ARCHIVE_DAYS:
            raise _rule_fail(priority, f"countNumber must be at least {MIN_ARCHIVE_DAYS} days for "
                                       f"sinceImageTransitioned: archived images are kept for a minimum of "
                                       f"{MIN_ARCHIVE_DAYS} days")
    elif klass != "standard":
        raise _rule_fail(priority, f"storageClass '{klass}' is only allowed when countType is sinceImageTransitioned")
    kind = action["type"]
    if kind == "transition":
        if "targetStorageClass" not in action:
            raise _rule_fail(priority, "action type 'transition' requires targetStorageClass 'archive'")
        if count_type == "sinceImageTransitioned":
            raise _rule_fail(priority, "countType sinceImageTransitioned can only be used with action type 'expire'")
    else:
        if "targetStorageClass" in action:
            raise _rule_fail(priority, "targetStorageClass is only allowed when action type is 'transition'")
        if count_type == "sinceImagePulled":
            raise _rule_fail(priority, "countType sinceImagePulled can only be used with action type 'transition'")


def _check_rule_set(rules: list[dict]) -> None:
    """Rules that span the policy. AWS states the untagged and prefix rules per storage class, and its own
    archive example pairs an ``any`` rule for standard images with a later ``any`` rule for archived ones, so
    every cross-rule check here is made among the rules of one storage class."""
    seen_priorities: set[int] = set()
    for rule in rules:
        if rule["rulePriority"] in seen_priorities:
            raise _rule_fail(rule["rulePriority"], "rulePriority must be unique across rules")
        seen_priorities.add(rule["rulePriority"])
    for klass in ("standard", "archive"):
        group = sorted((r for r in rules if storage_class(r["selection"]) == klass), key=lambda r: r["rulePriority"])
        untagged = None
        owners: dict[tuple[str, str], int] = {}
        for rule in group:
            priority, selection = rule["rulePriority"], rule["selection"]
            if selection["tagStatus"] == "any" and rule is not group[-1]:
                raise _rule_fail(priority, f"a rule with tagStatus 'any' must have the highest rulePriority among "
                                           f"the rules selecting storageClass '{klass}'")
            if selection["tagStatus"] == "untagged":
                if untagged is not None:
                    raise _rule_fail(priority, f"only one rule may select untagged images (rulePriority {untagged} "
                                               f"already does) among the rules selecting storageClass '{klass}'")
                untagged = priority
            for key in ("tagPrefixList", "tagPatternList"):
                for value in selection.get(key) or ():
                    other = owners.get((key, value))
                    if other is not None and other != priority:
                        raise _rule_fail(priority, f"{key} entry '{value}' is already used by rulePriority {other}; "
                                                   f"tag prefixes and patterns must be unique across rules")
                    owners[(key, value)] = priority


def parse(text: str) -> dict:
    """The policy document of ``text``, or ``InvalidParameterException`` naming the first fault found."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise _fail(f"the policy is not valid JSON: {exc}") from None
    from jsonschema.exceptions import best_match

    error = best_match(_validator().iter_errors(document))
    if error is not None:
        raise _schema_fault(document, error)
    for rule in document["rules"]:
        _check_rule(rule)
    _check_rule_set(document["rules"])
    return document
