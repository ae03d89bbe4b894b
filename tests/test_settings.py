"""Settings: the tutorial's defaults, profiles, `TC_*` overrides, validation and the `auto` profile."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import typing
from pathlib import Path

import pytest

import helpers
import helpers.settings as hs
from helpers import Settings, UserError, get_settings

from support import ROOT, refused


def test_defaults_are_the_tutorials(tmp_path):
    """With no profile changes, every knob equals the tutorial's TrainingArguments and split."""
    for settings in (Settings(), get_settings("full", cache_dir=str(tmp_path))):
        assert settings.epochs == 3
        assert settings.train_batch_size == 16
        assert settings.eval_batch_size == 64
        assert settings.warmup_steps == 500
        assert settings.weight_decay == 0.01
        assert settings.logging_steps == 200
        assert settings.learning_rate == 5e-5
        assert settings.test_size == 0.25
        assert settings.split_seed == 123
        assert settings.model == "distilbert-base-uncased"
        assert settings.data == hs.DATA_URL
        assert settings.train_rows == 0 and settings.test_rows == 0
        assert settings.validation_size == 0.1, "the best epoch is chosen on validation rows, never on test rows"


def test_full_profile_changes_nothing(tmp_path):
    """The full profile is exactly the defaults (apart from the profile name and output folder)."""
    full = get_settings("full", cache_dir=str(tmp_path), output_dir=str(tmp_path / "o"))
    default = Settings(cache_dir=str(tmp_path), output_dir=str(tmp_path / "o"))
    assert dataclasses.replace(full, profile="auto") == default


@pytest.mark.parametrize("profile", ["full", "quick", "tiny"])
def test_profiles_give_their_values(profile, tmp_path):
    """Each profile sets exactly the values its PROFILES entry lists; every other setting keeps its default."""
    settings = get_settings(profile, cache_dir=str(tmp_path), output_dir=str(tmp_path / "o"))
    changes = hs.PROFILES[profile]
    for f in dataclasses.fields(Settings):
        if f.name in {"profile", "cache_dir", "output_dir", "model"}:
            continue
        assert getattr(settings, f.name) == changes.get(f.name, f.default), f.name
    assert settings.profile == profile


def test_quick_profile_is_a_small_real_run(tmp_path):
    """The quick profile trains the real model on the real data, on fewer rows and epochs than full, and is tested
    on every one of the tutorial's test rows, so its score compares with full's and with the baselines'."""
    quick, full = (get_settings(p, cache_dir=str(tmp_path)) for p in ("quick", "full"))
    assert quick.model == full.model == "distilbert-base-uncased" and quick.data == full.data == hs.DATA_URL
    assert 0 < quick.train_rows and quick.epochs < full.epochs
    assert quick.test_rows == full.test_rows == 0 and quick.validation_size == full.validation_size > 0
    assert quick.warmup_steps < 1  # a fraction of its few steps, not the full run's 500


def test_tiny_profile_is_offline(tmp_path):
    """The tiny profile uses the shipped sample and the tiny model inside the cache folder: nothing to download."""
    tiny = get_settings("tiny", cache_dir=str(tmp_path))
    assert Path(tiny.data) == hs.SAMPLE_DATA and Path(tiny.data).is_file()
    assert Path(tiny.model) == tmp_path / hs.TINY_MODEL


@pytest.mark.parametrize("profile", ["full", "quick", "tiny"])
def test_default_output_dir_is_per_profile(profile, tmp_path):
    """Without --output-dir, each profile writes into results/PROFILE of the working folder (run from this
    checkout: the checkout's root)."""
    assert hs.working_folder() == hs.ROOT
    assert Path(get_settings(profile, cache_dir=str(tmp_path)).output_dir) == hs.ROOT / "results" / profile


def fake_package(folder: Path, *, checkout: bool) -> Path:
    """A folder holding a `helpers` package, inside what looks like a checkout (pyproject.toml and notebooks/) or
    not; returns the package's folder."""
    (folder / "helpers").mkdir(parents=True)
    if checkout:
        (folder / "pyproject.toml").write_text("[project]\n")
        (folder / "notebooks").mkdir()
    return folder / "helpers"


def test_a_checkout_is_told_from_an_install(tmp_path):
    """The checkout's root is the working folder only when the package sits in a checkout, never in
    site-packages or dist-packages (where a `pip install` of a checkout-shaped folder could also put it)."""
    assert hs.checkout_root(fake_package(tmp_path / "clone", checkout=True)) == tmp_path / "clone"
    assert hs.checkout_root(fake_package(tmp_path / "plain", checkout=False)) is None
    for installed in ("lib/python3.11/site-packages", "lib/python3/dist-packages"):
        assert hs.checkout_root(fake_package(tmp_path / installed, checkout=True)) is None


def test_installed_the_working_folder_is_the_current_folder(monkeypatch, tmp_path):
    """Installed (no checkout), downloads, the tiny model and results go under the folder Python started in."""
    monkeypatch.setattr(hs, "checkout_root", lambda package=hs.PACKAGE: None)
    monkeypatch.chdir(tmp_path)
    settings = get_settings("tiny")
    assert Path(settings.cache_dir) == tmp_path / "cache" and Path(settings.model) == tmp_path / "cache" / hs.TINY_MODEL
    assert Path(settings.output_dir) == tmp_path / "results" / "tiny"


def test_tc_home_names_the_working_folder(monkeypatch, tmp_path):
    """TC_HOME beats the checkout and the current folder; it is no setting, so no 'unknown variable' error;
    explicit cache_dir and output_dir still win."""
    monkeypatch.setenv("TC_HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    settings = get_settings("quick")
    assert Path(settings.cache_dir) == tmp_path / "home" / "cache"
    assert Path(settings.output_dir) == tmp_path / "home" / "results" / "quick"
    chosen = get_settings("quick", cache_dir=str(tmp_path / "c"), output_dir=str(tmp_path / "o"))
    assert (chosen.cache_dir, chosen.output_dir) == (str(tmp_path / "c"), str(tmp_path / "o"))


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_an_unusable_working_folder_is_one_line(kind, monkeypatch, tmp_path):
    """TC_HOME naming a folder that does not exist, or a file, stops in one line naming it and what to do."""
    home = tmp_path / "home"
    if kind == "a file":
        home.write_text("")
    monkeypatch.setenv("TC_HOME", str(home))
    message = refused(get_settings, "tiny")
    assert str(home) in message and "TC_HOME" in message
    assert ("does not exist; create it" if kind == "missing" else "is not a folder") in message
    assert not home.is_dir(), "nothing created"


def read_only_runner(home: Path) -> list[str]:
    """The words that start a command with `home` unwritable and current: as root, whom file modes do not stop, in
    a mount namespace of its own where `home` is a read-only bind mount (nothing else changes: the checkout and its
    virtual environment stay readable wherever they live); else `home` made mode 555. Where root cannot mount, an
    unprivileged user (setpriv) if it can run the package; a skip, with the reason, only where nothing works."""
    import os
    import subprocess
    import sys

    if os.geteuid() != 0:
        home.chmod(0o555)
        return []
    mounted = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount --bind -o ro "$0" "$0" && cd "$0" && exec "$@"', str(home)]
    probe = subprocess.run([*mounted, "sh", "-c", ": > probe"], capture_output=True, text=True)
    (home / "probe").unlink(missing_ok=True)
    if probe.returncode != 0 and "Read-only file system" in probe.stderr:
        return mounted
    home.chmod(0o555)
    user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    runs = subprocess.run([*user, sys.executable, "-c", "import helpers.cli"], cwd=home, capture_output=True, text=True)
    if runs.returncode == 0:
        return user
    pytest.skip(f"as root, neither a read-only mount ({probe.stderr.strip() or 'it was writable'}) nor an "
                f"unprivileged user that can run the package ({runs.stderr.strip().splitlines()[-1:]})")


@pytest.mark.slow
def test_a_read_only_working_folder_is_one_error_line(tmp_path):
    """With a working folder it cannot write to (TC_HOME, and the current folder too), `python -m helpers train`
    ends in one `error:` line naming the folder, and writes nothing; wherever the checkout lives (a fresh clone
    under `mktemp -d`, run as root: `read_only_runner`)."""
    import subprocess
    import sys

    from support import clean_env

    base = Path(tempfile.mkdtemp(prefix="tc-readonly-"))  # not under pytest's tmp, which others cannot enter
    try:
        base.chmod(0o755)
        home = base / "home"
        home.mkdir()
        runner = read_only_runner(home)
        done = subprocess.run([*runner, sys.executable, "-m", "helpers", "train", "--profile", "tiny"], cwd=home,
                              env=clean_env() | {"TC_HOME": str(home), "HOME": str(base)}, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: cannot write to the working folder"), done.stderr
        assert str(home) in lines[0] and "TC_HOME" in lines[0]
        assert not any(home.iterdir())
    finally:
        home.chmod(0o755)
        shutil.rmtree(base)


def test_settings_have_their_declared_types(tmp_path):
    """Every setting of every profile has its annotated type, as TC_ values and keywords get (1 -> 1.0 for a float)."""
    hints = typing.get_type_hints(Settings)
    wrong = {}
    for profile in ("full", "quick", "tiny"):
        settings = get_settings(profile, cache_dir=str(tmp_path))
        for f in dataclasses.fields(settings):
            value = getattr(settings, f.name)
            if type(value) is not hs.kind(f.name) or value not in (hs.choices(f.name) or [value]):
                wrong[f"{profile}.{f.name}"] = f"{value!r} is not a {hints[f.name]}"
    assert not wrong, f"settings not of their declared type: {wrong}"


def test_env_overrides_are_parsed(monkeypatch, tmp_path):
    """TC_EPOCHS=2 gives the float 2.0 and TC_STRATIFY=yes gives True."""
    monkeypatch.setenv("TC_EPOCHS", "2")
    monkeypatch.setenv("TC_STRATIFY", "yes")
    settings = get_settings("full", cache_dir=str(tmp_path))
    assert settings.epochs == 2.0 and type(settings.epochs) is float
    assert settings.stratify is True


@pytest.mark.parametrize("word, value", [("1", True), ("true", True), ("ON", True), ("no", False), ("off", False)])
def test_env_booleans(word, value, monkeypatch, tmp_path):
    """Boolean TC_ variables accept the usual words, case-insensitively."""
    monkeypatch.setenv("TC_STRATIFY", word)
    assert get_settings("full", cache_dir=str(tmp_path)).stratify is value


def test_env_int_and_profile(monkeypatch, tmp_path):
    """TC_TRAIN_BATCH_SIZE=8 gives the int 8, and TC_PROFILE chooses the profile."""
    monkeypatch.setenv("TC_TRAIN_BATCH_SIZE", "8")
    monkeypatch.setenv("TC_PROFILE", "tiny")
    settings = get_settings(cache_dir=str(tmp_path))
    assert settings.train_batch_size == 8 and type(settings.train_batch_size) is int
    assert settings.profile == "tiny"


def test_env_beats_profile(monkeypatch, tmp_path):
    """A TC_ variable overrides the profile's own value."""
    monkeypatch.setenv("TC_EPOCHS", "2")
    assert get_settings("tiny", cache_dir=str(tmp_path)).epochs == 2.0


def test_keyword_beats_env(monkeypatch, tmp_path):
    """An explicit keyword (a notebook's or a flag's) overrides the TC_ variable."""
    monkeypatch.setenv("TC_EPOCHS", "2")
    monkeypatch.setenv("TC_PROFILE", "quick")
    settings = get_settings("tiny", epochs=5, cache_dir=str(tmp_path))
    assert settings.epochs == 5.0 and settings.profile == "tiny"


@pytest.mark.parametrize("name, value", [("train_batch_size", 2.5), ("stratify", 1), ("split_seed", True)])
def test_keywords_of_the_wrong_type(name, value):
    """A keyword that is not of the setting's type (a float for an int, an int for a bool, a bool for an int) is
    refused, though a string of it would be parsed (strings are tested with the command line's, in test_errors)."""
    assert f"{name}={value!r} is not a valid" in refused(get_settings, "tiny", **{name: value})


def test_string_values_are_coerced(tmp_path):
    """Strings (as flags and TC_ give them) become numbers of the right type."""
    settings = get_settings("tiny", epochs="1.5", train_batch_size="8", test_size="0.2", cache_dir=str(tmp_path))
    assert (settings.epochs, settings.train_batch_size, settings.test_size) == (1.5, 8, 0.2)
    assert type(settings.train_batch_size) is int


def test_helpers_exports():
    """The package exposes the names the notebooks import."""
    assert {"Settings", "UserError", "get_settings", "load_data", "split_data"} <= set(helpers.__all__)
    assert issubclass(UserError, ValueError)


def test_the_settings_page_is_up_to_date():
    """docs/settings.md is what `python -m helpers settings --page` prints now: every field, help, default, profile."""
    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == hs.settings_page(), "out of date: python -m helpers settings --page > docs/settings.md"
    for name, f in hs.FIELDS.items():
        assert f"| `{name}` | `--{name.replace('_', '-')}` | `TC_{name.upper()}` |" in page
        assert f.metadata["help"] in page
    assert str(ROOT) not in page, "no path of this machine on the page"


def test_every_setting_has_one_known_role():
    """Each field is tagged with one of ROLES, and the roles together name every setting once."""
    roles = {name: f.metadata["role"] for name, f in hs.FIELDS.items()}
    assert set(roles.values()) <= set(hs.ROLES), "a role that ROLES does not describe"
    assert hs.having(*hs.ROLES) == tuple(hs.FIELDS), "every setting has a role, in Settings' order"
    assert hs.having("split") == ("data", "text_column", "label_column", "test_size", "validation_size", "stratify",
                                  "split_seed", "train_rows", "test_rows"), "the settings split.json keeps"
    with pytest.raises(ValueError, match="unknown role"):
        hs.having("splt")


def test_lists_of_settings_are_made_from_the_fields():
    """The profiles a user can name are `auto` and those of PROFILES; TrainingArguments' fields, the speed levers and
    the settings a trial keeps come from the fields' tags, each naming a setting of its type."""
    assert hs.choices("profile") == ("auto", *hs.PROFILES)
    assert {name: type(value) for name, value in hs.tagged("off").items()} == \
        {name: hs.kind(name) for name in hs.tagged("off")}, "each lever's off value is a value of the setting"
    assert all(value in (hs.choices(name) or [value]) for name, value in hs.tagged("off").items())
    assert {"output_dir", "epochs", "optimizer"} <= set(hs.tagged("argument")) and "profile" in hs.tagged("recorded")


def test_assigning_to_a_setting_raises(tmp_path):
    """Settings are frozen: a setting is changed by a copy (`dataclasses.replace`), never in place."""
    settings = get_settings("tiny", cache_dir=str(tmp_path))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.epochs = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(settings, "output_dir", str(tmp_path / "elsewhere"))
    changed = dataclasses.replace(settings, epochs=1.0)
    assert (changed.epochs, settings.epochs) == (1.0, hs.FIELDS["epochs"].default)


# ---------------------------------------------------------------------------------------------- train less (09)


@pytest.mark.parametrize("less, factor", [({"lora_rank": 8}, hs.LORA_RATE_FACTOR),
                                          ({"train_layers": 2}, hs.LAYERS_RATE_FACTOR),
                                          ({"train_layers": "head"}, hs.LAYERS_RATE_FACTOR)])
def test_a_run_training_less_without_a_rate_learns_faster(less, factor, monkeypatch, tmp_path):
    """LoRA, or the last blocks or the head only, and no learning rate given: `factor` times the profile's rate, and
    `settings` says so; a rate given as an argument or a TC_ variable is kept as given; every weight, the profile's."""
    base = {"cache_dir": str(tmp_path), "output_dir": str(tmp_path / "out")}
    for profile in ("full", "tiny"):
        plain = get_settings(profile, **base)
        less_run = get_settings(profile, **less, **base)
        assert less_run.learning_rate == pytest.approx(factor * plain.learning_rate)
        assert hs.setting_sources(less_run, set(), profile)["learning_rate"] == \
            f"training less: {factor} x the profile's"
        assert hs.setting_sources(plain, set(), profile)["learning_rate"] != hs.setting_sources(
            less_run, set(), profile)["learning_rate"]
    assert get_settings("tiny", **less, learning_rate=1e-3, **base).learning_rate == 1e-3
    monkeypatch.setenv("TC_LEARNING_RATE", "2e-4")
    assert get_settings("full", **less, **base).learning_rate == 2e-4


@pytest.mark.parametrize("given, kept", [("all", "all"), ("head", "head"), (2, "2"), ("3", "3")])
def test_train_layers_takes_all_head_or_a_number(given, kept, tmp_path):
    """train_layers: all, head, or a count of last blocks, a number from Python or a string from a flag alike."""
    assert get_settings("tiny", train_layers=given, cache_dir=str(tmp_path)).train_layers == kept


@pytest.mark.parametrize("given", ["0", "last", "-1", "1.5"])
def test_a_wrong_train_layers_is_one_line(given, tmp_path):
    """Anything else is one line saying what it takes."""
    assert "all, head, or a number" in refused(get_settings, "tiny", train_layers=given, cache_dir=str(tmp_path))


def test_first_line_is_the_cause_of_an_error_in_one_line():
    """An error's first non-blank line (or its first two, joined), or its type when its message is empty."""
    assert hs.first_line(ValueError("\n  404 Client Error \nEntry Not Found\n")) == "404 Client Error"
    assert hs.first_line(OSError("404 Client Error\n\nEntry Not Found"), 2) == "404 Client Error Entry Not Found"
    assert hs.first_line(ValueError("")) == hs.first_line(ValueError("  \n ")) == "ValueError"
