"""Reaching the upstream registries of pull through cache rules: an OCI Distribution client (``client``), where each
upstream is reached and with which credentials (``settings``), and the sources a cache fill reads from
(``sources``)."""
