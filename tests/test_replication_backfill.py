"""Replication backfills through boto3 against a live server: what a backfill copies and reports, its paging,
retention and faults, and its survival across a restart. The operations came with botocore 1.44, so these tests skip
under an older botocore (CI installs the latest, where they run); the registration test runs under any."""

import uuid

import botocore
import pytest
from botocore.exceptions import ClientError

import sample_manifests as m
from ecr_emulator import handlers
from ecr_emulator.specs import model
from ecr_emulator.testing import running_server
from helpers import error_of, push, raw_call
from test_replication import ACCOUNT, AWAY, HOME, OTHER, configure, destination, registry_policy, rule, statuses

needs_backfills = pytest.mark.skipif(
    "StartReplicationBackfill" not in model.operations(),
    reason=f"botocore {botocore.__version__} predates the replication backfill operations (added in 1.44)")

DAY = 24 * 3600


def start(ecr, dest: dict | None = None) -> dict:
    return ecr.start_replication_backfill(destination=dest or destination())


def describe(ecr, backfill_id: str, **kwargs) -> dict:
    return ecr.describe_replication_backfill_results(replicationBackfillId=backfill_id, **kwargs)


def outcomes(reply: dict) -> dict:
    """(repository, digest, tag) -> (status, failureCode) of each result."""
    return {(r["repositoryName"], r["imageId"]["imageDigest"], r["imageId"].get("imageTag")):
            (r["status"], r.get("failureCode")) for r in reply["results"]}


def progress(total: int, completed: int, failed: int, codes=()) -> dict:
    return {"totalReplicationCount": total, "completedReplicationCount": completed,
            "failedReplicationCount": failed, "failureCodes": list(codes)}


def test_optional_operations_register_only_when_the_model_has_them():
    handlers.load()
    for name in ("StartReplicationBackfill", "DescribeReplicationBackfillResults", "ListReplicationBackfills",
                 "StopReplicationBackfill"):
        assert (handlers.handler_for(name) is not None) == (name in model.operations())

    def handler(ctx, params):
        return {}

    assert handlers.operation("NoSuchOperation", optional=True)(handler) is handler
    assert handlers.handler_for("NoSuchOperation") is None
    with pytest.raises(ValueError, match="NoSuchOperation is not an operation of the ECR model"):
        handlers.operation("NoSuchOperation")


@needs_backfills
def test_backfill_copies_existing_images_of_the_routed_repositories(ecr, away):
    ecr.create_repository(repositoryName="team/app")
    ecr.create_repository(repositoryName="dev/tool")
    old = push(ecr, m.docker("old"), "v1", repo="team/app")
    push(ecr, m.docker("old"), "v2", repo="team/app")
    untagged_manifest = m.oci("untagged")
    untagged = push(ecr, untagged_manifest, repo="team/app")
    push(ecr, m.docker("tool"), "v1", repo="dev/tool")
    configure(ecr, rule(prefixes=("team/",)), rule(destination("us-west-2")))
    pushed = push(ecr, m.docker("new"), "new", repo="team/app")  # replicated by the push itself
    assert away.describe_images(repositoryName="team/app")["imageDetails"][0]["imageDigest"] == pushed

    started = start(ecr)
    backfill_id = started["replicationBackfillId"]
    assert uuid.UUID(backfill_id).version == 4 and str(uuid.UUID(backfill_id)) == backfill_id
    assert (started["registryId"], started["destination"], started["status"]) == (
        ACCOUNT, destination(), "COMPLETE")

    reply = describe(ecr, backfill_id)
    assert (reply["registryId"], reply["replicationBackfillId"], reply["status"]) == (ACCOUNT, backfill_id, "COMPLETE")
    assert reply["destination"] == destination() and "failureCode" not in reply and "nextToken" not in reply
    assert reply["startedAt"] == started["startedAt"] == reply["endedAt"]
    assert reply["progress"] == progress(4, 4, 0)
    # One result per image and tag; dev/tool is routed only to us-west-2, so it is not part of this backfill.
    assert outcomes(reply) == {("team/app", old, "v1"): ("COMPLETE", None), ("team/app", old, "v2"): ("COMPLETE", None),
                               ("team/app", untagged, None): ("COMPLETE", None),
                               ("team/app", pushed, "new"): ("COMPLETE", None)}
    assert all("subImageFailureCodes" not in r for r in reply["results"])

    # The copies are really in the destination, tags included; the already replicated image is there once.
    by_digest = {d["imageDigest"]: sorted(d.get("imageTags", []))
                 for d in away.describe_images(repositoryName="team/app")["imageDetails"]}
    assert by_digest == {old: ["v1", "v2"], untagged: [], pushed: ["new"]}
    [image] = away.batch_get_image(repositoryName="team/app", imageIds=[{"imageDigest": untagged}])["images"]
    assert image["imageManifest"] == untagged_manifest
    assert [r["repositoryName"] for r in away.describe_repositories()["repositories"]] == ["team/app"]
    # Each image now has its replication status for the destination, as a push would record it.
    assert statuses(ecr, "team/app", {"imageTag": "v1"}) == [
        {"region": AWAY, "registryId": ACCOUNT, "status": "COMPLETE"}]

    # Another destination gets its own backfill, and its own copies.
    west = start(ecr, destination("us-west-2"))
    assert describe(ecr, west["replicationBackfillId"])["progress"] == progress(5, 5, 0)
    assert statuses(ecr, "dev/tool", {"imageTag": "v1"}) == [
        {"region": "us-west-2", "registryId": ACCOUNT, "status": "COMPLETE"}]


@needs_backfills
def test_backfill_reports_failed_copies_and_retries_what_a_push_could_not_copy(ecr, other, repo):
    configure(ecr, rule(destination(HOME, OTHER)))
    denied = push(ecr, m.docker("denied"), "v1")
    assert statuses(ecr, repo, {"imageTag": "v1"})[0]["failureCode"] == "REPLICATE_IMAGE_ACCESS_DENIED"

    failing = start(ecr, destination(HOME, OTHER))
    reply = describe(ecr, failing["replicationBackfillId"])
    # Under AWS's threshold (half of at least 100 replications) a failed copy leaves the backfill COMPLETE.
    assert (reply["status"], failing["status"]) == ("COMPLETE", "COMPLETE") and "failureCode" not in reply
    assert reply["progress"] == progress(1, 0, 1, ["REPLICATE_IMAGE_ACCESS_DENIED"])
    assert outcomes(reply) == {("app", denied, "v1"): ("FAILED", "REPLICATE_IMAGE_ACCESS_DENIED")}
    assert other.describe_repositories()["repositories"] == []

    other.put_registry_policy(policyText=registry_policy(ACCOUNT))
    retried = describe(ecr, start(ecr, destination(HOME, OTHER))["replicationBackfillId"])
    assert outcomes(retried) == {("app", denied, "v1"): ("COMPLETE", None)}
    assert retried["progress"] == progress(1, 1, 0)
    [detail] = other.describe_images(repositoryName="app")["imageDetails"]
    assert (detail["imageDigest"], detail["imageTags"]) == (denied, ["v1"])
    assert statuses(ecr, repo, {"imageTag": "v1"}) == [{"region": HOME, "registryId": OTHER, "status": "COMPLETE"}]
    # The first backfill's results are its own: they do not change afterwards.
    assert outcomes(describe(ecr, failing["replicationBackfillId"]))[("app", denied, "v1")][0] == "FAILED"


@needs_backfills
def test_immutable_tags_sub_image_failures_result_filter_and_paging(ecr_emulator, ecr, away, repo):
    away.create_repository(repositoryName="app", imageTagMutability="IMMUTABLE")
    theirs = push(away, m.oci("theirs"), "amd")
    amd, arm = m.oci("amd"), m.oci("arm")
    amd_digest = push(ecr, amd, "amd")
    arm_digest = push(ecr, arm, "arm")
    listed = push(ecr, m.index([amd, arm]), "multi")
    push(ecr, m.index([amd, arm]), "also")
    configure(ecr, rule())
    reply = describe(ecr, start(ecr)["replicationBackfillId"])
    assert reply["status"] == "COMPLETE"
    assert reply["progress"] == progress(4, 3, 1, ["IMAGE_TAG_IMMUTABLE"])
    assert outcomes(reply) == {("app", amd_digest, "amd"): ("FAILED", "IMAGE_TAG_IMMUTABLE"),
                               ("app", arm_digest, "arm"): ("COMPLETE", None),
                               ("app", listed, "multi"): ("COMPLETE", None),
                               ("app", listed, "also"): ("COMPLETE", None)}
    lists = [r for r in reply["results"] if r["imageId"]["imageDigest"] == listed]
    assert [r["subImageFailureCodes"] for r in lists] == [["IMAGE_TAG_IMMUTABLE"]] * 2
    # As for a push, the image is copied without the tag, which keeps pointing at the destination's own image.
    by_digest = {d["imageDigest"]: sorted(d.get("imageTags", []))
                 for d in away.describe_images(repositoryName="app")["imageDetails"]}
    assert by_digest == {theirs: ["amd"], amd_digest: [], arm_digest: ["arm"], listed: ["also", "multi"]}

    backfill_id = reply["replicationBackfillId"]
    failed = describe(ecr, backfill_id, resultStatusFilter="FAILED")
    assert list(outcomes(failed)) == [("app", amd_digest, "amd")] and "nextToken" not in failed
    assert failed["progress"] == reply["progress"]
    completed = describe(ecr, backfill_id, resultStatusFilter="COMPLETE", maxResults=2)
    assert [r["imageId"]["imageTag"] for r in completed["results"]] == ["arm", "multi"]
    rest = describe(ecr, backfill_id, resultStatusFilter="COMPLETE", maxResults=2, nextToken=completed["nextToken"])
    assert [r["imageId"]["imageTag"] for r in rest["results"]] == ["also"] and "nextToken" not in rest
    pages, token = [], None
    while True:
        page = describe(ecr, backfill_id, maxResults=1, **({"nextToken": token} if token else {}))
        pages += page["results"]
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == reply["results"]
    paginated = ecr.get_paginator("describe_replication_backfill_results").paginate(
        replicationBackfillId=backfill_id, PaginationConfig={"PageSize": 3})
    assert [r for p in paginated for r in p["results"]] == reply["results"]
    for token in ("not-a-token", "LTE="):  # the second is a well-formed token for position -1
        with pytest.raises(ClientError) as exc:
            describe(ecr, backfill_id, nextToken=token)
        assert error_of(exc) == ("InvalidParameterException",
                                 "Invalid parameter at 'nextToken' failed to satisfy constraint: "
                                 "'The nextToken is not valid'")


@needs_backfills
def test_a_backfill_fails_when_half_of_at_least_a_hundred_replications_failed(ecr, other, repo):
    for n in range(101):
        push(ecr, m.docker(f"image-{n}"))
    configure(ecr, rule(destination(HOME, OTHER)))
    started = start(ecr, destination(HOME, OTHER))
    assert started["status"] == "FAILED"
    reply = describe(ecr, started["replicationBackfillId"], maxResults=1000)
    assert (reply["status"], reply["failureCode"]) == ("FAILED", "REPLICATION_FAILURE_THRESHOLD_EXCEEDED")
    # The threshold is met after 100 replications, so the 101st image is never copied.
    assert reply["progress"] == progress(101, 0, 100, ["REPLICATE_IMAGE_ACCESS_DENIED"])
    assert len(reply["results"]) == 100 and "nextToken" not in reply
    [summary] = ecr.list_replication_backfills()["backfills"]
    assert (summary["status"], summary["failureCode"]) == ("FAILED", "REPLICATION_FAILURE_THRESHOLD_EXCEEDED")


@needs_backfills
@pytest.mark.parametrize("config", [
    [], [rule(destination("us-west-2"))], [rule(destination(HOME, OTHER))], [rule(destination(AWAY, OTHER))]])
def test_a_destination_outside_the_configuration_is_refused(ecr, repo, config):
    push(ecr, m.docker("kept"), "v1")
    configure(ecr, *config)
    with pytest.raises(ClientError) as exc:
        start(ecr)
    assert error_of(exc) == ("InvalidParameterException",
                             "Invalid parameter at 'destination' failed to satisfy constraint: 'The destination "
                             f"(region {AWAY}, registry {ACCOUNT}) is not in the registry's replication "
                             "configuration'")
    assert ecr.list_replication_backfills()["backfills"] == []


@needs_backfills
def test_list_pages_oldest_first_and_drops_backfills_ninety_days_after_they_end(ecr_emulator, ecr, away, other):
    configure(ecr, rule(destination(), destination("us-west-2")))
    # One backfill per destination Region may be in progress; these all ended at once, so a new one may start.
    first = [start(ecr, destination(region)) for region in (AWAY, AWAY, "us-west-2")]
    reply = ecr.list_replication_backfills(maxResults=2)
    assert reply["registryId"] == ACCOUNT
    assert [b["replicationBackfillId"] for b in reply["backfills"]] == [b["replicationBackfillId"] for b in first[:2]]
    summary = reply["backfills"][0]
    assert set(summary) == {"replicationBackfillId", "destination", "status", "progress", "startedAt", "endedAt"}
    assert (summary["status"], summary["progress"], summary["endedAt"]) == (
        "COMPLETE", progress(0, 0, 0), first[0]["startedAt"])
    rest = ecr.list_replication_backfills(maxResults=2, nextToken=reply["nextToken"])
    assert [b["replicationBackfillId"] for b in rest["backfills"]] == [first[2]["replicationBackfillId"]]
    assert "nextToken" not in rest
    assert len({b["replicationBackfillId"] for b in first}) == 3
    # Backfills belong to their registry: another Region or account has none.
    assert away.list_replication_backfills()["backfills"] == []
    assert other.list_replication_backfills()["backfills"] == []
    assert ecr.list_replication_backfills(registryId=ACCOUNT)["backfills"] == reply["backfills"] + rest["backfills"]

    ecr_emulator.admin("/_emulator/clock", {"advance": 89 * DAY})
    later = start(ecr)
    assert len(ecr.list_replication_backfills()["backfills"]) == 4
    ecr_emulator.admin("/_emulator/clock", {"advance": 2 * DAY})
    assert [b["replicationBackfillId"] for b in ecr.list_replication_backfills()["backfills"]] == [
        later["replicationBackfillId"]]
    for call in (ecr.describe_replication_backfill_results, ecr.stop_replication_backfill):
        with pytest.raises(ClientError) as exc:
            call(replicationBackfillId=first[0]["replicationBackfillId"])
        assert error_of(exc)[0] == "ReplicationBackfillNotFoundException"
    assert describe(ecr, later["replicationBackfillId"])["status"] == "COMPLETE"


@needs_backfills
def test_list_page_size_is_at_most_fifty(ecr_emulator):
    status, body, _ = raw_call(ecr_emulator.endpoint, "ListReplicationBackfills", {"maxResults": 51})
    assert status == 400 and "less than or equal to 50" in body["message"]
    status, body, _ = raw_call(ecr_emulator.endpoint, "ListReplicationBackfills", {"nextToken": "bm90IGFuIGludA=="})
    assert (status, body["__type"]) == (400, "InvalidParameterException")


@needs_backfills
def test_describe_and_stop_faults(ecr, other, repo):
    configure(ecr, rule())
    push(ecr, m.docker("x"), "v1")
    backfill_id = start(ecr)["replicationBackfillId"]
    missing = str(uuid.uuid4())
    for call in (ecr.describe_replication_backfill_results, ecr.stop_replication_backfill):
        with pytest.raises(ClientError) as exc:
            call(replicationBackfillId=missing)
        assert error_of(exc) == ("ReplicationBackfillNotFoundException",
                                 f"The replication backfill with id '{missing}' does not exist in the registry with "
                                 f"id '{ACCOUNT}'")
        # Another account's registry does not hold this backfill.
        with pytest.raises(ClientError) as exc:
            getattr(other, call.__name__)(replicationBackfillId=backfill_id)
        assert error_of(exc)[0] == "ReplicationBackfillNotFoundException"
    with pytest.raises(ClientError) as exc:
        ecr.stop_replication_backfill(replicationBackfillId=backfill_id)
    assert error_of(exc) == ("ReplicationBackfillInvalidStatusException",
                             f"The replication backfill with id '{backfill_id}' cannot be stopped because its "
                             "status is COMPLETE; only a PREPARING or IN_PROGRESS backfill can be stopped")
    assert describe(ecr, backfill_id)["status"] == "COMPLETE"


@needs_backfills
def test_backfills_survive_a_restart_with_their_ids(tmp_path):
    state = str(tmp_path / "state")
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        ecr.create_repository(repositoryName="app")
        digest = push(ecr, m.docker("kept"), "v1")
        configure(ecr, rule())
        backfill_id = start(ecr)["replicationBackfillId"]
        before = describe(ecr, backfill_id)
    with running_server("--state-dir", state) as server:
        ecr = server.client()
        after = describe(ecr, backfill_id)
        assert {k: v for k, v in after.items() if k != "ResponseMetadata"} == {
            k: v for k, v in before.items() if k != "ResponseMetadata"}
        assert [b["replicationBackfillId"] for b in ecr.list_replication_backfills()["backfills"]] == [backfill_id]
        away = server.client(region=AWAY)
        assert [d["imageDigest"] for d in away.describe_images(repositoryName="app")["imageDetails"]] == [digest]
