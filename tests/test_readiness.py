"""Notebook 00's checks: the ready line when everything is there, and exactly what to do when something is not."""

from __future__ import annotations

import pytest
import torch
from huggingface_hub import constants

from helpers import reach
from helpers import settings as hs
from helpers import readiness

PREFETCH = "while online, run `python -m helpers prefetch` (or `make prefetch`) once"


def sources_are(monkeypatch, data: str, model: str) -> None:
    """Make the data and the model look `data` and `model` ("cached", "reachable", "missing", ...) to notebook 00."""
    monkeypatch.setattr(readiness, "data_status", lambda settings: data)
    monkeypatch.setattr(readiness, "model_status", lambda settings: model)


def quick(make_settings, **changes) -> hs.Settings:
    """Settings of the quick profile (tiny's folders), as get_settings gives them with the network there."""
    return hs.Settings(**{**vars(make_settings()), "profile": "quick", "model": "distilbert-base-uncased", **changes})


@pytest.mark.slow
def test_ready_on_the_tiny_profile(monkeypatch, tiny_settings):
    """With TC_PROFILE=tiny (as under nbval) everything is here: measured on real steps, then a ready line."""
    monkeypatch.setenv("TC_PROFILE", "tiny")
    timing = readiness.training_time(tiny_settings)
    assert timing["counts"] == {"train": 202, "eval": 23, "test": 75}, "300 rows: 75 test, 23 of the rest validation"
    assert timing["speed"]["train"] > 0 and timing["speed"]["predict"] > 0 and timing["seconds"] > 0
    lines = readiness.timing_lines(tiny_settings, timing).splitlines()
    assert lines[0] == "profile: tiny (202 train rows, 3 epochs)" and lines[1].startswith("training takes about ")
    line = readiness.verdict(tiny_settings, timing)
    assert line.startswith(f"ready: profile tiny, model tiny-distilbert on CPU ({torch.get_num_threads()} threads), "
                           f"about {readiness.duration(timing['seconds'])} per training (made-up headlines")
    assert readiness.sources(tiny_settings).splitlines()[1].endswith("(the tiny model, built on this machine)")


def test_ready_with_the_real_data_and_model_cached(monkeypatch, make_settings):
    """quick with data and model cached: ready, with the model's name, the device and the time."""
    sources_are(monkeypatch, "cached", "cached")
    settings = quick(make_settings)
    assert readiness.verdict(settings, {"seconds": 240}) == \
        f"ready: profile quick, model distilbert-base-uncased on CPU ({torch.get_num_threads()} threads), " \
        "about 4 min per training"


def test_reachable_but_not_cached_suggests_prefetch(monkeypatch, make_settings):
    """Ready, but a model that still has to be downloaded is worth prefetching before the workshop."""
    sources_are(monkeypatch, "cached", "reachable")
    line = readiness.verdict(quick(make_settings), {"seconds": 5})
    assert line.endswith(f"; if the room's network may fail, {PREFETCH}")


def test_a_missing_model_says_what_to_do(monkeypatch, make_settings):
    """Only the model missing: one line naming it, prefetch, or TC_MODEL; no time can be measured."""
    sources_are(monkeypatch, "cached", "missing")
    settings = quick(make_settings, model="klue/bert-base")
    assert readiness.training_time(settings) is None
    assert "cannot be measured" in readiness.timing_lines(settings, None)
    assert readiness.verdict(settings) == (
        f"not ready: the model klue/bert-base cannot be reached and is not cached; {PREFETCH}, or set TC_MODEL to "
        "a local copy")


def test_offline_auto_falls_back_and_is_not_ready(monkeypatch, tmp_path):
    """Offline with nothing cached, auto runs tiny; notebook 00 names the real data and model and what to do."""
    monkeypatch.setattr(reach, "reachable", lambda url: False)
    monkeypatch.setattr(hs, "_has_cuda", lambda: False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TC_CACHE_DIR", str(tmp_path / "cache"))
    settings = reach.get_settings()
    assert settings.profile == "tiny"
    assert readiness.verdict(settings) == (
        f"not ready: the data {hs.DATA_URL} and the model distilbert-base-uncased cannot be reached and are not "
        f"cached; {PREFETCH}, or set TC_DATA and TC_MODEL to a local copy; until then the notebooks run on the tiny "
        "profile")


@pytest.mark.parametrize("epochs, max_steps, seconds", [(1, -1, 125 * 16 / 100 + 1000 / 500),
                                                        (3, -1, 375 * 16 / 100 + 2000 / 500),
                                                        (3, 10, 10 * 16 / 100 + 2000 / 500)])
def test_estimate_scales_the_measured_speed(make_settings, epochs, max_steps, seconds):
    """The estimate is the profile's optimizer steps at the measured training speed, plus its predictions."""
    settings = make_settings(epochs=epochs, max_steps=max_steps, train_batch_size=16)
    counts, speed = {"train": 2000, "eval": 500, "test": 500}, {"train": 100.0, "predict": 500.0}
    assert readiness.estimate_seconds(settings, counts, speed) == pytest.approx(seconds)


@pytest.mark.parametrize("where", ["TC_HOME", "checkout", "installed"])
def test_notebook_00_says_where_files_go(where, monkeypatch, tmp_path):
    """The readiness output names the working folder, why it is that one, and the cache and results in it."""
    if where == "TC_HOME":
        monkeypatch.setenv("TC_HOME", str(tmp_path))
    elif where == "installed":
        monkeypatch.setattr(hs, "checkout_root", lambda package=hs.PACKAGE: None)
        monkeypatch.setattr(readiness, "checkout_root", hs.checkout_root)
        monkeypatch.chdir(tmp_path)
    settings = reach.get_settings("tiny")
    home = hs.ROOT if where == "checkout" else tmp_path
    line = readiness.files_line(settings)
    assert line.startswith(f"working folder: {home} (") and "\n" not in line
    why = {"TC_HOME": "named by TC_HOME", "checkout": "this checkout", "installed": "the folder this runs in"}
    assert why[where] in line
    assert f"go to {home / 'cache'}," in line and line.endswith(f"trained models to {home / 'results' / 'tiny'}")
