"""cloudio: cloud-optimised raster I/O for DEM pipelines.

A drop-in replacement for ``digitalrivers.cloud_io``::

    from cloudio import tile_windows, write_cog

backed by libcloudio (Go over GDAL, ``include/cloudio.h``). The library is
loaded on first use, not at import; the GDAL Python bindings (``osgeo``) are
not needed for paths and numpy arrays.
"""
from __future__ import annotations

from . import _lib
from ._dask import dask_backend, to_cog
from .cog import write_cog
from .errors import (CancelledError, CloudIOError, InternalError, InvalidArgumentError, LibraryLoadError,
                     NotFoundError, ReadWriteError, UnsupportedError)
from .storage import Store, cloud_storage
from .stream import map_tiles, read_tiles, read_window
from .tools import Validation, info, validate
from .windows import TileWindow, tile_windows
from .zarr import write_zarr

__version__ = "0.1.0"


def version() -> str:
    """The library's version and the GDAL it runs on, e.g. ``"0.1.0 (GDAL 3.6.2)"``.

    Loads the library if it is not loaded yet.
    """
    return _lib.library().cloudio_version().decode()


__all__ = [
    "TileWindow", "tile_windows", "write_cog", "write_zarr", "read_window", "read_tiles", "map_tiles",
    "dask_backend", "to_cog", "cloud_storage", "Store", "validate", "Validation", "info", "version", "__version__",
    "CloudIOError", "InvalidArgumentError", "NotFoundError", "ReadWriteError", "UnsupportedError",
    "CancelledError", "InternalError", "LibraryLoadError",
]
