"""mock_ecr: ECR clients answered in-process (decorator on functions and classes, context manager, nesting, clients
made before activation, region and account from the client), beside moto's mock_aws, and its control API."""

import datetime
import io
import json
import subprocess
import sys
import unittest

import boto3
import botocore.config
import botocore.exceptions
import pytest
from moto import mock_aws

from ecr_emulator import mock_ecr
from ecr_emulator.mock import ArchiveError
from helpers import error_of
from sample_manifests import docker

NO_RETRY = botocore.config.Config(retries={"max_attempts": 1})


def client(region="us-east-1", account="testing", **kwargs):
    return boto3.client("ecr", region_name=region, aws_access_key_id=account, aws_secret_access_key="testing",
                        config=NO_RETRY, **kwargs)


def names(ecr) -> list[str]:
    return sorted(r["repositoryName"] for r in ecr.describe_repositories()["repositories"])


@mock_ecr
def test_bare_decorator_answers_with_the_emulator():
    ecr = client()
    repo = ecr.create_repository(repositoryName="team/app")["repository"]
    assert repo["repositoryUri"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app"
    with pytest.raises(ecr.exceptions.RepositoryNotFoundException) as caught:
        ecr.describe_repositories(repositoryNames=["missing"])
    assert error_of(caught) == ("RepositoryNotFoundException", "The repository with name 'missing' does not exist "
                                                               "in the registry with id '123456789012'")


@mock_ecr()
def test_called_decorator_validates_like_the_server():
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client().create_repository(repositoryName="Upper")
    code, message = error_of(caught)
    assert code == "InvalidParameterException" and "'repositoryName' failed to satisfy constraint" in message


def test_each_activation_starts_empty_and_ends_clean():
    with mock_ecr():
        client().create_repository(repositoryName="first")
        assert names(client()) == ["first"]
    with mock_ecr() as mock:
        assert names(mock.client()) == []


def test_nested_activations_share_one_state():
    with mock_ecr():
        client().create_repository(repositoryName="outer")
        with mock_ecr():
            client().create_repository(repositoryName="inner")
            assert names(client()) == ["inner", "outer"]
        assert names(client()) == ["inner", "outer"]


def test_the_same_mock_used_again_and_reentered():
    mock = mock_ecr()
    with mock:
        client().create_repository(repositoryName="once")
        with mock:
            assert names(client()) == ["once"]
        assert names(client()) == ["once"]
    with mock:
        assert names(client()) == []


def test_a_nested_seed_is_refused():
    with mock_ecr():
        with pytest.raises(RuntimeError, match="outermost"):
            mock_ecr(seed={"repositories": [{"name": "app"}]}).start()
        client().create_repository(repositoryName="still")


def test_clients_created_before_activation_are_answered():
    # A client of an address where nothing listens: without the mock its calls fail to connect.
    ecr = client(endpoint_url="http://127.0.0.1:9")
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        ecr.describe_repositories()
    with mock_ecr():
        ecr.create_repository(repositoryName="early")
        assert names(client()) == ["early"]
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        ecr.describe_repositories()


def test_region_and_account_come_from_the_client():
    with mock_ecr():
        away = client(region="eu-west-1", account="210987654321")
        arn = away.create_repository(repositoryName="app")["repository"]["repositoryArn"]
        assert arn == "arn:aws:ecr:eu-west-1:210987654321:repository/app"
        assert names(client()) == []
        assert names(client(region="eu-west-1", account="210987654321")) == ["app"]


def test_account_id_sets_the_default_account():
    with mock_ecr(account_id="111122223333"):
        assert client().describe_registry()["registryId"] == "111122223333"
    with mock_ecr():
        assert client().describe_registry()["registryId"] == "123456789012"
    with pytest.raises(ValueError, match="12 digits"):
        mock_ecr(account_id="1234")


async def _async_body():
    return names(client())


def test_decorated_coroutine_functions_run_inside_the_mock():
    import asyncio

    decorated = mock_ecr(_async_body)
    assert asyncio.run(decorated()) == []


@mock_ecr
class TestUnittestClass(unittest.TestCase):
    """setUp runs inside the mock, and each test starts from the state setUp leaves."""

    def setUp(self):
        self.ecr = client()
        self.ecr.create_repository(repositoryName="from-setup")

    def test_one(self):
        self.ecr.create_repository(repositoryName="one")
        self.assertEqual(names(self.ecr), ["from-setup", "one"])

    def test_two(self):
        self.assertEqual(names(self.ecr), ["from-setup"])


@mock_ecr
class TestPytestClass:
    def setup_method(self, method):
        client().create_repository(repositoryName="from-setup")

    def test_one(self):
        client().create_repository(repositoryName="one")
        assert names(client()) == ["from-setup", "one"]

    def test_two(self):
        assert names(client()) == ["from-setup"]


@mock_ecr
class TestPytestClassWithoutMethodArguments:
    def setup_method(self):
        self.ecr = client()
        self.ecr.create_repository(repositoryName="from-setup")

    def teardown_method(self):
        assert names(self.ecr) == ["from-setup"]

    def test_sees_the_setup(self):
        assert names(self.ecr) == ["from-setup"]


@mock_ecr
def test_decorated_tests_still_receive_fixtures(tmp_path):
    assert tmp_path.is_dir() and names(client()) == []


# Beside moto's mock_aws.

@pytest.mark.parametrize("order", ["moto outside", "moto inside"])
def test_with_moto_ecr_is_the_emulators_and_other_services_motos(order):
    first, second = (mock_aws(), mock_ecr()) if order == "moto outside" else (mock_ecr(), mock_aws())
    with first, second:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="coexisting-bucket")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["coexisting-bucket"]
        ecs = boto3.client("ecs", region_name="us-east-1")
        ecs.create_cluster(clusterName="c1")
        assert len(ecs.list_clusters()["clusterArns"]) == 1
        ecr = boto3.client("ecr", region_name="us-east-1")
        ecr.create_repository(repositoryName="app")
        # An operation moto does not implement: only the emulator can answer it.
        assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["scanType"] == "BASIC"
        with mock_ecr():
            assert names(ecr) == ["app"]
    with mock_aws():
        # moto's own ECR state never saw the requests the emulator answered.
        assert names(boto3.client("ecr", region_name="us-east-1")) == []


def test_hook_order_emulator_first_then_generic_handlers_then_the_url_restored():
    """The emulator answers on before-send.ecr, ahead of every bare before-send handler (moto's among them); those
    see the request claimed (a URL no AWS mock matches); a last handler of ours restores the URL."""
    seen = []
    with mock_ecr():
        ecr = client()
        ecr.meta.events.register("before-send", lambda request, **_: seen.append(("generic", request.url)))
        ecr.meta.events.register_last("after-call", lambda http_response, **_: seen.append(
            ("after", http_response.url)))
        ecr.describe_repositories()
    assert seen == [("generic", "http://in-process.ecr-emulator.invalid/"),
                    ("after", "https://api.ecr.us-east-1.amazonaws.com/")]


def test_other_services_are_untouched():
    with mock_ecr():
        sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", aws_access_key_id="x",
                           aws_secret_access_key="x", config=NO_RETRY)
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            sqs.list_queues()


# Control API.

def _lifecycle(days: int) -> str:
    return json.dumps({"rules": [{"rulePriority": 1, "selection": {
        "tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": days},
        "action": {"type": "expire"}}]})


def test_reset_empties_the_state():
    with mock_ecr() as mock:
        mock.client().create_repository(repositoryName="app")
        mock.reset()
        assert names(mock.client()) == []


def test_reset_of_a_seeded_mock_returns_to_the_seed():
    with mock_ecr(seed={"repositories": [{"name": "seeded"}]}) as mock:
        mock.client().create_repository(repositoryName="added")
        mock.reset()
        assert names(mock.client()) == ["seeded"]


def test_advance_clock_ages_images_for_lifecycle_run():
    with mock_ecr() as mock:
        ecr = mock.client()
        ecr.create_repository(repositoryName="app")
        ecr.put_image(repositoryName="app", imageManifest=docker("old"), imageTag="old")
        ecr.put_lifecycle_policy(repositoryName="app", lifecyclePolicyText=_lifecycle(3))
        assert mock.run_lifecycle()["expired"] == []
        assert len(ecr.describe_images(repositoryName="app")["imageDetails"]) == 1
        before = mock.now()
        after = mock.advance_clock(4 * 86400)
        assert datetime.timedelta(days=4) <= after - before < datetime.timedelta(days=4, minutes=1)
        ecr.put_image(repositoryName="app", imageManifest=docker("new"), imageTag="new")
        [expired] = mock.run_lifecycle()["expired"]
        assert (expired["repositoryName"], expired["imageTags"]) == ("app", ["old"])
        assert [d["imageTags"] for d in ecr.describe_images(repositoryName="app")["imageDetails"]] == [["new"]]


def test_set_clock_sets_model_time_and_none_returns_to_real_time():
    with mock_ecr() as mock:
        mock.set_clock("2030-01-02T03:04:05Z")
        created = mock.client().create_repository(repositoryName="app")["repository"]["createdAt"]
        assert abs(created - datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)) < \
            datetime.timedelta(seconds=5)
        mock.set_clock(None)
        assert abs(mock.now() - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(seconds=5)


def test_export_and_import_round_trip_and_a_bad_archive_changes_nothing(tmp_path):
    with mock_ecr() as mock:
        ecr = mock.client()
        ecr.create_repository(repositoryName="app")
        ecr.put_image(repositoryName="app", imageManifest=docker("x"), imageTag="v1")
        buffer = io.BytesIO()
        mock.export_state(buffer)
        mock.export_state(tmp_path / "state.tar")
        mock.reset()
        assert mock.import_state(io.BytesIO(buffer.getvalue()))["repositories"] == 1
        assert ecr.describe_images(repositoryName="app")["imageDetails"][0]["imageTags"] == ["v1"]
        mock.reset()
        assert mock.import_state(tmp_path / "state.tar")["repositories"] == 1
        with pytest.raises(ArchiveError):
            mock.import_state(io.BytesIO(b"not a tar archive" * 100))
        assert names(ecr) == ["app"]


def test_control_calls_need_an_active_mock():
    mock = mock_ecr()
    with pytest.raises(RuntimeError, match="not active"):
        mock.reset()


# Credentials and boto3's default session.

@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def test_without_credentials_the_mock_supplies_them_only_while_active(no_credentials):
    with mock_ecr():
        boto3.client("ecr", region_name="us-east-1").create_repository(repositoryName="app")
        session = boto3.DEFAULT_SESSION
    assert boto3.DEFAULT_SESSION is None and boto3.session.Session().get_credentials() is None
    with mock_ecr():
        # The same default session comes back, so clients are not set up from scratch in every test.
        assert names(boto3.client("ecr", region_name="us-east-1")) == [] and boto3.DEFAULT_SESSION is session


def test_a_default_session_made_before_the_import_is_hooked():
    code = """
import boto3
boto3.setup_default_session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
from ecr_emulator import mock_ecr
with mock_ecr():
    print(boto3.client("ecr").create_repository(repositoryName="late")["repository"]["repositoryName"])
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "late", result.stderr
