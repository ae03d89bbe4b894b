"""Reach (`helpers/reach.py`): where a model comes from (`model_source`), whether the data and the model can be
reached, asked once a process, and so the auto profile's offline fallback (`get_settings`)."""

from __future__ import annotations

from pathlib import Path

import helpers.reach as hr
import helpers.settings as hs
from helpers import Settings, UserError, get_settings

from support import refused


def test_a_model_comes_from_one_of_three_places(tmp_path, tiny_settings):
    """The tiny model (built or not), a folder that is there, or a hub name; a path that is not there is one line."""
    assert hr.model_source(tiny_settings.model) == hr.model_source(str(tmp_path / hs.TINY_MODEL)) == "tiny"
    assert hr.model_source(str(tmp_path)) == "folder"
    assert hr.model_source("distilbert-base-uncased") == hr.model_source("owner/name") == "hub"
    message = refused(hr.model_source, str(tmp_path / "gone"))
    assert message.startswith(f"model folder {tmp_path / 'gone'} does not exist") and "\n" not in message
    assert hr.model_status(hs.build_settings("tiny", model=str(tmp_path / "gone"))) == "missing"


def test_tiny_data_is_available(tmp_path):
    """The tiny profile's data, the shipped sample, is available without a network."""
    assert hr.data_status(get_settings("tiny", cache_dir=str(tmp_path))) == "local file"


def test_unbuilt_tiny_model_counts_as_available(tmp_path, monkeypatch):
    """The tiny model is available offline even before its first build (load_tokenizer builds it on demand)."""
    monkeypatch.setattr(hr, "reachable", lambda url: False)
    tiny = get_settings("tiny", cache_dir=str(tmp_path / "empty-cache"))
    assert not Path(tiny.model).exists()
    assert hr.model_status(tiny) == "tiny"


def auto_settings(monkeypatch, tmp_path, *, reachable: bool, cuda: bool = False) -> Settings:
    """`get_settings()` with the auto profile, an empty cache, the network and GPU as given."""
    monkeypatch.setattr(hr, "reachable", lambda url: reachable)
    monkeypatch.setattr(hs, "_has_cuda", lambda: cuda)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    return get_settings(cache_dir=str(tmp_path / "empty-cache"), output_dir=str(tmp_path / "out"))


def test_auto_without_network_falls_back_to_tiny(monkeypatch, tmp_path, capsys):
    """Offline with nothing cached, auto chooses tiny and says so loudly on one line, once a process."""
    settings = auto_settings(monkeypatch, tmp_path, reachable=False)
    assert settings.profile == "tiny"
    assert Path(settings.data) == hs.SAMPLE_DATA
    assert Path(settings.model) == tmp_path / "empty-cache" / hs.TINY_MODEL
    auto_settings(monkeypatch, tmp_path, reachable=False)  # as the next cell of a notebook asks again
    loud = [line for line in capsys.readouterr().out.splitlines() if "!!!" in line]
    assert len(loud) == 1 and "tiny" in loud[0], "said once a process"


def test_auto_with_network_chooses_quick(monkeypatch, tmp_path, capsys):
    """Online without a GPU, auto chooses quick and prints no warning."""
    settings = auto_settings(monkeypatch, tmp_path, reachable=True)
    assert settings.profile == "quick" and settings.train_rows == hs.PROFILES["quick"]["train_rows"]
    assert "!!!" not in capsys.readouterr().out


def test_auto_with_gpu_chooses_full(monkeypatch, tmp_path):
    """Online with a GPU, auto chooses full."""
    assert auto_settings(monkeypatch, tmp_path, reachable=True, cuda=True).profile == "full"


def test_auto_with_a_missing_model_folder(monkeypatch, tmp_path):
    """A model folder that does not exist makes auto fall back or fail with a UserError, never a traceback."""
    monkeypatch.setenv("TC_MODEL", str(tmp_path / "no-such-model"))
    try:
        settings = auto_settings(monkeypatch, tmp_path, reachable=False)
    except UserError:
        return
    assert settings.profile == "tiny"


def test_auto_keeps_explicit_values(monkeypatch, tmp_path):
    """Falling back to tiny keeps the values the user chose."""
    monkeypatch.setenv("TC_EPOCHS", "2")
    settings = auto_settings(monkeypatch, tmp_path, reachable=False)
    assert settings.profile == "tiny" and settings.epochs == 2.0


def test_auto_asks_the_network_once_a_process(monkeypatch, tmp_path):
    """Three `helpers.get_settings()` on the auto profile try two connections in all (the data's URL and the hub's,
    asked once each), and `fresh=True` asks again. Both URLs are a port on this machine that refuses connections
    (bound, never listening): nothing leaves the machine."""
    import socket

    from huggingface_hub import constants

    import helpers

    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        port = refusing.getsockname()[1]
        data_url, hub = f"http://127.0.0.1:{port}/sarcasm.json", f"http://127.0.0.1:{port}"
        monkeypatch.setenv("TC_DATA", data_url)
        monkeypatch.setenv("TC_CACHE_DIR", str(tmp_path / "cache"))  # nothing downloaded
        monkeypatch.setenv("TC_OUTPUT_DIR", str(tmp_path / "out"))
        monkeypatch.setattr(constants, "ENDPOINT", hub)
        monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # nothing cached
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        for proxy in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.delenv(proxy, raising=False)
        monkeypatch.setattr(hs, "_has_cuda", lambda: False)
        asked, connections = [], []
        opener, connect = hr.urllib.request.urlopen, socket.create_connection
        monkeypatch.setattr(hr.urllib.request, "urlopen",
                            lambda request, timeout: asked.append(request.full_url) or opener(request, timeout=timeout))
        monkeypatch.setattr(socket, "create_connection",
                            lambda address, *args, **kwargs: connections.append(address) or connect(address, *args,
                                                                                                     **kwargs))
        hr.reachable.cache_clear()  # what earlier tests asked
        profiles = [helpers.get_settings().profile for _ in range(3)]
        assert profiles == ["tiny"] * 3, "the data and the model cannot be reached: auto falls back to tiny"
        assert asked == [data_url, f"{hub}/api/models/{hs.FIELDS['model'].default}"]
        assert connections == [("127.0.0.1", port)] * 2, "one connection for each question, over three calls"
        assert helpers.get_settings(fresh=True).profile == "tiny"
        assert len(asked) == len(connections) == 4, "fresh=True asks both again"
