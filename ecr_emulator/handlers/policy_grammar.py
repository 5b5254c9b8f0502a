"""The IAM policy grammar that ECR enforces on repository and registry policies, and the lock-out check.

A document that breaks the grammar is refused with exactly ECR's text (``Invalid repository policy provided`` or
``Invalid registry policy provided``, see ``specs.messages``); what is wrong goes to the server log. Duplicate
``Sid`` values are accepted, as they are at AWS. SetRepositoryPolicy, PutRegistryPolicy and the repository policy
of a creation template are checked here.
"""

import fnmatch
import json
import logging
import re

from .. import errors
from ..specs import messages

log = logging.getLogger(__name__)

_VERSIONS = ("2012-10-17", "2008-10-17")
_PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
_ACTION = re.compile(r"ecr:[A-Za-z0-9*?]+", re.IGNORECASE)
_AWS_PRINCIPAL = re.compile(r"\*|\d{12}|arn:aws[a-z-]*:(?:iam|sts)::\d{12}:\S+")
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?")
_SET_POLICY_ACTION = "ecr:SetRepositoryPolicy"


class PolicyFault(Exception):
    """A policy that breaks the grammar; the text says which part."""


def invalid_policy(kind: str, detail: str) -> errors.ServiceError:
    """ECR's refusal, word for word; ``detail`` (what is wrong) is logged, never sent."""
    log.info("refused %s policy: %s", kind, detail)
    return errors.invalid_parameter("PolicyText", messages.POLICY.format(kind=kind))


def _no_duplicate_keys(pairs: list) -> dict:
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise PolicyFault(f"Duplicate key {key!r}")
        seen[key] = value
    return seen


def _reject_constant(name: str):
    raise PolicyFault(f"{name} is not valid JSON")


def strings(value, element: str) -> list[str]:
    """A policy element that may be one string or a non-empty list of strings, as a list."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(v, str) and v for v in items):
        raise PolicyFault(f"{element} must be a string or a non-empty list of strings")
    return items


def _check_principal(value, element: str) -> None:
    if value == "*":
        return
    if not isinstance(value, dict) or not value:
        raise PolicyFault(f"{element} must be \"*\" or an object keyed by principal type")
    for kind, ids in value.items():
        if kind not in _PRINCIPAL_TYPES:
            raise PolicyFault(f"{element} has an unknown principal type {kind!r}")
        for principal in strings(ids, f"{element}.{kind}"):
            if kind == "AWS" and not _AWS_PRINCIPAL.fullmatch(principal):
                raise PolicyFault(f"Invalid principal {principal!r} in {element}")
            if kind == "Service" and not _SERVICE_PRINCIPAL.fullmatch(principal):
                raise PolicyFault(f"Invalid service principal {principal!r} in {element}")


def _check_condition(value) -> None:
    if not isinstance(value, dict) or not value:
        raise PolicyFault("Condition must be a non-empty object of operators")
    for operator, entries in value.items():
        if not isinstance(entries, dict) or not entries:
            raise PolicyFault(f"Condition operator {operator!r} must map condition keys to values")
        for key, expected in entries.items():
            values = expected if isinstance(expected, list) else [expected]
            if not values or not all(isinstance(v, (str, bool, int, float)) for v in values):
                raise PolicyFault(f"Condition key {key!r} must have a value or a non-empty list of values")


def parse_statements(text: str, allow_resource: bool) -> list[dict]:
    """The statements of a policy document that follows the grammar, or ``PolicyFault`` naming what does not."""
    try:
        document = json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise PolicyFault("The policy is not valid JSON") from None
    if not isinstance(document, dict):
        raise PolicyFault("The policy must be a JSON object")
    unknown = set(document) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyFault(f"Unsupported policy element {sorted(unknown)[0]!r}")
    if "Version" in document and document["Version"] not in _VERSIONS:
        raise PolicyFault(f"Version must be one of {', '.join(_VERSIONS)}")
    if "Id" in document and not isinstance(document["Id"], str):
        raise PolicyFault("Id must be a string")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise PolicyFault("Statement must be an object or a non-empty list of objects")
    allowed = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Condition"}
    if allow_resource:
        allowed |= {"Resource", "NotResource"}
    for number, statement in enumerate(statements, 1):
        where = f"Statement {number}"
        if not isinstance(statement, dict):
            raise PolicyFault(f"{where} must be an object")
        unknown = set(statement) - allowed
        if unknown:
            raise PolicyFault(f"{where} has an unsupported element {sorted(unknown)[0]!r}")
        if "Sid" in statement and not isinstance(statement["Sid"], str):
            raise PolicyFault(f"{where}: Sid must be a string")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise PolicyFault(f"{where}: Effect must be Allow or Deny")
        principals = [k for k in ("Principal", "NotPrincipal") if k in statement]
        if len(principals) != 1:
            raise PolicyFault(f"{where} must have exactly one of Principal or NotPrincipal")
        _check_principal(statement[principals[0]], f"{where} {principals[0]}")
        actions = [k for k in ("Action", "NotAction") if k in statement]
        if len(actions) != 1:
            raise PolicyFault(f"{where} must have exactly one of Action or NotAction")
        for action in strings(statement[actions[0]], f"{where} {actions[0]}"):
            if action != "*" and not _ACTION.fullmatch(action):
                raise PolicyFault(f"{where}: Invalid action {action!r}; only ecr actions are allowed")
        resources = [k for k in ("Resource", "NotResource") if k in statement]
        if len(resources) > 1:
            raise PolicyFault(f"{where} must not have both Resource and NotResource")
        for resource in strings(statement[resources[0]], f"{where} {resources[0]}") if resources else ():
            if resource != "*" and not resource.startswith("arn:"):
                raise PolicyFault(f"{where}: Invalid resource {resource!r}")
        if "Condition" in statement:
            _check_condition(statement["Condition"])
    return statements


def action_matches(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def _names_account(value, account: str) -> bool:
    """Whether a Principal or NotPrincipal value names the account as a whole: ``*``, its id or its root ARN."""
    if value == "*":
        return True
    aws = value.get("AWS")
    if aws is None:
        return False
    return any(p in ("*", account) or re.fullmatch(rf"arn:aws[a-z-]*:iam::{account}:root", p)
               for p in strings(aws, "AWS"))


def locks_out(statements: list[dict], account: str) -> bool:
    """Whether the policy unconditionally denies the owning account (the identity an access key stands for here)
    ecr:SetRepositoryPolicy, so that no later policy could replace it."""
    for statement in statements:
        if statement["Effect"] != "Deny" or "Condition" in statement:
            continue
        if "Action" in statement:
            denied = any(action_matches(p, _SET_POLICY_ACTION) for p in strings(statement["Action"], "Action"))
        else:
            denied = not any(action_matches(p, _SET_POLICY_ACTION)
                             for p in strings(statement["NotAction"], "NotAction"))
        covered = (_names_account(statement["Principal"], account) if "Principal" in statement
                   else not _names_account(statement["NotPrincipal"], account))
        if denied and covered:
            return True
    return False
