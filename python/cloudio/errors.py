"""Exceptions: one per C status code (``CLOUDIO_ERR_*`` in ``cloudio.h``).

Each is a :class:`CloudIOError` (a ``RuntimeError``) and, where one fits,
also the built-in exception the original ``digitalrivers.cloud_io`` raised
for that case, so existing ``except`` clauses keep catching what they caught:

=====================  ==============================  ============================
status                 exception                       also a
=====================  ==============================  ============================
1 INVALID_ARGUMENT     :class:`InvalidArgumentError`   ``ValueError``
2 NOT_FOUND            :class:`NotFoundError`          ``FileNotFoundError``
3 IO                   :class:`ReadWriteError`         ``OSError``
4 UNSUPPORTED          :class:`UnsupportedError`
5 CANCELLED            :class:`CancelledError`
99 INTERNAL            :class:`InternalError`
=====================  ==============================  ============================

>>> issubclass(NotFoundError, FileNotFoundError) and issubclass(NotFoundError, RuntimeError)
True
>>> err = error_for(1, "tile_rows and tile_cols must be positive")
>>> isinstance(err, ValueError), err.status, err.status_name
(True, 1, 'CLOUDIO_ERR_INVALID_ARGUMENT')
"""
from __future__ import annotations

from typing import Dict, Optional, Type


class CloudIOError(RuntimeError):
    """A failure reported by libcloudio.

    Attributes:
        status: the C status code (``-1`` when the error did not come from a
            library call, for example a library that cannot be loaded).
        status_name: the code's name, as ``cloudio_status_name`` spells it.
    """

    status: int = -1
    status_name: str = "CLOUDIO_ERR_UNKNOWN"

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        if status is not None and status != type(self).status:
            self.status = status


class InvalidArgumentError(CloudIOError, ValueError):
    """A bad argument: a size, an option, a compression name, a path."""

    status, status_name = 1, "CLOUDIO_ERR_INVALID_ARGUMENT"


class NotFoundError(CloudIOError, FileNotFoundError):
    """The input, or the output's directory or bucket, does not exist."""

    status, status_name = 2, "CLOUDIO_ERR_NOT_FOUND"


class ReadWriteError(CloudIOError, OSError):
    """GDAL could not read or write: not a raster, a truncated file, a
    destination that cannot be written."""

    status, status_name = 3, "CLOUDIO_ERR_IO"


class UnsupportedError(CloudIOError):
    """A driver or feature this GDAL build lacks."""

    status, status_name = 4, "CLOUDIO_ERR_UNSUPPORTED"


class CancelledError(CloudIOError):
    """The progress callback asked to stop (it returned ``False``)."""

    status, status_name = 5, "CLOUDIO_ERR_CANCELLED"


class InternalError(CloudIOError):
    """A bug in cloudio (a recovered Go panic): please report it."""

    status, status_name = 99, "CLOUDIO_ERR_INTERNAL"


class LibraryLoadError(CloudIOError, ImportError):
    """libcloudio.so cannot be found or loaded, or implements another ABI."""


_BY_STATUS: Dict[int, Type[CloudIOError]] = {
    cls.status: cls
    for cls in (InvalidArgumentError, NotFoundError, ReadWriteError, UnsupportedError, CancelledError, InternalError)
}


def error_for(status: int, message: str) -> CloudIOError:
    """The exception for a non-zero C status code and its message."""
    return _BY_STATUS.get(status, CloudIOError)(message, status)
