"""IAM's evaluation of resource-based policies, for the parts that ECR users rely on.

A statement applies to a request when its principal, action, resource and condition elements all match; an
applicable ``Deny`` wins over any ``Allow``, and with neither the request is implicitly denied. Matching follows
IAM's documented rules: ``*`` and ``?`` wildcards in actions (case-insensitive) and resources; a principal naming an
account (its id or its ``root`` ARN) covers every principal of that account, one naming an IAM user or role covers
only that one; condition operators compare the request's context keys, a key the request lacks matching only the
negated operators, ``...IfExists`` and ``Null``. Policies reach this module already checked against the grammar.
"""

import json
import re

ALLOW = "Allow"
DENY = "Deny"
# Condition keys that need AWS Organizations, which the emulator does not model.
ORGANIZATION_KEYS = ("aws:principalorgid", "aws:principalorgpaths", "aws:resourceorgid", "aws:resourceorgpaths")
_ROOT = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root")


class Request:
    """What a policy is asked about: who (an ARN and its account), the action, the resource and the context keys
    (names in any case)."""

    def __init__(self, principal_arn: str, principal_account: str, action: str, resource: str,
                 context: dict[str, str] | None = None):
        self.principal_arn = principal_arn
        self.principal_account = principal_account
        self.action = action
        self.resource = resource
        self.context = {key.lower(): value for key, value in (context or {}).items()}


def account_root(account: str) -> str:
    return f"arn:aws:iam::{account}:root"


def account_request(account: str, action: str, resource: str, context: dict[str, str] | None = None) -> Request:
    """A request by an account's root principal, with the context keys IAM gives every such request."""
    keys = {"aws:PrincipalAccount": account, "aws:PrincipalArn": account_root(account), "aws:PrincipalType": "Account"}
    keys.update(context or {})
    return Request(account_root(account), account, action, resource, keys)


def evaluate(policy_texts, request: Request) -> str | None:
    """``DENY`` when a statement of any of the policies denies the request, else ``ALLOW`` when one allows it,
    else None (implicitly denied). ``None`` entries (no policy) are skipped."""
    allowed = False
    for text in policy_texts:
        if text is None:
            continue
        for statement in statements_of(text):
            if not _applies(statement, request):
                continue
            if statement["Effect"] == DENY:
                return DENY
            allowed = True
    return ALLOW if allowed else None


def statements_of(text: str) -> list[dict]:
    statements = json.loads(text)["Statement"]
    return [statements] if isinstance(statements, dict) else statements


def organization_key(statements: list[dict]) -> str | None:
    """The first condition key of the statements that needs AWS Organizations, as written; None when there is none."""
    for statement in statements:
        for entries in statement.get("Condition", {}).values():
            for key in entries:
                if key.lower() in ORGANIZATION_KEYS:
                    return key
    return None


def _listed(value) -> list:
    return [value] if not isinstance(value, list) else value


def _wildcard(pattern: str, value: str, case: bool = True) -> bool:
    """IAM matching: ``*`` is any run of characters, ``?`` any one; nothing else is special."""
    regex = ".*".join(".".join(re.escape(part) for part in piece.split("?")) for piece in pattern.split("*"))
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE | re.DOTALL) is not None


def _names_principal(principal, request: Request) -> bool:
    if principal == "*":
        return True
    for entry in _listed(principal.get("AWS", [])):
        if entry == "*" or entry == request.principal_account or entry == request.principal_arn:
            return True
        root = _ROOT.fullmatch(entry)
        if root is not None and root.group(1) == request.principal_account:
            return True
    return False


def _applies(statement: dict, request: Request) -> bool:
    if "Principal" in statement:
        if not _names_principal(statement["Principal"], request):
            return False
    elif _names_principal(statement["NotPrincipal"], request):
        return False
    if "Action" in statement:
        if not any(_wildcard(p, request.action, case=False) for p in _listed(statement["Action"])):
            return False
    elif any(_wildcard(p, request.action, case=False) for p in _listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(_wildcard(p, request.resource) for p in _listed(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(_wildcard(p, request.resource) for p in _listed(statement["NotResource"])):
            return False
    return all(_condition(operator, key, expected, request)
               for operator, entries in statement.get("Condition", {}).items()
               for key, expected in entries.items())


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


_STRING_TESTS = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringEqualsIgnoreCase": lambda pattern, value: pattern.lower() == value.lower(),
    "StringLike": _wildcard,
    "ArnEquals": lambda pattern, value: pattern == value,
    "ArnLike": _wildcard,
    "Bool": lambda pattern, value: pattern.lower() == value.lower(),
}
_NEGATED = {"StringNotEquals": "StringEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
            "StringNotLike": "StringLike", "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}


def _condition(operator: str, key: str, expected, request: Request) -> bool:
    """One condition key under one operator: true when the request's value matches any of the expected values (for
    a negated operator: none of them). An operator this module does not know never matches."""
    quantifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    expected = [_text(v) for v in _listed(expected)]
    value = request.context.get(key.lower())
    if operator == "Null":
        return (value is None) == (expected[0].lower() == "true")
    negated = operator in _NEGATED
    test = _STRING_TESTS.get(_NEGATED.get(operator, operator))
    if test is None:
        return False
    if value is None:
        return negated or if_exists or quantifier == "ForAllValues"
    matched = any(test(pattern, value) for pattern in expected)
    return not matched if negated else matched
