"""The pytest plugin, registered through the ``pytest11`` entry point: installing the package is enough.

Fixtures:

- ``ecr_mock``: an active ``mock_ecr`` with a fresh, empty state for each test (its control API: ``reset``,
  ``advance_clock``, ``set_clock``, ``run_lifecycle``, ``export_state``, ``import_state``; ``client()``);
- ``ecr_client``: a boto3 ECR client answered in-process by ``ecr_mock``;
- ``ecr_seeded``: like ``ecr_mock``, loaded with the seed ``ecr_seed`` gives; by default that is the file named by
  the ini option ``ecr_emulator_seed`` (relative to the rootdir), and a suite may override ``ecr_seed`` to return a
  path or a dict;
- ``ecr_emulator_server`` and ``ecr_emulator``: the server-backed variant (a real server process per session, reset
  before each test), from ``ecr_emulator.testing``.

Every pytest process has its own state, so under pytest-xdist each worker has one. pytest imports this module in
every run of any suite in an environment where the package is installed: it imports nothing costly until a fixture
is used (the in-process mock pulls in botocore's handlers and Flask only then).
"""

import pytest

from .testing import ecr_emulator, ecr_emulator_server  # noqa: F401 - the plugin provides them

SEED_INI = "ecr_emulator_seed"


def pytest_addoption(parser):
    parser.addini(SEED_INI, "seed file (JSON or TOML) that the ecr_seeded fixture loads, relative to the rootdir",
                  default="")


@pytest.fixture
def ecr_mock():
    """An active ``mock_ecr`` with a fresh, empty state for this test."""
    from .mock.decorator import mock_ecr

    with mock_ecr() as mock:
        yield mock


@pytest.fixture
def ecr_client(ecr_mock):
    """A boto3 ECR client (us-east-1, the default account) answered in-process."""
    return ecr_mock.client()


@pytest.fixture
def ecr_seed(request):
    """The seed ``ecr_seeded`` loads: override this fixture to return a path or a dict."""
    name = request.config.getini(SEED_INI)
    if not name:
        pytest.fail(f"ecr_seeded needs a seed: set {SEED_INI} in the pytest configuration or override the "
                    f"ecr_seed fixture", pytrace=False)
    return request.config.rootpath / name


@pytest.fixture
def ecr_seeded(ecr_seed):
    """An active ``mock_ecr`` loaded with the seed from ``ecr_seed`` for this test."""
    from .mock.decorator import mock_ecr

    with mock_ecr(seed=ecr_seed) as mock:
        yield mock
