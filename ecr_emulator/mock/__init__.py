"""In-process mode: ``mock_ecr`` (``decorator``) answers botocore's ECR requests through the same Flask app over an
in-memory transport (``transport``), with no socket."""

from .decorator import mock_ecr

__all__ = ["mock_ecr"]
