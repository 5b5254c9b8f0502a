"""UpdateImageStorageClass: archiving images and restoring them (the model is ``models.storage``)."""

import functools

from ..api.context import RequestContext
from ..models import scans, storage
from . import lookup, operation


@operation("UpdateImageStorageClass")
def update_image_storage_class(ctx: RequestContext, params: dict) -> dict:
    _, repo = ctx.repository(params)
    with ctx.store.lock:
        image = lookup.image(repo, params["imageId"])
        status = storage.update(repo, image, params["targetStorageClass"], ctx.clock.now(),
                                on_restore=functools.partial(scans.on_push, ctx.store, repo))
        return {"registryId": repo.account, "repositoryName": repo.name,
                "imageId": lookup.echoed_id(image, params["imageId"]), "imageStatus": status}
