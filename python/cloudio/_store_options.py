"""The option registry: which GDAL options each store prefix has in this
process, and how they travel to the processes that read under it (Dask
workers). Also the library's scrubbing of secrets, for the messages and
reprs made here.
:mod:`cloudio.storage` (the :class:`~cloudio.storage.Store` facade) and
:mod:`cloudio._dask` both build on it."""
from __future__ import annotations

import ctypes
import threading
import time
from typing import Dict, Iterable, NamedTuple, Optional, Tuple

from . import _lib
from .errors import CloudIOError, error_for


def is_secret(key: str) -> bool:
    """Whether the option named key holds a secret (never shown), as the
    library says; where it cannot ask the library (a process forked after
    the library was loaded), every option does."""
    secret = ctypes.c_int()
    try:
        _lib.call("cloudio_secret_option", key.encode(), ctypes.byref(secret))
    except CloudIOError:
        return True
    return bool(secret.value)


def scrub(message: str, options: Iterable[Tuple[str, str]] = (), *, refused: Optional[str] = None) -> str:
    """message with what the library takes for secrets masked: the values
    of secret options configured in this process and among options
    (``(key, value)`` pairs), credentials in URLs, signatures, tokens, the
    keys of connection strings. Where the library cannot run (a process
    forked after it was loaded), refused stands in for message, else the
    library's refusal: neither carries a secret."""
    try:
        return _lib.call_text("cloudio_scrub", message.encode("utf-8", "replace"),
                              _lib.options_array([f"{k}={v}" for k, v in options]),
                              guess=len(message.encode("utf-8", "replace")) + 256)
    except CloudIOError as exc:
        return str(exc) if refused is None else refused


class StoreAccess(NamedTuple):
    """A configured prefix and its options: what a task running in another
    process (a Dask worker) needs to read under the prefix. Small and
    picklable; its repr hides secrets, and it never appears in task keys.
    ``version`` orders the options a prefix had over time (nanoseconds of
    the process that configured them), so that a task made before
    ``replace=True`` never puts the old options back."""

    prefix: str
    options: Tuple[Tuple[str, str], ...]
    version: int = 0

    def __repr__(self) -> str:
        shown = tuple((k, "***" if is_secret(k) else v) for k, v in self.options)
        return f"StoreAccess({scrub(self.prefix, refused='***')!r}, {shown!r})"


# The prefixes configured in this process, with their options: dask_backend
# ships the ones that cover a raster with its tasks (access_for), and a
# worker process configures them before its first read (ensure_configured).
_configured: Dict[str, StoreAccess] = {}
_configured_lock = threading.Lock()
_last_version = 0


def _configure(access: StoreAccess, replace: bool) -> None:
    """Scope access's options to its prefix in the library, and remember
    them, unless newer options are configured for the prefix already."""
    name = "cloudio_storage_replace" if replace else "cloudio_storage_configure"
    with _configured_lock:
        current = _configured.get(access.prefix)
        if current is not None and current.version > access.version:
            return
        try:
            _lib.call(name, _lib.fspath(access.prefix), _lib.options_array([f"{k}={v}" for k, v in access.options]))
        except CloudIOError as exc:
            raise error_for(exc.status, scrub(str(exc), access.options)) from None
        _configured[access.prefix] = access


def _next_version() -> int:
    """A version newer than every one this process made."""
    global _last_version
    with _configured_lock:
        _last_version = max(_last_version + 1, time.time_ns())
        return _last_version


def register(prefix: str, options: Iterable[Tuple[str, str]], replace: bool) -> None:
    """Give prefix these options in the library (the core checks the URL and
    the options), as the newest set this process has for it."""
    _configure(StoreAccess(prefix, tuple(sorted(options)), _next_version()), replace)


def access_for(name: str) -> Tuple[StoreAccess, ...]:
    """The configured prefixes that cover name (a URL, or the store in a
    Zarr array's ``ZARR:"url":/array``), shortest first: GDAL lets a longer
    prefix override a shorter one's options, option by option."""
    with _configured_lock:
        found = [a for p, a in _configured.items() if _covers(p, name)]
    return tuple(sorted(found, key=lambda a: len(a.prefix)))


def store_prefix(url: str, writable: bool) -> str:
    """The library's canonical form of the store prefix url (it checks the
    URL, and that the store can be written when writable)."""
    return _lib.call_text("cloudio_storage_prefix", _lib.fspath(url), int(writable), guess=len(url.encode()) + 2)


def _covers(prefix: str, name: str) -> bool:
    """Whether name lies under the store prefix, as the library says."""
    covers = ctypes.c_int()
    _lib.call("cloudio_storage_covers", _lib.fspath(prefix), _lib.fspath(name), ctypes.byref(covers))
    return bool(covers.value)


def ensure_configured(accesses: Tuple[StoreAccess, ...]) -> None:
    """Configure in this process the prefixes a task carries, once per
    process (in the process that made the task, this finds them all done),
    and never over newer options for a prefix."""
    for access in accesses:
        with _configured_lock:
            current = _configured.get(access.prefix)
        if current is None or current.version < access.version:
            _configure(access, replace=True)
