"""Loads botocore's ECR service description once and exposes its shapes and operations."""

import functools

from botocore.loaders import Loader

SERVICE = "ecr"


@functools.cache
def service_description() -> dict:
    """The raw service-2 description; the JSON is parsed once per process."""
    return Loader().load_service_model(SERVICE, "service-2")


def shapes() -> dict:
    return service_description()["shapes"]


def operations() -> dict:
    return service_description()["operations"]


def target_prefix() -> str:
    return service_description()["metadata"]["targetPrefix"]


def shape(name: str) -> dict:
    return shapes()[name]


def input_shape_name(operation: str) -> str | None:
    return operations()[operation].get("input", {}).get("shape")


def output_shape_name(operation: str) -> str | None:
    return operations()[operation].get("output", {}).get("shape")


def declared_errors(operation: str) -> frozenset[str]:
    return frozenset(e["shape"] for e in operations()[operation].get("errors", ()))


def error_shape_names() -> list[str]:
    return [name for name, s in shapes().items() if s.get("exception")]


def limit(shape_name: str, key: str):
    """A numeric limit (min/max) of a shape, so handlers never hand-copy the model's numbers."""
    return shape(shape_name).get(key)
