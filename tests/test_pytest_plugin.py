"""The pytest plugin (installed through the pytest11 entry point): its in-process, seeded and server-backed fixtures,
run in pytest's own pytester; a state per test, and per worker under pytest-xdist."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

# Imported here so pytester's in-process runs share these modules instead of importing (and then dropping) their own.
import ecr_emulator.mock  # noqa: F401

IN_PROCESS_TESTS = """
import pytest

@pytest.mark.parametrize("run", [1, 2])
def test_state_is_fresh_for_each_test(ecr_client, run):
    ecr_client.create_repository(repositoryName="app")
    assert [r["repositoryName"] for r in ecr_client.describe_repositories()["repositories"]] == ["app"]

def test_control_api(ecr_mock):
    before = ecr_mock.now()
    assert (ecr_mock.advance_clock(3600) - before).total_seconds() >= 3600
    ecr_mock.client(region="eu-west-1").create_repository(repositoryName="away")
    ecr_mock.reset()
    assert ecr_mock.client(region="eu-west-1").describe_repositories()["repositories"] == []
"""


def test_in_process_fixtures(pytester):
    pytester.makepyfile(IN_PROCESS_TESTS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


SEED = {"repositories": [{"name": "seeded", "images": [{"tags": ["v1"]}]}]}
SEEDED_TESTS = """
import pytest

@pytest.mark.parametrize("run", [1, 2])
def test_each_test_starts_from_the_seed(ecr_seeded, run):
    ecr = ecr_seeded.client()
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == ["seeded"]
    assert ecr.describe_images(repositoryName="seeded")["imageDetails"][0]["imageTags"] == ["v1"]
    ecr.delete_repository(repositoryName="seeded", force=True)
"""


def test_seeded_fixture_reads_the_ini_option(pytester):
    pytester.makefile(".json", seed=json.dumps(SEED))
    pytester.makeini("[pytest]\necr_emulator_seed = seed.json\n")
    pytester.makepyfile(SEEDED_TESTS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_seeded_fixture_takes_an_overridden_seed(pytester):
    pytester.makeconftest(f"""
import pytest

@pytest.fixture
def ecr_seed():
    return {SEED!r}
""")
    pytester.makepyfile(SEEDED_TESTS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_seeded_fixture_without_a_seed_says_what_to_set(pytester):
    pytester.makepyfile("def test_it(ecr_seeded):\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ecr_seeded needs a seed: set ecr_emulator_seed*"])


SERVER_TESTS = """
import pytest

@pytest.mark.parametrize("run", [1, 2])
def test_server_state_is_reset(ecr_emulator, run):
    ecr_emulator.client.create_repository(repositoryName="app")
    assert ecr_emulator.endpoint.startswith("http://127.0.0.1:")
    assert [r["repositoryName"] for r in ecr_emulator.client.describe_repositories()["repositories"]] == ["app"]
"""


def test_server_backed_fixtures(pytester):
    pytester.makepyfile(SERVER_TESTS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_suites_importing_the_fixtures_from_testing_still_work(pytester):
    pytester.makeconftest("from ecr_emulator.testing import ecr_emulator, ecr_emulator_server  # noqa: F401\n")
    pytester.makepyfile(SERVER_TESTS)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


XDIST_TESTS = """
import os
import pytest

def check(ecr, run):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    ecr.create_repository(repositoryName=f"app-{worker}", tags=[{"Key": "run", "Value": str(run)}])
    assert [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]] == [f"app-{worker}"]

@pytest.mark.parametrize("run", range(4))
def test_in_process_state_per_worker(ecr_mock, run):
    check(ecr_mock.client(), run)

@pytest.mark.parametrize("run", range(4))
def test_server_per_worker(ecr_emulator, run):
    check(ecr_emulator.client, run)
"""


def test_one_state_per_xdist_worker(pytester):
    if importlib.util.find_spec("xdist") is None:
        reason = "pytest-xdist is not installed (it comes with the test extra)"
        if os.environ.get("ECR_EMULATOR_REQUIRE_E2E") == "1":
            pytest.fail(reason + " and ECR_EMULATOR_REQUIRE_E2E=1")
        pytest.skip(reason)
    pytester.makepyfile(XDIST_TESTS)
    pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider").assert_outcomes(passed=8)


def test_the_plugin_imports_neither_botocore_nor_flask():
    code = ("import sys, ecr_emulator.pytest_plugin; "
            "print(sorted(m for m in ('botocore', 'boto3', 'flask', 'werkzeug') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
