"""Object stores and HTTP through GDAL's virtual file systems."""
from __future__ import annotations

import ctypes
import os
import re
import threading
import time
from typing import Any, Dict, Iterator, List, NamedTuple, Tuple

from . import _lib
from .errors import CloudIOError, InvalidArgumentError, error_for

_SCHEMES = ("s3://", "gs://", "gcs://", "az://", "azure://", "http://", "https://", "/vsi")
# Option names whose values are secrets: never shown, never in messages
# (the library's IsSecretOption says the same of the messages it makes).
# AZURE_STORAGE_ACCESS_KEY is a secret; AWS_ACCESS_KEY_ID is a user name.
_SECRET = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|USERPWD|CONNECTION_STRING|SAS|PRIVATE_KEY|ACCOUNT_KEY|"
                     r"ACCESS_KEY(?!_ID)|CREDENTIALS|HEADERS|COOKIE|AUTHORIZATION|SIGNATURE|API_KEY")
# The secret fields of an Azure connection string, which may show up alone.
_CONNECTION_STRING_SECRET = re.compile(r"(?:AccountKey|SharedAccessSignature)=([^;]+)", re.IGNORECASE)
# A URL's user:password, and the signature of an Azure SAS, in names that
# messages made here repeat.
_URL_SECRETS = [(re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),
                (re.compile(r"(?i)([?&]sig=)[^&\s:]+"), r"\1***")]


class Store:
    """Files under one URL prefix (a bucket, a container, a folder), with
    GDAL options scoped to that prefix. Make one with :func:`cloud_storage`.

    Keys are paths relative to the prefix; ``store.url(key)`` is the full URL,
    which every cloudio function accepts.
    """

    def __init__(self, prefix: str, mode: str, options: dict):
        self.prefix, self.mode = prefix, mode
        self._options = options

    def __repr__(self) -> str:
        shown = {k: ("***" if _SECRET.search(k) else v) for k, v in self._options.items()}
        return f"Store({scrub(self.prefix, ())!r}, mode={self.mode!r}, options={shown!r})"

    def url(self, key: str = "") -> str:
        """The full URL of key."""
        return self.prefix + str(key).lstrip("/")

    def _call(self, name: str, *args) -> None:
        """A library call whose errors never carry this store's secrets."""
        try:
            _lib.call(name, *args)
        except CloudIOError as exc:
            raise error_for(exc.status, self._scrub(str(exc))) from None

    def _writable(self) -> None:
        if self.mode != "w":
            raise InvalidArgumentError(f"{self.prefix} was opened with mode='r': open it with mode='w' to write")

    def list(self, key: str = "") -> List[str]:
        """Names under key (all keys below it for object stores), sorted."""
        url = _lib.fspath(self.url(key))
        needed = ctypes.c_size_t()
        self._call("cloudio_storage_list", url, None, 0, ctypes.byref(needed))
        buf = ctypes.create_string_buffer(needed.value)
        self._call("cloudio_storage_list", url, buf, needed.value, None)
        text = buf.value.decode()
        return text.split("\n") if text else []

    def exists(self, key: str = "") -> bool:
        """Whether key is an existing object; with no key, whether
        the bucket or container exists and these credentials can list it
        (refused credentials raise :class:`ReadWriteError`)."""
        flag = ctypes.c_int()
        self._call("cloudio_storage_exists", _lib.fspath(self.url(key)), ctypes.byref(flag))
        return bool(flag.value)

    def delete(self, key: str) -> None:
        self._writable()
        self._call("cloudio_storage_delete", _lib.fspath(self.url(key)))

    def write_cog(self, dataset, key: str, compress: str = "deflate", **kwargs) -> str:
        """Write a COG at key, as :func:`cloudio.write_cog` does; the object
        appears only once the whole upload succeeded."""
        from .cog import write_cog
        return self._write(write_cog, dataset, key, compress, **kwargs)

    def write_zarr(self, dataset, key: str, **kwargs) -> str:
        """Write a Zarr store at key, as :func:`cloudio.write_zarr` does;
        ``store.read_tiles(key)`` and ``store.dask(key)`` read it back."""
        from .zarr import write_zarr
        return self._write(write_zarr, dataset, key, **kwargs)

    def _write(self, writer, dataset, key: str, *args, **kwargs) -> str:
        self._writable()
        try:
            return writer(dataset, self.url(key), *args, **kwargs)
        except CloudIOError as exc:
            raise error_for(exc.status, self._scrub(str(exc))) from None

    def read_tiles(self, key: str, *args, **kwargs) -> Iterator:
        """:func:`cloudio.read_tiles` of the raster at key."""
        from .stream import read_tiles
        return read_tiles(self.url(key), *args, **kwargs)

    def dask(self, key: str, *args, **kwargs):
        """:func:`cloudio.dask_backend` of the raster at key; its tasks carry
        this store's options to whatever process runs them."""
        from ._dask import dask_backend
        return dask_backend(self.url(key), *args, **kwargs)

    def _scrub(self, message: str) -> str:
        """message without this store's secrets, nor those of options that
        replaced them for its prefix."""
        current = _configured.get(self.prefix)
        return scrub(message, list(self._options.items()) + list(current.options if current else ()))


def scrub(message: str, options) -> str:
    """message with the values of secret options (``(key, value)`` pairs),
    the keys inside connection strings, URL passwords and SAS signatures
    masked."""
    secrets = [str(value) for key, value in options if _SECRET.search(key) and value]
    secrets += [field for value in secrets for field in _CONNECTION_STRING_SECRET.findall(value)]
    for secret in secrets:
        message = message.replace(secret, "***")
    for pattern, mask in _URL_SECRETS:
        message = pattern.sub(mask, message)
    return message


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
        shown = tuple((k, "***" if _SECRET.search(k) else v) for k, v in self.options)
        return f"StoreAccess({self.prefix!r}, {shown!r})"


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


def access_for(name: str) -> Tuple[StoreAccess, ...]:
    """The configured prefixes that cover name (a URL, or the store in a
    Zarr array's ``ZARR:"url":/array``), shortest first: GDAL lets a longer
    prefix override a shorter one's options, option by option."""
    url = name[len('ZARR:"'):] if name.startswith('ZARR:"') else name
    with _configured_lock:
        found = [a for p, a in _configured.items() if url.startswith(p)]
    return tuple(sorted(found, key=lambda a: len(a.prefix)))


def ensure_configured(accesses: Tuple[StoreAccess, ...]) -> None:
    """Configure in this process the prefixes a task carries, once per
    process (in the process that made the task, this finds them all done),
    and never over newer options for a prefix."""
    for access in accesses:
        with _configured_lock:
            current = _configured.get(access.prefix)
        if current is None or current.version < access.version:
            _configure(access, replace=True)


def cloud_storage(url: str, *, mode: str = "r", replace: bool = False, **options: Any) -> Store:
    """A :class:`Store` for the URL prefix ``url``.

    ``url`` is ``s3://bucket[/prefix]``, ``gs://bucket``, ``az://container``,
    ``http(s)://host/path`` (read-only) or a GDAL ``/vsi...`` prefix.
    ``options`` are GDAL configuration options, by GDAL's own names
    (``AWS_S3_ENDPOINT``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
    ``AWS_HTTPS``, ``AWS_VIRTUAL_HOSTING``, ``GS_SECRET_ACCESS_KEY``,
    ``AZURE_STORAGE_CONNECTION_STRING``, ``GDAL_HTTP_TIMEOUT``, ...). They
    apply to this prefix only (GDAL's ``VSISetPathSpecificOption``), so two
    stores with different credentials work side by side and nothing leaks
    into global configuration; anything not given comes from the usual
    environment variables, as GDAL reads them. Timeouts and retries are
    bounded by default, and a store's own apply to every call cloudio makes
    under its prefix (but Azure uploads, which follow only GDAL's global
    ``GDAL_HTTP_TIMEOUT``). ``mode="r"`` refuses writes. The options travel
    with the tasks of :func:`cloudio.dask_backend` arrays under the prefix,
    so Dask worker processes read with them too.

    A prefix has one set of options per process: a second store for the same
    prefix with other options raises :class:`cloudio.InvalidArgumentError`
    (naming the options that differ) unless ``replace=True``, which gives
    every store of the prefix the new options. For nested prefixes
    (``s3://bucket`` and ``s3://bucket/folder``), each option comes from the
    longest prefix of a name that sets it (GDAL's rule).

    >>> store = cloud_storage("s3://dem-bucket/tiles", AWS_SECRET_ACCESS_KEY="hunter2")
    >>> store
    Store('s3://dem-bucket/tiles/', mode='r', options={'AWS_SECRET_ACCESS_KEY': '***'})
    >>> store.url("n45e007.tif")
    's3://dem-bucket/tiles/n45e007.tif'
    """
    if mode not in ("r", "w"):
        raise ValueError(f"mode must be 'r' or 'w', not {mode!r}")
    url = os.fspath(url)
    if not isinstance(url, str) or not url.lower().startswith(_SCHEMES):
        raise ValueError(f"url must start with one of {', '.join(_SCHEMES)}, not {scrub(repr(url), ())}")
    if mode == "w" and url.lower().startswith(("http://", "https://")):
        raise ValueError(f"{scrub(url, ())} is read-only: HTTP cannot be written")
    prefix = url if url.endswith("/") else url + "/"
    clean = {}
    for key, value in options.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            raise ValueError(f"option {key!r} is not a GDAL configuration option name "
                             "(upper case, like AWS_S3_ENDPOINT)")
        clean[key] = "YES" if value is True else "NO" if value is False else str(value)
    _configure(StoreAccess(prefix, tuple(sorted(clean.items())), _next_version()), bool(replace))
    return Store(prefix, mode, clean)
