"""Pull through cache fetches: what a cache miss does (``fetch``), the OCI Distribution client (``client``), upstream
credentials and endpoints (``settings``) and the upstream sources (``sources``)."""
