"""pytest's fixtures and hooks for the tests; the code tests share is in tests/support.py.

Every test runs with no `TC_*` variable set, so a user's shell cannot change results, and sees the warnings a new
process would. The tiny model is built once per session into a temporary cache folder and reused by every test
that needs a model; so are a trained tiny model (`trained`) and one trained on the topics sample (`topics_run`).
Tests that start a process, train a model or run a notebook are marked `slow`: `make test-fast` skips them.
"""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

import helpers
import helpers.models
from helpers.settings import TINY_MODEL, TOPICS_SAMPLE, warn_once
from support import TOPIC_COLUMNS, remove_tc_env, tiny_settings_for


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every notebook cell nbval runs is slow: its notebook trains, or loads what another trained. The notebooks
    come first, then the lowest-versions install, then the test files with the most slow tests: under
    pytest-xdist (make test) the longest units of work start first, and the two workers end together on quick
    ones."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
    slow = collections.Counter(item.path for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: (item.path.suffix != ".ipynb", item.path.name != "test_lowest.py",
                                 -slow[item.path]))  # stable: a file's tests stay in their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Under pytest-xdist (make test: -n 2), one unit of work per test file (its module fixtures built once, the
    docs' blocks in page order) and one for all the notebooks and solutions, run in order on one worker: they share
    the working folder's split and trained model."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "notebooks" if path.endswith(".ipynb") else path

    return ByFile(config, log)


# ---------------------------------------------------------------------------------------------- environment


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Run torch on one thread: the tiny model gains nothing from more, and on a busy machine two threads
    spinning against another process make each training step many times slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def _ctrl_c_reaches_child_processes():
    """pytest-xdist's workers ignore Ctrl-C (SIGINT), and the processes a test starts would inherit that: a run that
    a test interrupts must get it as from a terminal."""
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _no_tc_env(monkeypatch):
    """No test sees the user's `TC_*` variables."""
    remove_tc_env(monkeypatch)


@pytest.fixture(autouse=True)
def _fresh_warnings():
    """Every test sees the warnings given once a process (`warn_once`, the auto profile's fallback), as a new
    process would."""
    warn_once.cache_clear()
    helpers.reach.announce_fallback.cache_clear()
    helpers.reach.reachable.cache_clear()  # and whether the data and the model answer, asked once a process


# ---------------------------------------------------------------------------------------------- tiny model


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory) -> Path:
    """A cache folder holding the tiny model, built once for the whole session."""
    from helpers.tiny import build_tiny_model

    cache = tmp_path_factory.mktemp("cache")
    build_tiny_model(cache / TINY_MODEL)
    return cache


@pytest.fixture(scope="session")
def tiny_model(tiny_cache) -> Path:
    """The folder of the session's tiny model."""
    return tiny_cache / TINY_MODEL


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model):
    """The tiny model's tokenizer, loaded once."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


@pytest.fixture
def tiny_settings(tmp_path, tiny_cache) -> helpers.Settings:
    """The tiny profile's settings, writing into this test's tmp folder, using the session's tiny model."""
    return tiny_settings_for(tmp_path / "out", tiny_cache)


@pytest.fixture
def make_settings(tmp_path, tiny_cache):
    """A factory: tiny settings with the given overrides (same output and cache folders as `tiny_settings`)."""

    def make(**overrides) -> helpers.Settings:
        return tiny_settings_for(tmp_path / "out", overrides.pop("cache_dir", tiny_cache), **overrides)

    return make


# ---------------------------------------------------------------------------------------------- trained models


@pytest.fixture(scope="session")
def trained(tmp_path_factory, tiny_cache):
    """The tiny model trained for 10 steps, once for the session: (settings, trainer)."""
    from helpers.finetune import train

    with pytest.MonkeyPatch.context() as monkeypatch:
        remove_tc_env(monkeypatch)
        settings = tiny_settings_for(tmp_path_factory.mktemp("trained"), tiny_cache, max_steps=10)
        return settings, train(settings)


@pytest.fixture(scope="session")
def topics_run(tmp_path_factory, tiny_cache):
    """The tiny model fine-tuned on the topics sample as notebook 07 does it, once for the session: (settings,
    trainer)."""
    from helpers.finetune import train

    with pytest.MonkeyPatch.context() as monkeypatch:
        remove_tc_env(monkeypatch)
        settings = tiny_settings_for(
            tmp_path_factory.mktemp("topics"), tiny_cache, data=str(TOPICS_SAMPLE), **TOPIC_COLUMNS,
            stratify=True, validation_size=0.1, class_weights=True, epochs=20,
        )
        return settings, train(settings)
