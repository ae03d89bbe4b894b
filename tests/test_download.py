"""The HTTP client (`helpers/download.py`): a download whole or not at all, retried only when worth it (told by the
exception's type, errno and status code, never its words), each retry and the final failure one line."""

from __future__ import annotations

import contextlib
import errno
import http
import http.server
import json
import socket
import threading

import pytest

import helpers.download as hd
from helpers import UserError
from helpers.data import offline_hint, read_table
from helpers.download import download

from support import closed_port, headline_records, warnings_in


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    """A connection dropped mid-file (a loopback server announcing 1000 bytes and closing after 20) leaves neither
    the destination nor a temporary part file, after a retry for each attempt."""
    sleeps = []
    monkeypatch.setattr(hd.time, "sleep", sleeps.append)
    with serving(Dropping) as url:
        dest = tmp_path / "cache" / "sarcasm.json"
        with pytest.raises(UserError, match="could not download"):
            download(url, dest, read_table, offline_hint)
    assert list(dest.parent.iterdir()) == []
    assert len(sleeps) == 2 and Dropping.requests == 3, "a dropped connection is transient: tried 3 times"


def test_a_download_that_does_not_parse_is_not_cached(tmp_path):
    """A downloaded file that is not valid JSON raises a UserError and leaves nothing in the cache."""
    broken = tmp_path / "broken.json"
    broken.write_text('[{"headline": "half a rec')
    cache = tmp_path / "cache"
    with pytest.raises(UserError, match="cannot read"):
        download(broken.as_uri(), cache / "sarcasm.json", read_table, offline_hint)
    assert list(cache.iterdir()) == []


class Flaky(http.server.BaseHTTPRequestHandler):
    """Serves `body`; the first request is answered by `first` ("stall": nothing in time; "503": an error)."""

    body, first, requests, release = b"", "", 0, threading.Event()

    def do_GET(self):
        type(self).requests += 1
        if type(self).requests == 1 and self.first == "stall":
            self.release.wait(5)  # longer than the client's timeout
            return
        if type(self).requests == 1 and self.first == "503":
            self.send_error(503)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class Dropping(http.server.BaseHTTPRequestHandler):
    """Announces 1000 bytes, sends 20, and closes the connection."""

    requests = 0

    def do_GET(self):
        type(self).requests += 1
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b'[{"headline": "half a')
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


class Status(http.server.BaseHTTPRequestHandler):
    """Answers every request with the HTTP status `code`."""

    code, requests = 404, 0

    def do_GET(self):
        type(self).requests += 1
        self.send_error(self.code)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]):
    """A loopback HTTP server answering with `handler` (its request count reset) for the block; its file's URL."""
    handler.requests = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/sarcasm.json"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("code, permanent", [(404, True), (403, True), (410, True), (429, False), (500, False),
                                             (503, False)])
def test_permanent_or_transient_by_status_code(code, permanent, tmp_path, monkeypatch):
    """A client error (not found, forbidden, gone) is not retried; too many requests or a server error is, twice,
    each retry one line; the final error is one line naming the URL and the server's reason."""
    sleeps = []
    monkeypatch.setattr(hd.time, "sleep", sleeps.append)
    handler = type("Handler", (Status,), {"code": code})
    with serving(handler) as url:
        with pytest.raises(UserError) as caught:
            download(url, tmp_path / "d.json", read_table, offline_hint)
    assert handler.requests == (1 if permanent else 3) and len(sleeps) == (0 if permanent else 2)
    message = str(caught.value)
    assert message.startswith(f"could not download {url} (") and len(message.splitlines()) == 1
    assert http.HTTPStatus(code).phrase in message
    assert list(tmp_path.glob("*.json")) == [] and list(tmp_path.glob(".*")) == []


def test_huggingface_offline_mode_stops_the_download_at_once(tmp_path, monkeypatch):
    """The download goes through huggingface_hub's client: with HF_HUB_OFFLINE set it is refused, not retried."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    sleeps = []
    monkeypatch.setattr(hd.time, "sleep", sleeps.append)
    with serving(Status) as url:
        with pytest.raises(UserError, match="offline mode"):
            download(url, tmp_path / "d.json", read_table, offline_hint)
    assert Status.requests == 0 and sleeps == []


@pytest.mark.parametrize("error, permanent", [
    (socket.gaierror(socket.EAI_NONAME, "Nom ou service inconnu"), True),  # the system's words in another language
    (ConnectionRefusedError(errno.ECONNREFUSED, "Verbindungsaufbau abgelehnt"), True),
    (OSError(errno.EHOSTUNREACH, "whatever the system says"), True),
    (ConnectionResetError(errno.ECONNRESET, "Name or service not known"), False),  # a message that lies: its type
    (TimeoutError("No such file or directory"), False),                            # decides
])
def test_permanent_or_transient_by_type_never_by_message(error, permanent):
    """What a failure is, is told by the exception's type and errno along the chain the HTTP client raises (its own
    error from the system's), never by its message: a French name error is permanent, a reset is transient."""
    try:
        try:
            raise error
        except OSError as system:
            raise RuntimeError("the HTTP client's own error") from system
    except RuntimeError as wrapped:
        assert hd._permanent(wrapped) is permanent


@pytest.mark.parametrize("first, said", [
    ("stall", "warning: no answer from 127.0.0.1 in 0.5 s; retrying, 2 of 3"),
    ("503", "warning: download from 127.0.0.1 failed (Service Unavailable); retrying, 2 of 3"),
])
def test_download_says_what_it_is_doing(first, said, tmp_path, monkeypatch, capsys):
    """A stalled or failed first answer is one line naming the host and the retry; the file arrives with a bar."""
    body = json.dumps(headline_records(200)).encode()
    handler = type("Handler", (Flaky,), {"body": body, "first": first, "requests": 0, "release": threading.Event()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(hd.time, "sleep", lambda seconds: None)  # no backoff wait in a test
    monkeypatch.setattr(hd, "TIMEOUT", 0.5)
    try:
        dest = hd.download(f"http://127.0.0.1:{server.server_port}/sarcasm.json", tmp_path / "sarcasm.json",
                           read_table, offline_hint)
    finally:
        handler.release.set()
        server.shutdown()
        server.server_close()
    assert dest.read_bytes() == body and handler.requests == 2
    err = capsys.readouterr().err
    assert warnings_in(err) == [said]
    assert "downloading sarcasm.json" in err and "100%" in err, "a progress bar while the file arrives"


@pytest.mark.parametrize("url", ["http://127.0.0.1:{closed_port}/sarcasm.json",  # made in the test: the workers of
                                 "http://no-such-host.invalid/d.json"])        # make test collect the same ids
def test_a_host_that_cannot_answer_is_not_retried(url, tmp_path, monkeypatch):
    """Nothing listening, or a name that does not resolve, is told by the exception's type: no retry, one error."""
    url = url.format(closed_port=closed_port())
    sleeps = []
    monkeypatch.setattr(hd.time, "sleep", sleeps.append)
    with pytest.raises(UserError, match="could not download"):
        download(url, tmp_path / "d.json", read_table, offline_hint)
    assert sleeps == [], "a permanent failure is not retried"
