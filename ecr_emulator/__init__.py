"""An AWS-compatible emulator of Amazon Elastic Container Registry."""

__version__ = "0.1.0"
