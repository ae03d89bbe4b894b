"""Download a file atomically through huggingface_hub's HTTP client: retried when worth it, one line when it fails.

Introduced in notebook 01 (download: `data.fetch` brings the data file with it); `models` asks `no_connection`
whether the hub can be reached at all.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from .layout import atomic
from .settings import UserError, first_line, warn

RETRIES, TIMEOUT = 3, 30.0  # attempts at a download, and seconds to wait for each answer
TRANSIENT_STATUS = {408, 425, 429}  # timeout, too early, too many requests: worth asking again (as is any 5xx)
NO_CONNECTION = (socket.gaierror, ConnectionRefusedError)  # no such host, nobody listening
NO_ROUTE = (errno.ENETUNREACH, errno.EHOSTUNREACH)


def download(url: str, dest: Path, check: Callable[[Path], object], hint: Callable[[], str]) -> Path:
    """Fetch `url` into `dest` (`layout.atomic`: whole, once `check(file)` accepts it, or not at all), with a bar.
    The request goes through huggingface_hub's HTTP client (`get_session`: its proxies, certificates and offline mode,
    as for the model). A transient failure is retried with backoff, each retry announced in one line; a final or
    permanent failure ends in one line ending with `hint()` (notebook 01)."""
    for attempt in range(1, RETRIES + 1):
        try:
            with atomic(dest) as tmp:
                with open(tmp, "wb") as out:
                    _fetch_into(url, out, dest.name)
                check(tmp)  # a file that does not parse never enters the cache
            return dest
        except _failures() as error:
            if attempt == RETRIES or _permanent(error):
                raise UserError(f"could not download {url} ({_reason(error)}); {hint()}") from None
            warn(f"{_failure(url, error)}; retrying, {attempt + 1} of {RETRIES}")
            time.sleep(2 ** (attempt - 1))
    raise AssertionError("unreachable")


class HTTPStatus(Exception):
    """A download answered with an HTTP error status `code`; its message is the server's phrase for it."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason or f"HTTP {code}")
        self.code = code


def _fetch_into(url: str, out, name: str) -> None:
    """Write the body at `url` into the file `out`: an http(s) URL through huggingface_hub's client, a file URL
    from the disk."""
    if urllib.parse.urlparse(url).scheme == "file":
        with open(urllib.request.url2pathname(urllib.parse.urlparse(url).path), "rb") as source:
            _copy(os.fstat(source.fileno()).st_size, iter(lambda: source.read(1 << 16), b""), out, name)
        return
    from huggingface_hub.utils import get_session

    with get_session().stream("GET", url, timeout=TIMEOUT, follow_redirects=True) as response:
        if response.status_code >= 400:
            raise HTTPStatus(response.status_code, response.reason_phrase)
        size = int(response.headers.get("Content-Length") or 0) or None
        _copy(size, response.iter_bytes(1 << 16), out, name)


def _copy(size: int | None, chunks, out, name: str) -> None:
    """Copy a download's `chunks` into the file `out`, showing its progress (in bytes of the announced `size`)."""
    with tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=f"downloading {name}") as bar:
        for chunk in chunks:
            out.write(chunk)
            bar.update(len(chunk))


def _client():
    """The HTTP library huggingface_hub's client comes from (httpx, or httpx2 in newer releases), for its exceptions."""
    from huggingface_hub.utils import get_session

    return sys.modules[type(get_session()).__module__.split(".")[0]]


def _failures() -> tuple[type[BaseException], ...]:
    """What a failed download raises: an HTTP status, the system's errors, and the HTTP client's own."""
    return HTTPStatus, OSError, _client().HTTPError


def _causes(error: BaseException) -> list[BaseException]:
    """`error` and the exceptions it was raised from, outermost first (the system's error is usually the last)."""
    chain = []
    while error is not None and all(error is not seen for seen in chain):
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def no_connection(error: BaseException) -> OSError | None:
    """The operating system's error along `error`'s chain that says no connection can be made (a name that does not
    resolve, nobody listening, no route to the host), or None (a timeout, an HTTP error: maybe transient); told by
    type and errno, never by message (notebook 01; `models` asks it of the hub too)."""
    return next((cause for cause in _causes(error) if isinstance(cause, NO_CONNECTION)
                 or (isinstance(cause, OSError) and cause.errno in NO_ROUTE)), None)


def _permanent(error: BaseException) -> bool:
    """True for failures a retry cannot mend: an HTTP status below 500 but a few (not found, forbidden), no such host
    or file, nothing listening on the port, no route, huggingface_hub's offline mode. Told by the exception's type,
    errno and status code, never by its message (which is the system's words, in the system's language)."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    if isinstance(error, HTTPStatus):
        return error.code < 500 and error.code not in TRANSIENT_STATUS
    return no_connection(error) is not None or any(isinstance(cause, (FileNotFoundError, OfflineModeIsEnabled))
                                                   for cause in _causes(error))


def _failure(url: str, error: BaseException) -> str:
    """What went wrong with one attempt at a download: no answer in time (a timeout anywhere along `error`'s chain,
    the client's or the system's), or the failure itself."""
    host = urllib.parse.urlparse(url).hostname or url
    if any(isinstance(cause, (TimeoutError, _client().TimeoutException)) for cause in _causes(error)):
        return f"no answer from {host} in {TIMEOUT:g} s"
    return f"download from {host} failed ({_reason(error)})"


def _reason(error: BaseException) -> str:
    """A short description of a download failure: the system's own words when it has some, else the client's."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    if any(isinstance(cause, OfflineModeIsEnabled) for cause in _causes(error)):
        return "huggingface_hub's offline mode: HF_HUB_OFFLINE is set"
    # the operating system's error behind `error` (the HTTP client wraps it)
    system = next((cause for cause in reversed(_causes(error)) if isinstance(cause, OSError) and cause.errno), None)
    if system is not None and not isinstance(error, HTTPStatus):
        return system.strerror or str(system)
    return first_line(error)
