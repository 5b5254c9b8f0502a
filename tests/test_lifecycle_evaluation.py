"""Lifecycle policies at work: AWS's documented examples with their documented outcomes, the preview, and the
policy's own get and delete.

Each example builds its repository through PutImage while moving the model clock, so "pushed 10 days ago" is what
DescribeImages reports, then runs every policy with POST /_emulator/lifecycle/run and checks what is left.
"""

import hashlib
import itertools
import json

import pytest
from botocore.exceptions import ClientError

from ecr_emulator.models import lifecycle
from ecr_emulator.models.images import Image, ImageIndex
from ecr_emulator.specs import lifecycle_policy

REPO = "lc/examples"
DAY = 86400
# Ages are a minute short of whole days: an image "pushed 1 day ago" is not yet older than one day.
MARGIN = 60
_serial = itertools.count()


def manifest() -> str:
    """A Docker v2 manifest whose config digest is new on every call, so every image gets its own digest."""
    n = next(_serial)
    config = hashlib.sha256(f"lifecycle-config-{n}".encode()).hexdigest()
    layer = hashlib.sha256(f"lifecycle-layer-{n}".encode()).hexdigest()
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 100 + n,
                   "digest": f"sha256:{config}"},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1000 + n,
                    "digest": f"sha256:{layer}"}]})


class Repo:
    """A repository filled through the API, with the clock moved between pushes."""

    def __init__(self, emulator, name: str = REPO):
        self.emulator = emulator
        self.ecr = emulator.client
        self.name = name
        self.ecr.create_repository(repositoryName=name)
        self.digests: dict[str, str] = {}

    def advance(self, seconds: float) -> None:
        self.emulator.server.admin("/_emulator/clock", {"advance": seconds})

    def push(self, label: str, tags: list[str]) -> str:
        body = manifest()
        if not tags:
            reply = self.ecr.put_image(repositoryName=self.name, imageManifest=body)
        for tag in tags:
            reply = self.ecr.put_image(repositoryName=self.name, imageManifest=body, imageTag=tag)
        self.digests[label] = reply["image"]["imageId"]["imageDigest"]
        return self.digests[label]

    def fill(self, contents: list[tuple[str, list[str], float]]) -> None:
        """``(label, tags, days ago)`` in push order, oldest first; leaves the clock at "now"."""
        ages = [days * DAY - MARGIN for _, _, days in contents]
        for (label, tags, _), age, following in zip(contents, ages, ages[1:] + [0], strict=True):
            self.push(label, tags)
            self.advance(age - following)

    def policy(self, document: dict) -> None:
        self.ecr.put_lifecycle_policy(repositoryName=self.name, lifecyclePolicyText=json.dumps(document))

    def run(self) -> dict:
        return self.emulator.server.admin("/_emulator/lifecycle/run", {})

    def remaining(self) -> set[str]:
        """The labels of the images still in the repository, archived ones included."""
        by_digest = {d: label for label, d in self.digests.items()}
        ids = self.ecr.list_images(repositoryName=self.name, filter={"imageStatus": "ANY"})["imageIds"]
        return {by_digest[i["imageDigest"]] for i in ids}

    def details(self) -> dict[str, dict]:
        by_digest = {d: label for label, d in self.digests.items()}
        images = self.ecr.describe_images(repositoryName=self.name, filter={"imageStatus": "ANY"})["imageDetails"]
        return {by_digest[i["imageDigest"]]: i for i in images}

    def labels(self, entries: list[dict]) -> list[str]:
        by_digest = {d: label for label, d in self.digests.items()}
        return [by_digest[e["imageDigest"]] for e in entries]


def rule(priority: int, action: dict | None = None, **selection) -> dict:
    return {"rulePriority": priority, "description": f"Rule {priority}", "selection": selection,
            "action": action or {"type": "expire"}}


ARCHIVE = {"type": "transition", "targetStorageClass": "archive"}


@pytest.fixture
def repo(ecr_emulator):
    return Repo(ecr_emulator)


# -- "Examples of lifecycle policies in Amazon ECR", in the order of the page --------------------------------------

def test_filtering_on_image_age(repo):
    repo.fill([("old-prod", ["prod-1"], 20), ("old-dev", ["dev-1"], 20), ("old-untagged", [], 20),
               ("new-prod", ["prod-2"], 14)])
    repo.policy({"rules": [rule(1, tagStatus="tagged", tagPatternList=["prod*"], countType="sinceImagePushed",
                                countUnit="days", countNumber=14)]})
    report = repo.run()
    assert repo.labels(report["expired"]) == ["old-prod"]
    assert report["expired"][0]["imageTags"] == ["prod-1"]
    assert report["expired"][0]["appliedRulePriority"] == 1
    assert repo.remaining() == {"old-dev", "old-untagged", "new-prod"}


def test_filtering_on_last_pulled_time(repo):
    repo.push("never-pulled", ["a"])
    repo.push("pulled", ["b"])
    repo.advance(95 * DAY)
    repo.ecr.batch_get_image(repositoryName=REPO, imageIds=[{"imageTag": "b"}])
    repo.advance(5 * DAY)
    repo.push("fresh", ["c"])
    repo.policy({"rules": [rule(1, ARCHIVE, tagStatus="any", countType="sinceImagePulled", countUnit="days",
                                countNumber=90)]})
    report = repo.run()
    assert repo.labels(report["transitioned"]) == ["never-pulled"]
    assert report["transitioned"][0]["targetStorageClass"] == "ARCHIVE"
    assert report["expired"] == []
    details = repo.details()
    assert {label: d["imageStatus"] for label, d in details.items()} == {
        "never-pulled": "ARCHIVED", "pulled": "ACTIVE", "fresh": "ACTIVE"}


def test_filtering_on_archive_transition_time(repo):
    repo.fill([("a", ["v1"], 40), ("b", ["v2"], 10)])
    repo.policy({"rules": [
        rule(1, ARCHIVE, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=30),
        rule(2, tagStatus="any", storageClass="archive", countType="sinceImageTransitioned", countUnit="days",
             countNumber=365)]})
    assert repo.labels(repo.run()["transitioned"]) == ["a"]
    repo.advance(364 * DAY)
    report = repo.run()
    assert repo.labels(report["transitioned"]) == ["b"]
    assert report["expired"] == []
    repo.advance(2 * DAY)
    report = repo.run()
    assert repo.labels(report["expired"]) == ["a"]
    assert report["expired"][0]["appliedRulePriority"] == 2
    assert repo.remaining() == {"b"}
    assert repo.details()["b"]["imageStatus"] == "ARCHIVED"


def test_filtering_on_image_count(repo):
    repo.fill([("u1", [], 3), ("t1", ["latest"], 3), ("u2", [], 2), ("u3", [], 1)])
    repo.policy({"rules": [rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1)]})
    assert repo.labels(repo.run()["expired"]) == ["u1", "u2"]
    assert repo.remaining() == {"t1", "u3"}


BETA_PROD = [("A", ["beta-1", "prod-1"], 10), ("B", ["beta-2", "prod-2"], 9), ("C", ["beta-3"], 8)]


def test_multiple_rules_example_a(repo):
    repo.fill(BETA_PROD)
    repo.policy({"rules": [
        rule(1, tagStatus="tagged", tagPatternList=["prod*"], countType="imageCountMoreThan", countNumber=1),
        rule(2, tagStatus="tagged", tagPatternList=["beta*"], countType="imageCountMoreThan", countNumber=1)]})
    assert repo.labels(repo.run()["expired"]) == ["A"]
    assert repo.remaining() == {"B", "C"}


def test_multiple_rules_example_b(repo):
    repo.fill(BETA_PROD)
    repo.policy({"rules": [
        rule(1, tagStatus="tagged", tagPatternList=["beta*"], countType="imageCountMoreThan", countNumber=1),
        rule(2, tagStatus="tagged", tagPatternList=["prod*"], countType="imageCountMoreThan", countNumber=1)]})
    assert repo.labels(repo.run()["expired"]) == ["A", "B"]
    assert repo.remaining() == {"C"}


def test_multiple_tags_in_a_single_rule_example_a(repo):
    repo.fill([("A", ["alpha-1"], 12), ("B", ["beta-1"], 11), ("C", ["alpha-2", "beta-2"], 10),
               ("D", ["alpha-3"], 4), ("E", ["beta-3"], 3), ("F", ["alpha-4", "beta-4"], 2)])
    repo.policy({"rules": [rule(1, tagStatus="tagged", tagPatternList=["alpha*", "beta*"],
                                countType="sinceImagePushed", countNumber=5, countUnit="days")]})
    assert repo.labels(repo.run()["expired"]) == ["C"]
    assert repo.remaining() == {"A", "B", "D", "E", "F"}


def test_multiple_tags_in_a_single_rule_example_b(repo):
    repo.fill([("A", ["alpha-1", "beta-1", "gamma-1"], 10), ("B", ["alpha-2", "beta-2"], 9),
               ("C", ["alpha-3", "beta-3", "gamma-2"], 8)])
    repo.policy({"rules": [rule(1, tagStatus="tagged", tagPatternList=["alpha*", "beta*"],
                                countType="imageCountMoreThan", countNumber=1)]})
    assert repo.labels(repo.run()["expired"]) == ["A", "B"]
    assert repo.remaining() == {"C"}


def test_all_images_example_a(repo):
    repo.fill([("A", ["alpha-1"], 4), ("B", ["beta-1"], 3), ("C", [], 2), ("D", ["alpha-2"], 1)])
    repo.policy({"rules": [rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=1)]})
    assert repo.labels(repo.run()["expired"]) == ["A", "B", "C"]
    assert repo.remaining() == {"D"}


ALL_RULE_TYPES = {"rules": [
    rule(1, tagStatus="tagged", tagPatternList=["alpha*"], countType="imageCountMoreThan", countNumber=1),
    rule(2, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=1),
    rule(3, tagStatus="any", countType="imageCountMoreThan", countNumber=1)]}
ALL_RULE_TYPES_CONTENTS = [("A", ["alpha-1", "beta-1"], 4), ("B", [], 3), ("C", ["alpha-2"], 2),
                           ("D", ["git-hash"], 1), ("E", [], 1)]


def test_all_images_example_b(repo):
    repo.fill(ALL_RULE_TYPES_CONTENTS)
    repo.policy(ALL_RULE_TYPES)
    report = repo.run()
    priorities = [e["appliedRulePriority"] for e in report["expired"]]
    assert sorted(zip(repo.labels(report["expired"]), priorities, strict=True)) == [("A", 1), ("B", 2), ("D", 3)]
    assert repo.remaining() == {"C", "E"}


def test_archiving_images_older_than_a_number_of_days(repo):
    repo.fill([("old-prod", ["prod-1"], 31), ("old-dev", ["dev-1"], 31), ("new-prod", ["prod-2"], 29)])
    repo.policy({"rules": [rule(1, ARCHIVE, tagStatus="tagged", tagPatternList=["prod*"],
                                countType="sinceImagePushed", countUnit="days", countNumber=30)]})
    report = repo.run()
    assert repo.labels(report["transitioned"]) == ["old-prod"]
    details = repo.details()
    assert details["old-prod"]["imageStatus"] == "ARCHIVED"
    assert details["old-dev"]["imageStatus"] == details["new-prod"]["imageStatus"] == "ACTIVE"
    assert repo.run() == {"expired": [], "transitioned": []}


def test_run_touches_only_repositories_with_a_policy(ecr_emulator, repo):
    other = Repo(ecr_emulator, "lc/no-policy")
    other.fill([("x", [], 3), ("y", [], 2)])
    repo.fill([("u1", [], 3), ("u2", [], 2)])
    repo.policy({"rules": [rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1)]})
    report = repo.run()
    assert [(e["repositoryName"], e["registryId"]) for e in report["expired"]] == [(REPO, "123456789012")]
    assert other.remaining() == {"x", "y"}


# -- GetLifecyclePolicy / DeleteLifecyclePolicy -----------------------------------------------------------------

def test_put_get_delete_policy(repo):
    document = {"rules": [rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1)]}
    text = json.dumps(document)
    put = repo.ecr.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=text)
    assert (put["registryId"], put["repositoryName"], put["lifecyclePolicyText"]) == ("123456789012", REPO, text)
    got = repo.ecr.get_lifecycle_policy(repositoryName=REPO)
    assert got["lifecyclePolicyText"] == text and got["lastEvaluatedAt"].timestamp() == 0
    repo.run()
    evaluated = repo.ecr.get_lifecycle_policy(repositoryName=REPO)["lastEvaluatedAt"]
    deleted = repo.ecr.delete_lifecycle_policy(repositoryName=REPO)
    assert deleted["lifecyclePolicyText"] == text and deleted["lastEvaluatedAt"] == evaluated
    for call in (repo.ecr.get_lifecycle_policy, repo.ecr.delete_lifecycle_policy):
        with pytest.raises(ClientError) as info:
            call(repositoryName=REPO)
        assert info.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
        assert info.value.response["Error"]["Message"] == (
            f"Lifecycle policy does not exist for the repository with name '{REPO}' in the registry with id "
            f"'123456789012'")


def test_delete_of_a_policy_that_never_ran_carries_epoch_zero(repo):
    text = json.dumps({"rules": [rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1)]})
    repo.ecr.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=text)
    deleted = repo.ecr.delete_lifecycle_policy(repositoryName=REPO)
    assert deleted["lastEvaluatedAt"].timestamp() == 0


def test_policy_of_missing_repository(ecr):
    for call in (ecr.get_lifecycle_policy, ecr.delete_lifecycle_policy, ecr.get_lifecycle_policy_preview,
                 ecr.start_lifecycle_policy_preview):
        with pytest.raises(ClientError) as info:
            call(repositoryName="lc/absent")
        assert info.value.response["Error"]["Code"] == "RepositoryNotFoundException"


# -- the preview ----------------------------------------------------------------------------------------------

def test_preview_changes_nothing_and_reports_what_a_run_does(repo):
    repo.fill(ALL_RULE_TYPES_CONTENTS)
    repo.policy(ALL_RULE_TYPES)
    started = repo.ecr.start_lifecycle_policy_preview(repositoryName=REPO)
    assert started["status"] == "IN_PROGRESS"
    assert started["lifecyclePolicyText"] == json.dumps(ALL_RULE_TYPES)
    preview = repo.ecr.get_lifecycle_policy_preview(repositoryName=REPO)
    assert preview["status"] == "COMPLETE"
    assert repo.remaining() == {"A", "B", "C", "D", "E"}
    assert repo.ecr.get_lifecycle_policy(repositoryName=REPO)["lastEvaluatedAt"].timestamp() == 0
    results = {repo.labels([r])[0]: r for r in preview["previewResults"]}
    assert {label: r["appliedRulePriority"] for label, r in results.items()} == {"A": 1, "B": 2, "D": 3}
    assert results["A"]["imageTags"] == ["alpha-1", "beta-1"]
    assert results["B"]["imageTags"] == []
    assert results["A"]["action"] == {"type": "EXPIRE"}
    assert results["A"]["storageClass"] == "STANDARD"
    assert results["A"]["imagePushedAt"] == repo.details()["A"]["imagePushedAt"]
    assert preview["summary"] == {"expiringImageTotalCount": 3}
    assert sorted(repo.labels(repo.run()["expired"])) == sorted(results)


def test_preview_of_a_given_policy_with_transitions(repo):
    repo.fill([("a", ["v1"], 40), ("b", ["v2"], 35), ("c", [], 40), ("d", ["v3"], 1)])
    document = {"rules": [
        rule(1, tagStatus="untagged", countType="sinceImagePushed", countUnit="days", countNumber=30),
        rule(2, ARCHIVE, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=30)]}
    started = repo.ecr.start_lifecycle_policy_preview(repositoryName=REPO, lifecyclePolicyText=json.dumps(document))
    assert started["lifecyclePolicyText"] == json.dumps(document)
    preview = repo.ecr.get_lifecycle_policy_preview(repositoryName=REPO)
    assert preview["summary"] == {"expiringImageTotalCount": 1, "transitioningImageTotalCounts": [
        {"targetStorageClass": "ARCHIVE", "imageTotalCount": 2}]}
    actions = {repo.labels([r])[0]: r["action"] for r in preview["previewResults"]}
    assert actions == {"c": {"type": "EXPIRE"}, "a": {"type": "TRANSITION", "targetStorageClass": "ARCHIVE"},
                       "b": {"type": "TRANSITION", "targetStorageClass": "ARCHIVE"}}
    with pytest.raises(ClientError) as info:
        repo.ecr.get_lifecycle_policy(repositoryName=REPO)
    assert info.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
    assert {d["imageStatus"] for d in repo.details().values()} == {"ACTIVE"}


def test_preview_filters_and_pages(repo):
    repo.fill([(f"t{i}", [f"v{i}"], 10) for i in range(5)] + [(f"u{i}", [], 10) for i in range(3)]
              + [("keep", ["latest"], 1)])
    repo.policy({"rules": [rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=1)]})
    repo.ecr.start_lifecycle_policy_preview(repositoryName=REPO)
    pages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = repo.ecr.get_lifecycle_policy_preview(repositoryName=REPO, maxResults=3, **kwargs)
        assert len(page["previewResults"]) <= 3
        assert page["summary"] == {"expiringImageTotalCount": 8}
        pages.append(repo.labels(page["previewResults"]))
        token = page.get("nextToken")
        if token is None:
            break
    assert pages == [["t0", "t1", "t2"], ["t3", "t4", "u0"], ["u1", "u2"]]
    untagged = repo.ecr.get_lifecycle_policy_preview(repositoryName=REPO, filter={"tagStatus": "UNTAGGED"})
    assert repo.labels(untagged["previewResults"]) == ["u0", "u1", "u2"]
    tagged = repo.ecr.get_lifecycle_policy_preview(repositoryName=REPO, filter={"tagStatus": "TAGGED"})
    assert repo.labels(tagged["previewResults"]) == ["t0", "t1", "t2", "t3", "t4"]
    chosen = repo.ecr.get_lifecycle_policy_preview(
        repositoryName=REPO, imageIds=[{"imageTag": "v3"}, {"imageDigest": repo.digests["u1"]},
                                       {"imageTag": "latest"}])
    assert repo.labels(chosen["previewResults"]) == ["t3", "u1"]
    paginator = repo.ecr.get_paginator("get_lifecycle_policy_preview")
    flat = [r for page in paginator.paginate(repositoryName=REPO, PaginationConfig={"PageSize": 2})
            for r in page["previewResults"]]
    assert len(flat) == 8


def test_preview_paging_faults(repo):
    repo.policy({"rules": [rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1)]})
    repo.ecr.start_lifecycle_policy_preview(repositoryName=REPO)
    with pytest.raises(ClientError) as info:
        repo.ecr.get_lifecycle_policy_preview(repositoryName=REPO, nextToken="not-a-token")
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        repo.ecr.get_lifecycle_policy_preview(repositoryName=REPO, maxResults=2, imageIds=[{"imageTag": "x"}])
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"


def test_preview_not_found_and_in_progress(repo):
    with pytest.raises(ClientError) as info:
        repo.ecr.get_lifecycle_policy_preview(repositoryName=REPO)
    assert info.value.response["Error"]["Code"] == "LifecyclePolicyPreviewNotFoundException"
    with pytest.raises(ClientError) as info:
        repo.ecr.start_lifecycle_policy_preview(repositoryName=REPO)
    assert info.value.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
    repo.policy({"rules": [rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1)]})
    repo.ecr.start_lifecycle_policy_preview(repositoryName=REPO)
    with pytest.raises(ClientError) as info:
        repo.ecr.start_lifecycle_policy_preview(repositoryName=REPO)
    assert info.value.response["Error"]["Code"] == "LifecyclePolicyPreviewInProgressException"
    assert repo.ecr.get_lifecycle_policy_preview(repositoryName=REPO)["status"] == "COMPLETE"
    assert repo.ecr.start_lifecycle_policy_preview(repositoryName=REPO)["status"] == "IN_PROGRESS"


# -- evaluation on model objects ------------------------------------------------------------------------------

def _index(*specs) -> ImageIndex:
    index = ImageIndex()
    for n, (tags, pushed_at) in enumerate(specs):
        image = Image(f"sha256:{n:064x}", b"{}", "application/vnd.oci.image.manifest.v1+json", pushed_at, 1)
        index.add(image)
        for tag in tags:
            index.tag(image, tag)
    return index


def _policy(*rules) -> dict:
    return lifecycle_policy.parse(json.dumps({"rules": list(rules)}))


def test_patterns_prefixes_and_every_entry_must_match():
    index = _index((["repo-production"], 0), (["prod-team", "x"], 1), (["team"], 2), (["v1-rc", "stable"], 3))
    by_pattern = lifecycle.evaluate(
        _policy(rule(1, tagStatus="tagged", tagPatternList=["*prod*"], countType="imageCountMoreThan",
                     countNumber=1)), index, 10)
    assert [r.tags for r in by_pattern] == [("repo-production",)]
    by_prefix = lifecycle.evaluate(
        _policy(rule(1, tagStatus="tagged", tagPrefixList=["v1", "st"], countType="sinceImagePushed",
                     countUnit="days", countNumber=1)), index, 3 + 2 * DAY)
    assert [r.tags for r in by_prefix] == [("v1-rc", "stable")]


def test_pull_time_and_transition_time_are_the_ages_measured():
    index = _index(([], 0), ([], 0), ([], 0))
    never, recently, archived = list(index)
    recently.last_pull = 80 * DAY
    archived.storage_class, archived.transitioned_at = "ARCHIVE", 50 * DAY
    pulled = lifecycle.evaluate(_policy(rule(1, ARCHIVE, tagStatus="any", countType="sinceImagePulled",
                                             countUnit="days", countNumber=90)), index, 100 * DAY)
    assert [(r.image, r.action, r.target_storage_class) for r in pulled] == [(never, "transition", "ARCHIVE")]
    expiring = _policy(rule(1, tagStatus="any", storageClass="archive", countType="sinceImageTransitioned",
                            countUnit="days", countNumber=90))
    assert lifecycle.evaluate(expiring, index, 139 * DAY) == []
    assert [r.image for r in lifecycle.evaluate(expiring, index, 141 * DAY)] == [archived]


def test_images_named_by_a_remaining_manifest_list_are_spared():
    index = _index(([], 0), ([], 1), (["multi"], 2))
    child, loose, parent = list(index)
    parent.children = (child.digest,)
    untagged = _policy(rule(1, tagStatus="untagged", countType="imageCountMoreThan", countNumber=1))
    assert lifecycle.evaluate(untagged, index, 10) == []
    newest_only = _policy(rule(1, tagStatus="any", countType="imageCountMoreThan", countNumber=1))
    assert [r.image for r in lifecycle.evaluate(newest_only, index, 10)] == [loose]
    all_old = _policy(rule(1, tagStatus="any", countType="sinceImagePushed", countUnit="days", countNumber=1))
    assert [r.image for r in lifecycle.evaluate(all_old, index, 2 * DAY)] == [child, loose, parent]


def test_lifecycle_interval_flag(monkeypatch):
    from ecr_emulator import cli

    assert cli.parse_args([]).lifecycle_interval is None
    assert cli.parse_args(["--lifecycle-interval", "2.5"]).lifecycle_interval == 2.5
    monkeypatch.setenv("ECR_EMULATOR_LIFECYCLE_INTERVAL", "60")
    assert cli.parse_args([]).lifecycle_interval == 60.0
    with pytest.raises(SystemExit):
        cli.parse_args(["--lifecycle-interval", "0"])
