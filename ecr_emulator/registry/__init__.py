"""The registry data plane: the OCI Distribution / Docker Registry HTTP API V2 at /v2/."""

from .api import blueprint

__all__ = ["blueprint"]
