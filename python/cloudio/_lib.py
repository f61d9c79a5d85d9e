"""Loading libcloudio and declaring its C ABI (``include/cloudio.h``).

The library is loaded once per process, on first use, never at import. Where
it is looked for, in order:

1. ``libcloudio.so`` next to this package (``pip install ./python`` puts it there);
2. ``build/libcloudio.so`` of the checkout this package sits in (after ``make``);
3. the file named by ``$CLOUDIO_LIBRARY``.

Fork safety: a process that has started the Go runtime inside the library
must not ``fork()`` and then call it, because the child has none of the
runtime's threads and would hang. A child forked after the library was loaded
therefore gets a :class:`~cloudio.CloudIOError` at once from any call; a
child forked before it was loaded loads it normally.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import threading
from ctypes import POINTER, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint64, c_void_p
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

from .errors import (CloudIOError, InvalidArgumentError, LibraryLoadError,  # noqa: F401 (CloudIOError is re-exported)
                     error_for)

ABI_VERSION = 1
#: The error buffer every call gets: room for a message that names a path
#: as long as GDAL takes (2047 bytes) twice, and its cause.
ERR_LEN = 16384

#: typedef int (*cloudio_progress_fn)(double fraction, const char *message, void *user);
PROGRESS_FN = ctypes.CFUNCTYPE(c_int, c_double, c_char_p, c_void_p)


class Info(ctypes.Structure):
    """``struct cloudio_info``."""

    _fields_ = [("rows", c_int64), ("cols", c_int64), ("bands", c_int64), ("dtype", c_int),
                ("block_rows", c_int64), ("block_cols", c_int64),
                ("has_geotransform", c_int), ("geotransform", c_double * 6),
                ("has_nodata", c_int), ("nodata", c_double)]


class ReaderOptions(ctypes.Structure):
    """``struct cloudio_reader_options``."""

    _fields_ = [("tile_rows", c_int64), ("tile_cols", c_int64), ("overlap", c_int64), ("halo", c_int64),
                ("edge", c_int), ("bands", POINTER(c_int)), ("n_bands", c_size_t), ("dtype", c_int),
                ("workers", c_int), ("prefetch", c_int)]


# Every function of cloudio.h: name -> (restype, argtypes). Opaque handles
# (cloudio_dataset *, cloudio_reader *, cloudio_writer *) are c_void_p.
_ERR = (c_char_p, c_size_t)  # char *err, size_t err_len
_PROGRESS = (PROGRESS_FN, c_void_p)  # cloudio_progress_fn progress, void *progress_user
_PROTOTYPES = {
    "cloudio_abi_version": (c_int, ()),
    "cloudio_version": (c_char_p, ()),
    "cloudio_status_name": (c_char_p, (c_int,)),
    "cloudio_tile_windows": (c_int, (c_int64, c_int64, c_int64, c_int64, c_int64, c_uint64, POINTER(c_int64),
                                     c_uint64, POINTER(c_uint64), POINTER(c_uint64)) + _ERR),
    "cloudio_write_cog": (c_int, (c_char_p, c_char_p, c_char_p, POINTER(c_char_p)) + _PROGRESS + _ERR),
    "cloudio_write_cog_buffer": (c_int, (c_void_p, c_size_t, c_int, c_int64, c_int64, c_int64, POINTER(c_double),
                                         c_char_p, POINTER(c_double), c_char_p, c_char_p, POINTER(c_char_p))
                                 + _PROGRESS + _ERR),
    "cloudio_dataset_open": (c_int, (c_char_p, POINTER(c_void_p)) + _ERR),
    "cloudio_dataset_info": (c_int, (c_void_p, POINTER(Info)) + _ERR),
    "cloudio_dataset_crs": (c_int, (c_void_p, c_char_p, c_size_t, POINTER(c_size_t)) + _ERR),
    "cloudio_dataset_nodata": (c_int, (c_void_p, c_int, c_char_p, c_size_t, POINTER(c_size_t)) + _ERR),
    "cloudio_dataset_read": (c_int, (c_void_p, c_int64, c_int64, c_int64, c_int64, POINTER(c_int), c_size_t, c_int,
                                     c_void_p, c_size_t) + _ERR),
    "cloudio_dataset_read_type": (c_int, (c_void_p, POINTER(c_int), c_size_t, c_int, POINTER(c_int)) + _ERR),
    "cloudio_dataset_close": (c_int, (c_void_p,) + _ERR),
    "cloudio_reader_options_init": (None, (POINTER(ReaderOptions),)),
    "cloudio_reader_open": (c_int, (c_char_p, POINTER(ReaderOptions), POINTER(c_void_p)) + _ERR),
    "cloudio_reader_open_masked": (c_int, (c_char_p, POINTER(ReaderOptions), c_int, POINTER(c_void_p)) + _ERR),
    "cloudio_reader_info": (c_int, (c_void_p, POINTER(Info), POINTER(c_uint64), POINTER(c_size_t)) + _ERR),
    "cloudio_reader_next": (c_int, (c_void_p, POINTER(c_int64), c_void_p, c_size_t) + _ERR),
    "cloudio_reader_close": (c_int, (c_void_p,) + _ERR),
    "cloudio_writer_open": (c_int, (c_char_p, c_int64, c_int64, c_int64, c_int, POINTER(c_double), c_char_p,
                                    POINTER(c_double), c_char_p, POINTER(c_char_p), POINTER(c_void_p)) + _ERR),
    "cloudio_writer_set_source": (c_int, (c_void_p, c_char_p, POINTER(c_int), c_size_t, c_int) + _ERR),
    "cloudio_writer_write": (c_int, (c_void_p, c_int64, c_int64, c_int64, c_int64, c_void_p, c_size_t) + _ERR),
    "cloudio_writer_write_masked": (c_int, (c_void_p, c_int64, c_int64, c_int64, c_int64, c_void_p, c_size_t,
                                            c_void_p, c_size_t) + _ERR),
    "cloudio_writer_close": (c_int, (c_void_p,) + _PROGRESS + _ERR),
    "cloudio_writer_abort": (c_int, (c_void_p,) + _ERR),
    "cloudio_storage_configure": (c_int, (c_char_p, POINTER(c_char_p)) + _ERR),
    "cloudio_storage_replace": (c_int, (c_char_p, POINTER(c_char_p)) + _ERR),
    "cloudio_storage_list": (c_int, (c_char_p, c_char_p, c_size_t, POINTER(c_size_t)) + _ERR),
    "cloudio_storage_exists": (c_int, (c_char_p, POINTER(c_int)) + _ERR),
    "cloudio_storage_delete": (c_int, (c_char_p,) + _ERR),
    "cloudio_storage_prefix": (c_int, (c_char_p, c_int, c_char_p, c_size_t, POINTER(c_size_t)) + _ERR),
    "cloudio_storage_covers": (c_int, (c_char_p, c_char_p, POINTER(c_int)) + _ERR),
    "cloudio_secret_option": (c_int, (c_char_p, POINTER(c_int)) + _ERR),
    "cloudio_scrub": (c_int, (c_char_p, POINTER(c_char_p), c_char_p, c_size_t, POINTER(c_size_t)) + _ERR),
    "cloudio_validate": (c_int, (c_char_p, POINTER(c_int)) + _ERR),
    "cloudio_validate_report": (c_int, (c_char_p, c_int, POINTER(c_int), c_char_p, c_size_t, POINTER(c_size_t)) + _ERR),
    "cloudio_info_json": (c_int, (c_char_p, c_char_p, c_size_t, POINTER(c_size_t)) + _ERR),
    "cloudio_write_zarr": (c_int, (c_char_p, c_char_p, c_int64, c_int64, c_char_p, POINTER(c_char_p))
                           + _PROGRESS + _ERR),
    "cloudio_write_zarr_buffer": (c_int, (c_void_p, c_size_t, c_int, c_int64, c_int64, c_int64, POINTER(c_double),
                                          c_char_p, POINTER(c_double), c_char_p, c_int64, c_int64, c_char_p,
                                          POINTER(c_char_p)) + _PROGRESS + _ERR),
}

FORK_MESSAGE = (
    "libcloudio was loaded before this process was forked, and the Go runtime inside it does not survive "
    "fork(): a call here would hang. Start worker processes with the 'spawn' start method "
    "(multiprocessing.get_context('spawn'), or mp_context=multiprocessing.get_context('spawn') for "
    "concurrent.futures.ProcessPoolExecutor), or load cloudio only inside the workers.")

_lock = threading.Lock()
_lib: Optional[ctypes.CDLL] = None
_loaded_pid: Optional[int] = None
_forked_after_load = False


def _after_fork_in_child() -> None:
    global _lock, _forked_after_load
    _lock = threading.Lock()  # another thread may have held it at fork time
    if _lib is not None:
        _forked_after_load = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def candidates() -> List[Path]:
    """Where the library is looked for, in order."""
    here = Path(__file__).resolve().parent
    paths = [here / "libcloudio.so", here.parent.parent / "build" / "libcloudio.so"]
    if os.environ.get("CLOUDIO_LIBRARY"):
        paths.append(Path(os.environ["CLOUDIO_LIBRARY"]))
    return paths


def library() -> ctypes.CDLL:
    """The loaded library, every function's prototype declared. Loads it on
    the first call (thread-safe); raises :class:`CloudIOError` in a process
    forked after it was loaded, :class:`LibraryLoadError` when it cannot be
    loaded."""
    global _lib, _loaded_pid
    lib = _lib
    if lib is not None and not _forked_after_load and _loaded_pid == os.getpid():
        return lib
    if _forked_after_load or lib is not None:  # lib loaded in another pid: a fork the hook did not see
        raise CloudIOError(FORK_MESSAGE)
    with _lock:
        if _lib is None:
            loaded = _load()
            _loaded_pid = os.getpid()  # before _lib: the unlocked fast path above reads _lib first
            _lib = loaded
        return _lib


def _load() -> ctypes.CDLL:
    tried = []
    for path in candidates():
        if not path.is_file():
            tried.append(f"{path} (missing)")
            continue
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            tried.append(f"{path} ({exc})")
            continue
        lib.cloudio_abi_version.restype, lib.cloudio_abi_version.argtypes = c_int, []
        abi = lib.cloudio_abi_version()
        if abi != ABI_VERSION:
            raise LibraryLoadError(f"{path} implements cloudio ABI {abi}, but this package needs ABI {ABI_VERSION}: "
                                   "rebuild it with `make` in the cloudio checkout, or reinstall with "
                                   "`pip install ./python`")
        for name, (restype, argtypes) in _PROTOTYPES.items():
            try:
                fn = getattr(lib, name)
            except AttributeError:
                raise LibraryLoadError(f"{path} lacks {name}(): it is older than this package; rebuild it with "
                                       "`make` in the cloudio checkout") from None
            fn.restype, fn.argtypes = restype, list(argtypes)
        return lib
    raise LibraryLoadError(
        "cannot load libcloudio.so; looked in: " + "; ".join(tried) + ". Build it with `make` in the cloudio "
        "checkout, install the package with `pip install ./python` (needs Go and libgdal-dev), or set "
        "CLOUDIO_LIBRARY to the library's path.")


def status_name(status: int) -> str:
    """The library's name for a status code, e.g. ``"CLOUDIO_ERR_NOT_FOUND"``."""
    return library().cloudio_status_name(status).decode()


#: The functions that write or delete a file or object, and what to call
#: after one succeeded (cached handles to rewritten files go stale).
WRITERS = frozenset({"cloudio_write_cog", "cloudio_write_cog_buffer", "cloudio_writer_close", "cloudio_write_zarr",
                     "cloudio_write_zarr_buffer", "cloudio_storage_delete"})
after_write: List[Callable[[], None]] = []


def call(name: str, *args: Any) -> None:
    """Call the status-returning function ``name`` with ``args`` plus an
    error buffer, and raise the matching :class:`CloudIOError` subclass when
    it fails."""
    fn = getattr(library(), name)
    err = ctypes.create_string_buffer(ERR_LEN)
    try:
        status = fn(*args, err, ERR_LEN)
    except ctypes.ArgumentError as exc:  # e.g. an int that does not fit in int64_t
        raise ValueError(f"{name}: {exc}") from None
    if name in WRITERS:  # also after a failure: a delete may have gone through
        for hook in after_write:
            hook()
    if status != 0:
        raise error_for(status, err.value.decode("utf-8", "replace") or status_name(status))


def call_text(name: str, *args: Any, guess: int = 1 << 16) -> str:
    """:func:`call` a function that writes text into ``char *buf, size_t
    buf_len, size_t *needed`` after ``args``; one call unless the text is
    longer than ``guess`` bytes."""
    needed = ctypes.c_size_t()
    buf = ctypes.create_string_buffer(guess)
    try:
        call(name, *args, buf, guess, ctypes.byref(needed))
    except InvalidArgumentError:
        if needed.value <= guess:
            raise
        buf = ctypes.create_string_buffer(needed.value)
        call(name, *args, buf, needed.value, None)
    return buf.value.decode("utf-8")


PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def fspath(path: PathLike, what: str = "path") -> bytes:
    """A path, URL or os.PathLike as the NUL-terminated bytes the C ABI takes."""
    try:
        raw = os.fsencode(path)
    except TypeError:
        raise ValueError(f"{what} must be a str or os.PathLike, not {type(path).__name__}") from None
    if b"\0" in raw:
        raise ValueError(f"{what} contains a NUL character: {os.fsdecode(raw)!r}")
    return raw


def _option_text(key: Any, value: Any) -> str:
    if isinstance(value, bool):
        value = "YES" if value else "NO"
    return f"{key}={value}"


def options_array(options: Union[None, Mapping[str, Any], Iterable[str]],
                  what: str = "options") -> Optional[ctypes.Array]:
    """A GDAL-style NULL-terminated ``KEY=VALUE`` array from a dict (``True`` /
    ``False`` become ``YES`` / ``NO``) or an iterable of ``"KEY=VALUE"``."""
    if options is None:
        return None
    if isinstance(options, (str, bytes)):
        raise ValueError(f"{what} must be a dict or a list of 'KEY=VALUE' strings, not a single string "
                         f"({options!r}); use [{options!r}]")
    if isinstance(options, Mapping):
        items = [_option_text(k, v) for k, v in options.items()]
    else:
        try:
            items = list(options)
        except TypeError:
            raise ValueError(f"{what} must be a dict or a list of 'KEY=VALUE' strings, not "
                             f"{type(options).__name__}") from None
        for item in items:
            if not isinstance(item, str):
                raise ValueError(f"{what} must hold 'KEY=VALUE' strings, not {type(item).__name__} {item!r}")
    if not items:
        return None
    encoded = [item.encode("utf-8") for item in items]
    for item, raw in zip(items, encoded):
        if b"\0" in raw:
            raise ValueError(f"{what} entry {item!r} contains a NUL character")
    return (c_char_p * (len(encoded) + 1))(*encoded, None)


def cancels(answer: Any) -> bool:
    """Whether a progress callable's answer cancels: False, numpy's too
    (``np.False_``, what a comparison returns); None and anything else go on."""
    return answer is False or (type(answer).__name__ == "bool_" and not answer)


class ProgressAdapter:
    """A Python progress callable as a ``cloudio_progress_fn``.

    The callable gets the fraction done (scaled into ``scale``); returning
    ``False`` cancels the operation. An exception raised inside it -- a
    ``KeyboardInterrupt`` too -- cancels the operation and is re-raised, with
    its type, once the C call has returned. :meth:`run` also turns Ctrl-C
    into a cancellation: while the library works, a SIGINT is recorded
    instead of raised (Python would otherwise raise it inside the C callback,
    where ctypes can only print it), the next progress call cancels, and
    ``KeyboardInterrupt`` is raised after the library has cleaned up. The C
    callback is therefore always installed, even without a Python callable.
    """

    def __init__(self, progress: Optional[Callable[[float], Any]] = None,
                 scale: Tuple[float, float] = (0.0, 1.0)) -> None:
        if progress is False:
            progress = None
        if progress is not None and not callable(progress):
            raise ValueError(f"progress must be a callable taking the fraction done, not {progress!r}")
        self.progress = progress
        self.scale = scale
        self.exception: Optional[BaseException] = None
        self.interrupted = False
        self.c_fn = PROGRESS_FN(self._call)

    def _call(self, fraction: float, message: Optional[bytes], user: Optional[int]) -> int:
        try:
            if self.interrupted or self.exception is not None:
                return 1
            if self.progress is None:
                return 0
            lo, hi = self.scale
            return 1 if cancels(self.progress(lo + (hi - lo) * fraction)) else 0
        except BaseException as exc:  # noqa: B902 - re-raised after the C call returned
            self.exception = exc
            return 1

    def _on_sigint(self, signum: int, frame: Any) -> None:
        self.interrupted = True

    @contextlib.contextmanager
    def _sigint_deferred(self) -> Iterator[None]:
        installed = False
        if threading.current_thread() is threading.main_thread():
            try:
                if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                    signal.signal(signal.SIGINT, self._on_sigint)
                    installed = True
            except (ValueError, OSError):  # not the main interpreter
                pass
        try:
            yield
        finally:
            if installed:
                signal.signal(signal.SIGINT, signal.default_int_handler)

    def run(self, name: str, *args: Any) -> None:
        """:func:`call` ``name`` with ``args``, this callback and its user
        pointer (NULL), then re-raise what the callable raised or a
        recorded Ctrl-C."""
        with self._sigint_deferred():
            try:
                call(name, *args, self.c_fn, None)
            except CloudIOError:  # CancelledError, or a failure the callable's exception caused
                if self.exception is None and not self.interrupted:
                    raise
        self.reraise()  # outside the except block: no "during handling of CancelledError" chain

    def reraise(self) -> None:
        """Raise the exception the callable raised, or ``KeyboardInterrupt``
        for a Ctrl-C recorded by :meth:`run`, if any."""
        if self.exception is not None:
            exc, self.exception = self.exception, None
            raise exc
        if self.interrupted:
            self.interrupted = False
            raise KeyboardInterrupt
