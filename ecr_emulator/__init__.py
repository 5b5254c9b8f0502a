"""An AWS-compatible emulator of Amazon Elastic Container Registry."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # ``from ecr_emulator import mock_ecr`` imports botocore's handlers; importing the package alone (the CLI, the
    # pytest plugin) should not.
    if name == "mock_ecr":
        from .mock import mock_ecr

        return mock_ecr
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
