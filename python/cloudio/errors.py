"""Exceptions: one per C status code, each also the built-in the original
``digitalrivers.cloud_io`` raised for that case, so existing ``except``
clauses keep catching what they caught."""
from __future__ import annotations


class CloudIOError(RuntimeError):
    """A failure reported by libcloudio. ``status`` is the C status code."""

    status = -1
    status_name = "CLOUDIO_ERR_UNKNOWN"

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status


class InvalidArgumentError(CloudIOError, ValueError):
    """A bad argument: size, option, compression name, path."""

    status, status_name = 1, "CLOUDIO_ERR_INVALID_ARGUMENT"


class NotFoundError(CloudIOError, FileNotFoundError):
    """The input, or the output's directory or bucket, does not exist."""

    status, status_name = 2, "CLOUDIO_ERR_NOT_FOUND"


class ReadWriteError(CloudIOError, OSError):
    """GDAL could not read or write: not a raster, truncated file, full disk."""

    status, status_name = 3, "CLOUDIO_ERR_IO"


class UnsupportedError(CloudIOError):
    """A driver or feature this GDAL build lacks."""

    status, status_name = 4, "CLOUDIO_ERR_UNSUPPORTED"


class CancelledError(CloudIOError):
    """The progress callback asked to stop."""

    status, status_name = 5, "CLOUDIO_ERR_CANCELLED"


class InternalError(CloudIOError):
    """A bug in cloudio (a recovered panic): please report it."""

    status, status_name = 99, "CLOUDIO_ERR_INTERNAL"


_BY_STATUS = {cls.status: cls for cls in
              (InvalidArgumentError, NotFoundError, ReadWriteError, UnsupportedError, CancelledError, InternalError)}


def error_for(status: int, message: str) -> CloudIOError:
    """The exception for a C status code."""
    return _BY_STATUS.get(status, CloudIOError)(message, status)
