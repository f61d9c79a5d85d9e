"""Object stores and HTTP through GDAL's virtual file systems: the
:class:`Store` facade over the option registry (:mod:`cloudio._store_options`)."""
from __future__ import annotations

import ctypes
import os
import re
from typing import Any, Iterator, List

from . import _lib
from ._store_options import is_secret, register, scrub, store_prefix
from .errors import CloudIOError, InvalidArgumentError, error_for


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
        shown = {k: ("***" if is_secret(k) else v) for k, v in self._options.items()}
        return f"Store({scrub(self.prefix, refused='***')!r}, mode={self.mode!r}, options={shown!r})"

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
        replaced them for its prefix (the library knows the configured ones)."""
        return scrub(message, self._options.items())


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
    if not isinstance(url, str):
        raise ValueError(f"url must be a str, not {url!r}")
    prefix = store_prefix(url, writable=mode == "w")
    clean = {}
    for key, value in options.items():
        if not re.fullmatch(r"[A-Z][A-Z0-9_]*", key):
            raise ValueError(f"option {key!r} is not a GDAL configuration option name "
                             "(upper case, like AWS_S3_ENDPOINT)")
        clean[key] = "YES" if value is True else "NO" if value is False else str(value)
    register(prefix, clean.items(), bool(replace))
    return Store(prefix, mode, clean)
