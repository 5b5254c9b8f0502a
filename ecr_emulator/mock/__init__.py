"""In-process mode: ``mock_ecr`` (``decorator``) answers botocore's ECR requests through the same Flask app over an
in-memory transport (``transport``), with no socket.

``SeedError`` and ``ArchiveError``, what the control API's ``load_seed`` and ``import_state`` raise for a bad seed
or archive, are named here too, so a test catches them from the module it uses; they are imported only when asked
for, as the seed loader and the archive are."""

from .decorator import mock_ecr

__all__ = ["ArchiveError", "SeedError", "mock_ecr"]


def __getattr__(name: str):
    if name == "SeedError":
        from ..seeds.loader import SeedError

        return SeedError
    if name == "ArchiveError":
        from ..state.archive import ArchiveError

        return ArchiveError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
