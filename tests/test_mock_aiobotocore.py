"""mock_ecr answers aiobotocore (and so aioboto3) clients on the same hook. aiobotocore pins botocore releases, so it
is not a test dependency: this runs where it is installed and skips elsewhere."""

import asyncio

import pytest

from ecr_emulator import mock_ecr

aiobotocore_session = pytest.importorskip("aiobotocore.session", reason="aiobotocore is not installed")


async def _calls():
    session = aiobotocore_session.get_session()
    async with session.create_client("ecr", region_name="eu-west-1", aws_access_key_id="210987654321",
                                     aws_secret_access_key="testing") as ecr:
        repo = (await ecr.create_repository(repositoryName="aio/app"))["repository"]
        with pytest.raises(ecr.exceptions.RepositoryNotFoundException):
            await ecr.describe_repositories(repositoryNames=["missing"])
        listed = (await ecr.describe_repositories())["repositories"]
    return repo["repositoryArn"], [r["repositoryName"] for r in listed]


def test_aiobotocore_clients_are_answered_in_process():
    with mock_ecr() as mock:
        arn, names = asyncio.run(_calls())
        assert arn == "arn:aws:ecr:eu-west-1:210987654321:repository/aio/app" and names == ["aio/app"]
        assert mock.client(region="eu-west-1", account="210987654321").describe_repositories(
            )["repositories"][0]["repositoryName"] == "aio/app"
