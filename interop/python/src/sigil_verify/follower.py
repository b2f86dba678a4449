"""Keeping a RevocationStore current: from sigil-server's `GET /v1/revocations` (long poll with
`?wait=` and `If-None-Match`, docs/API.md) or from a file, each in a daemon thread.

While a list is in force the follower asks with `?since=<its sequence>`, so the server may
answer a revocation delta (docs/FORMAT.md §4.3: a few bytes per change instead of the whole
list); the store applies it to the list in force and checks the list it makes like a full one.
After a refused delta (`delta_base_mismatch` or any other reason) the next request leaves
`since` out, so the server answers the whole list.

Every list goes through RevocationStore.offer, the checks of RevocationListUpdate: size bound,
format, a known key and its Ed25519 signature, then no rollback (lower sequence) and no
equivocation (same sequence, other bytes). A refused list is logged and the list in force stays.
Reads are bounded in size (the store's max_bytes, checked against Content-Length and again
while the body arrives) and in time (each request ends after wait + 15 s); failures back off
from 1 s, doubling to 30 s. Logs carry sequences, reason codes and the server's host only.

    follower = RevocationFollower("https://issuer.example/v1/revocations", store).start()
    watcher = FileWatcher("/etc/billing/revocations.sgl", store).start()
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Optional, Tuple, Union

from .core import (
    REVOCATION_DELTA_MEDIA_TYPE,
    REVOCATIONS_MEDIA_TYPE,
    Outcome,
    RevocationListError,
    RevocationStore,
)

__all__ = ["FileWatcher", "RevocationFollower"]

logger = logging.getLogger("sigil_verify")

MIN_BACKOFF = 1.0
MAX_BACKOFF = 30.0


class _Thread:
    """A daemon thread running `_run` until stop()."""

    name = "sigil-revocations"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> "_Thread":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: Optional[float] = None) -> None:
        """Asks the thread to end and waits up to `timeout` seconds (None: do not wait for a
        long poll in flight, which ends on its own within wait + 15 s)."""
        self._stop.set()
        if self._thread is not None and timeout is not None:
            self._thread.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def _offer(self, data: bytes, store: RevocationStore) -> Outcome:
        outcome = store.offer(data)
        if outcome.kind == "installed":
            how = " from a delta" if outcome.delta else ""
            logger.info("revocations installed%s: sequence=%s", how, outcome.sequence)
        elif outcome.error is not None:
            _log_refusal(outcome.error, outcome.delta)
        return outcome


def _log_refusal(error: RevocationListError, delta: bool = False) -> None:
    what = "revocation delta" if delta else "revocations"
    logger.error("%s refused (the list in force stays): reason=%s %s", what, error.reason, error.detail)


class RevocationFollower(_Thread):
    """Long-polls sigil-server's `GET /v1/revocations` and offers every list or delta to
    `store`; asks with `?since=` while a list is in force (see the module's doc)."""

    #: What the follower accepts: a full list or a delta (docs/API.md).
    accept = f"{REVOCATIONS_MEDIA_TYPE}, {REVOCATION_DELTA_MEDIA_TYPE}"

    name = "sigil-revocation-follower"

    #: Backoff after a failure: from min_backoff seconds, doubling to max_backoff.
    min_backoff = MIN_BACKOFF
    max_backoff = MAX_BACKOFF
    #: Seconds a request may take beyond `wait` before it is abandoned.
    slack = 15.0

    def __init__(self, url: str, store: RevocationStore, wait: int = 30) -> None:
        super().__init__()
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError("the revocations URL must be http or https")
        self.url = url
        self.store = store
        self.wait = min(max(int(wait), 1), 60)
        self.etag: Optional[str] = None
        # After a refused delta: ask for the whole list (no since) until a poll succeeds.
        self.whole_list_next = False
        # Redirects are followed (a CDN in front): the list is signed and no credential is sent.
        self._opener = urllib.request.build_opener()

    def poll_once(self) -> str:
        """One request: "current" (a list or delta installed, or the same list again),
        "not_modified" or "failed: ..." (an HTTP status, a refused list or delta, no answer)."""
        status, data, etag = self._request()
        if status == 304:
            self.whole_list_next = False
            return "not_modified"
        if status != 200 or data is None:
            return "failed: no list" if status == 0 else f"failed: HTTP {status}"
        outcome = self._offer(data, self.store)
        if outcome.kind != "refused":
            self.etag = etag
            self.whole_list_next = False
            return "current"
        if outcome.delta:
            self.whole_list_next = True
            logger.warning("revocations: the whole list is asked for next")
        return "failed: refused"

    def request_url(self) -> str:
        """The next request's URL: `since=<sequence in force>` (unless a delta was just
        refused or no list is in force) and `wait=`."""
        query = f"wait={self.wait}"
        current = self.store.current
        if current is not None and current.verified and not self.whole_list_next:
            query = f"since={current.sequence}&{query}"
        return self.url + ("&" if "?" in self.url else "?") + query

    def _request(self) -> Tuple[int, Optional[bytes], Optional[str]]:
        req = urllib.request.Request(self.request_url(), method="GET")
        if self.etag is not None:
            req.add_header("If-None-Match", self.etag)
        req.add_header("Accept", self.accept)
        budget = self.wait + self.slack
        deadline = time.monotonic() + budget
        limit = self.store.max_bytes
        try:
            with self._opener.open(req, timeout=budget) as resp:
                status = int(resp.status)
                if status != 200:
                    return status, None, None
                declared = resp.headers.get("Content-Length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    _log_refusal(RevocationListError("too_large", f"the server declares {declared} bytes, limit {limit}"))
                    return 0, None, None
                chunks = []
                total = 0
                while True:
                    chunk = resp.read(min(1 << 16, limit + 1 - total))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    total += len(chunk)
                    if total > limit:
                        _log_refusal(RevocationListError("too_large", f"the body goes past {limit} bytes"))
                        return 0, None, None
                    if time.monotonic() > deadline:
                        return 0, None, None
                return 200, b"".join(chunks), resp.headers.get("ETag")
        except urllib.error.HTTPError as e:
            e.close()
            return int(e.code), None, None
        except (OSError, ValueError) as e:  # URLError, timeouts, resets, bad answers
            logger.warning("revocations fetch failed: host=%s error=%s", urllib.parse.urlsplit(self.url).hostname, type(e).__name__)
            return 0, None, None

    def _run(self) -> None:
        host = urllib.parse.urlsplit(self.url).hostname
        logger.info("following revocations: host=%s wait=%s", host, self.wait)
        backoff = self.min_backoff
        while not self._stop.is_set():
            started = time.monotonic()
            result = self.poll_once()
            if result in ("not_modified", "current"):
                backoff = self.min_backoff
                # A server that answers at once (no long poll) is asked at most once a second.
                pause = 1.0 - (time.monotonic() - started)
                if pause > 0 and self._stop.wait(pause):
                    return
            else:
                logger.warning("revocations: %s; retrying in %.1f s (host=%s)", result, backoff, host)
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, self.max_backoff)


class FileWatcher(_Thread):
    """Offers a list file to `store` whenever it changes (one stat per `interval`)."""

    name = "sigil-revocation-file-watcher"

    def __init__(self, path: Union[str, "os.PathLike[str]"], store: RevocationStore, interval: float = 1.0) -> None:
        super().__init__()
        self.path = os.fspath(path)
        self.store = store
        self.interval = interval
        self._last: Optional[Tuple[int, int, int, int]] = None

    def check_once(self) -> Optional[Outcome]:
        """Offers the file if it changed since the last look; None if it did not (or is absent)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._last:
            return None
        self._last = stamp
        try:
            with open(self.path, "rb") as f:
                data = f.read(self.store.max_bytes + 1)
        except OSError as e:
            error = RevocationListError("io", f"cannot read the list: {e.strerror}")
            _log_refusal(error)
            return Outcome("refused", error=error)
        return self._offer(data, self.store)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check_once()
            if self._stop.wait(self.interval):
                return
