"""The domain: registries, repositories, images, blobs and the clock. Pure Python; nothing here knows HTTP."""
