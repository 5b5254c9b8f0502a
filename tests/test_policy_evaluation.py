"""IAM evaluation of resource-based policies (models/policy_evaluation.py), statement element by element."""

import json

import pytest

from ecr_emulator.models.policy_evaluation import ALLOW, DENY, account_request, evaluate

A, B = "111111111111", "222222222222"
ARN = f"arn:aws:ecr:us-east-1:{A}:repository/team/app"


def decide(*statements, caller=B, action="ecr:BatchGetImage", resource=ARN, context=None):
    return evaluate([json.dumps({"Version": "2012-10-17", "Statement": list(statements)})],
                    account_request(caller, action, resource, context))


def allow(**extra):
    return {"Effect": "Allow", "Principal": {"AWS": B}, "Action": "ecr:BatchGetImage", **extra}


def test_no_policy_and_no_statement_decide_nothing():
    assert evaluate([None], account_request(B, "ecr:BatchGetImage", ARN)) is None
    assert decide(allow(Principal={"AWS": A})) is None


def test_explicit_deny_wins_over_allow_in_any_order_and_across_policies():
    deny = {"Effect": "Deny", "Principal": "*", "Action": "ecr:*"}
    assert decide(allow(), deny) == DENY and decide(deny, allow()) == DENY
    allowing = json.dumps({"Statement": [allow()]})
    denying = json.dumps({"Statement": deny})
    assert evaluate([allowing, denying], account_request(B, "ecr:BatchGetImage", ARN)) == DENY
    assert evaluate([allowing, None], account_request(B, "ecr:BatchGetImage", ARN)) == ALLOW


@pytest.mark.parametrize("principal, expected", [
    ("*", ALLOW), ({"AWS": "*"}, ALLOW), ({"AWS": B}, ALLOW), ({"AWS": [A, B]}, ALLOW),
    ({"AWS": f"arn:aws:iam::{B}:root"}, ALLOW), ({"AWS": f"arn:aws:iam::{A}:root"}, None),
    # An IAM user or role names that identity only, not the account's root that a caller is here.
    ({"AWS": f"arn:aws:iam::{B}:role/puller"}, None), ({"Service": "ecs.amazonaws.com"}, None),
])
def test_principal(principal, expected):
    assert decide(allow(Principal=principal)) == expected


def test_not_principal_covers_everyone_else():
    statement = {"Effect": "Allow", "NotPrincipal": {"AWS": A}, "Action": "ecr:*"}
    assert decide(statement) == ALLOW
    assert decide(statement, caller=A) is None


@pytest.mark.parametrize("actions, expected", [
    ("ecr:BatchGetImage", ALLOW), ("ECR:batchgetimage", ALLOW), ("ecr:BatchGet*", ALLOW), ("ecr:Batch?etImage", ALLOW),
    ("*", ALLOW), (["ecr:PutImage", "ecr:Batch*"], ALLOW), ("ecr:BatchGet", None), ("ecr:Put*", None),
])
def test_action_wildcards(actions, expected):
    assert decide(allow(Action=actions)) == expected


def test_not_action():
    statement = {"Effect": "Allow", "Principal": "*", "NotAction": ["ecr:Put*", "ecr:Delete*"]}
    assert decide(statement) == ALLOW
    assert decide(statement, action="ecr:PutImage") is None


def test_resource_and_not_resource():
    assert decide(allow(Resource=f"arn:aws:ecr:us-east-1:{A}:repository/team/*")) == ALLOW
    assert decide(allow(Resource=f"arn:aws:ecr:us-east-1:{A}:repository/other")) is None
    assert decide(allow(Resource="arn:aws:ecr:*:*:repository/Team/*")) is None  # resources are case-sensitive
    assert decide(allow(NotResource=f"arn:aws:ecr:us-east-1:{A}:repository/private-*")) == ALLOW
    assert decide(allow(NotResource=f"arn:aws:ecr:us-east-1:{A}:repository/team/*")) is None


@pytest.mark.parametrize("condition, expected", [
    ({"StringEquals": {"aws:PrincipalAccount": B}}, ALLOW),
    ({"StringEquals": {"aws:principalaccount": [A, B]}}, ALLOW),
    ({"StringEquals": {"aws:PrincipalAccount": A}}, None),
    ({"StringNotEquals": {"aws:PrincipalAccount": A}}, ALLOW),
    ({"StringNotEquals": {"aws:PrincipalAccount": B}}, None),
    ({"StringLike": {"aws:PrincipalAccount": "2222*"}}, ALLOW),
    ({"StringNotLike": {"aws:PrincipalAccount": "2222*"}}, None),
    ({"StringEqualsIgnoreCase": {"aws:PrincipalType": "account"}}, ALLOW),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}, ALLOW),
    ({"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{A}:root"}}, None),
    ({"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{A}:*"}}, ALLOW),
    # A key the request lacks: only negated operators, IfExists and Null match.
    ({"StringEquals": {"aws:SourceAccount": B}}, None),
    ({"StringEqualsIfExists": {"aws:SourceAccount": B}}, ALLOW),
    ({"StringNotEquals": {"aws:SourceAccount": B}}, ALLOW),
    ({"Null": {"aws:SourceAccount": "true"}}, ALLOW),
    ({"Null": {"aws:PrincipalAccount": "true"}}, None),
    # Every operator and every key must match; any one value of a key is enough.
    ({"StringEquals": {"aws:PrincipalAccount": B}, "StringLike": {"aws:PrincipalArn": "*:role/*"}}, None),
    ({"NumericLessThan": {"aws:PrincipalAccount": "3"}}, None),
])
def test_conditions(condition, expected):
    assert decide(allow(Condition=condition)) == expected


def test_source_account_from_the_request_context():
    statement = allow(Condition={"StringEquals": {"aws:SourceAccount": B}})
    assert decide(statement, context={"aws:SourceAccount": B}) == ALLOW
    assert decide(statement, context={"aws:SourceAccount": A}) is None


def test_a_deny_with_a_condition_applies_only_when_it_holds():
    deny = {"Effect": "Deny", "Principal": "*", "Action": "ecr:*",
            "Condition": {"StringNotEquals": {"aws:PrincipalAccount": [A]}}}
    assert decide(allow(), deny) == DENY
    assert decide({**allow(), "Principal": "*"}, deny, caller=A) == ALLOW
