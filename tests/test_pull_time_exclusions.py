"""Pull-time update exclusions honoured by BatchGetImage: an excluded caller's pulls leave lastRecordedPullTime.

Requests identify only an account, so the JSON API's caller is that account's root user, which the model's
principalArn pattern (users and roles only) can never name; the exclusion path is therefore exercised in-process
with the caller's principal substituted, and through boto3 for the root caller."""

import sample_manifests as sm
from ecr_emulator.api.context import RequestContext
from ecr_emulator.config import Config
from ecr_emulator.handlers import images as image_handlers
from ecr_emulator.handlers import repositories
from ecr_emulator.handlers import settings as settings_handlers
from ecr_emulator.models.store import Store

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci"


def test_caller_is_the_account_root():
    ctx = RequestContext(Store(), Config(), ACCOUNT, "us-east-1")
    assert image_handlers.caller_arn(ctx) == f"arn:aws:iam::{ACCOUNT}:root"


def test_excluded_caller_does_not_update_pull_time(monkeypatch):
    store = Store()
    ctx = RequestContext(store, Config(), ACCOUNT, "us-east-1")
    registry = store.registry(ACCOUNT, "us-east-1")
    repositories.create_repository(ctx, {"repositoryName": "app"})
    digest = image_handlers.put_image(ctx, {"repositoryName": "app", "imageManifest": sm.docker("x")})[
        "image"]["imageId"]["imageDigest"]
    image = registry.repositories["app"].images.by_digest[digest]
    monkeypatch.setattr(image_handlers, "caller_arn", lambda ctx: ROLE)
    settings_handlers.register_pull_time_update_exclusion(ctx, {"principalArn": ROLE})
    pulled = image_handlers.batch_get_image(ctx, {"repositoryName": "app", "imageIds": [{"imageDigest": digest}]})
    assert pulled["images"] and image.last_pull is None
    settings_handlers.deregister_pull_time_update_exclusion(ctx, {"principalArn": ROLE})
    image_handlers.batch_get_image(ctx, {"repositoryName": "app", "imageIds": [{"imageDigest": digest}]})
    assert image.last_pull is not None


def test_other_principals_exclusion_does_not_apply(ecr):
    ecr.create_repository(repositoryName="app")
    digest = ecr.put_image(repositoryName="app", imageManifest=sm.docker("y"))["image"]["imageId"]["imageDigest"]
    ecr.register_pull_time_update_exclusion(principalArn=ROLE)
    ecr.batch_get_image(repositoryName="app", imageIds=[{"imageDigest": digest}])
    detail = ecr.describe_images(repositoryName="app", imageIds=[{"imageDigest": digest}])["imageDetails"][0]
    assert "lastRecordedPullTime" in detail
