"""The registry data plane: the OCI Distribution / Docker Registry HTTP API V2 at /v2/ (``api``, ``access``,
``errors``) and the blob bytes it serves (``blob_store`` on disk, ``blob_downloads`` for presigned layer URLs)."""
