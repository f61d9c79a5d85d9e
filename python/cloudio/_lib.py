"""Loading libcloudio and declaring its C ABI (include/cloudio.h).

The library is loaded once per process, on first use, never at import: a
process that has started the Go runtime must not fork and then call it (the
child would hang), so a forked child that calls it gets an error at once.
"""
from __future__ import annotations

import ctypes
import os
import threading
from ctypes import POINTER, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint64, c_void_p
from pathlib import Path

from .errors import CloudIOError, error_for

ABI_VERSION = 1
ERR_LEN = 2048

PROGRESS_FN = ctypes.CFUNCTYPE(c_int, c_double, c_char_p, c_void_p)


class Info(ctypes.Structure):
    """struct cloudio_info."""

    _fields_ = [("rows", c_int64), ("cols", c_int64), ("bands", c_int64), ("dtype", c_int),
                ("block_rows", c_int64), ("block_cols", c_int64),
                ("has_geotransform", c_int), ("geotransform", c_double * 6),
                ("has_nodata", c_int), ("nodata", c_double)]


class ReaderOptions(ctypes.Structure):
    """struct cloudio_reader_options."""

    _fields_ = [("tile_rows", c_int64), ("tile_cols", c_int64), ("overlap", c_int64), ("halo", c_int64),
                ("edge", c_int), ("bands", POINTER(c_int)), ("n_bands", c_size_t), ("dtype", c_int),
                ("workers", c_int), ("prefetch", c_int)]


_ERR = (c_char_p, c_size_t)
_PROTOTYPES = {
    "cloudio_abi_version": (c_int, ()),
    "cloudio_version": (c_char_p, ()),
    "cloudio_status_name": (c_char_p, (c_int,)),
    "cloudio_tile_windows": (c_int, (c_int64, c_int64, c_int64, c_int64, c_int64, c_uint64, POINTER(c_int64), c_uint64,
                                     POINTER(c_uint64), POINTER(c_uint64)) + _ERR),
    "cloudio_write_cog": (c_int, (c_char_p, c_char_p, c_char_p, POINTER(c_char_p), PROGRESS_FN, c_void_p) + _ERR),
    "cloudio_write_cog_buffer": (c_int, (c_void_p, c_size_t, c_int, c_int64, c_int64, c_int64, POINTER(c_double),
                                         c_char_p, POINTER(c_double), c_char_p, c_char_p, POINTER(c_char_p),
                                         PROGRESS_FN, c_void_p) + _ERR),
    "cloudio_dataset_open": (c_int, (c_char_p, POINTER(c_void_p)) + _ERR),
    "cloudio_dataset_info": (c_int, (c_void_p, POINTER(Info)) + _ERR),
    "cloudio_dataset_crs": (c_int, (c_void_p, c_char_p, c_size_t, POINTER(c_size_t)) + _ERR),
    "cloudio_dataset_read": (c_int, (c_void_p, c_int64, c_int64, c_int64, c_int64, POINTER(c_int), c_size_t, c_int,
                                     c_void_p, c_size_t) + _ERR),
    "cloudio_dataset_close": (c_int, (c_void_p,) + _ERR),
    "cloudio_reader_options_init": (None, (POINTER(ReaderOptions),)),
    "cloudio_reader_open": (c_int, (c_char_p, POINTER(ReaderOptions), POINTER(c_void_p)) + _ERR),
    "cloudio_reader_info": (c_int, (c_void_p, POINTER(Info), POINTER(c_uint64), POINTER(c_size_t)) + _ERR),
    "cloudio_reader_next": (c_int, (c_void_p, POINTER(c_int64), c_void_p, c_size_t) + _ERR),
    "cloudio_reader_close": (c_int, (c_void_p,) + _ERR),
    "cloudio_writer_open": (c_int, (c_char_p, c_int64, c_int64, c_int64, c_int, POINTER(c_double), c_char_p,
                                    POINTER(c_double), c_char_p, POINTER(c_char_p), POINTER(c_void_p)) + _ERR),
    "cloudio_writer_write": (c_int, (c_void_p, c_int64, c_int64, c_int64, c_int64, c_void_p, c_size_t) + _ERR),
    "cloudio_writer_close": (c_int, (c_void_p, PROGRESS_FN, c_void_p) + _ERR),
    "cloudio_writer_abort": (c_int, (c_void_p,) + _ERR),
    "cloudio_storage_configure": (c_int, (c_char_p, POINTER(c_char_p)) + _ERR),
    "cloudio_storage_list": (c_int, (c_char_p, c_char_p, c_size_t, POINTER(c_size_t)) + _ERR),
    "cloudio_storage_exists": (c_int, (c_char_p, POINTER(c_int)) + _ERR),
    "cloudio_storage_delete": (c_int, (c_char_p,) + _ERR),
}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_forked_after_load = False


def _after_fork_in_child() -> None:
    global _forked_after_load
    if _lib is not None:
        _forked_after_load = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def candidates() -> list[Path]:
    """Where the library is looked for, in order."""
    here = Path(__file__).resolve().parent
    paths = [here / "libcloudio.so", here.parent.parent / "build" / "libcloudio.so"]
    if os.environ.get("CLOUDIO_LIBRARY"):
        paths.append(Path(os.environ["CLOUDIO_LIBRARY"]))
    return paths


def library() -> ctypes.CDLL:
    """The loaded library, with every function's prototype declared."""
    global _lib
    if _forked_after_load:
        raise CloudIOError(
            "libcloudio was loaded before this process was forked, and the Go runtime inside it does not "
            "survive fork(): start worker processes with the 'spawn' method "
            "(multiprocessing.get_context('spawn'), or mp_context= for ProcessPoolExecutor)")
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            _lib = _load()
    return _lib


def _load() -> ctypes.CDLL:
    tried = []
    for path in candidates():
        if path.is_file():
            lib = ctypes.CDLL(str(path))
            break
        tried.append(str(path))
    else:
        raise ImportError(
            "cannot find libcloudio.so (looked in: " + ", ".join(tried) + "). Build it with `make` in the "
            "cloudio checkout, install the package with `pip install ./python`, or point CLOUDIO_LIBRARY at it.")
    for name, (restype, argtypes) in _PROTOTYPES.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, list(argtypes)
    abi = lib.cloudio_abi_version()
    if abi != ABI_VERSION:
        raise ImportError(f"{path} implements cloudio ABI {abi}, but this package needs ABI {ABI_VERSION}: rebuild it")
    return lib


def call(name: str, *args) -> None:
    """Call a status-returning function, appending the error buffer, and raise
    the matching CloudIOError subclass on failure."""
    err = ctypes.create_string_buffer(ERR_LEN)
    status = getattr(library(), name)(*args, err, ERR_LEN)
    if status != 0:
        raise error_for(status, err.value.decode("utf-8", "replace"))


def fspath(path) -> bytes:
    """A path, URL or os.PathLike as the bytes the C ABI takes."""
    return os.fsencode(path)


def options_array(options) -> ctypes.Array | None:
    """GDAL-style NULL-terminated KEY=VALUE array from a dict or iterable."""
    if not options:
        return None
    if isinstance(options, dict):
        items = [f"{k}={v}" for k, v in options.items()]
    elif isinstance(options, (str, bytes)):
        raise ValueError("options must be a dict or a list of 'KEY=VALUE' strings, not a single string")
    else:
        items = [str(o) for o in options]
    return (c_char_p * (len(items) + 1))(*[i.encode() for i in items], None)


class ProgressAdapter:
    """Wraps a Python progress callable for the C ABI. The callable gets the
    fraction done; returning False cancels. An exception raised inside it
    (KeyboardInterrupt too) cancels the operation and is re-raised by
    ``reraise`` once the C call has returned."""

    def __init__(self, progress, scale=(0.0, 1.0)):
        self.progress = progress
        self.scale = scale
        self.exception: BaseException | None = None
        self.c_fn = PROGRESS_FN(self._call) if progress is not None else PROGRESS_FN()

    def _call(self, fraction, message, user):
        try:
            lo, hi = self.scale
            return 1 if self.progress(lo + (hi - lo) * fraction) is False else 0
        except BaseException as exc:  # noqa: B902 - re-raised after the C call
            self.exception = exc
            return 1

    def reraise(self) -> None:
        if self.exception is not None:
            exc, self.exception = self.exception, None
            raise exc
