"""What callers pass as a dataset, and how it reaches the library.

A dataset with a file (or URL) behind it is passed by name, never as a
handle: the GDAL Python bindings may be a different GDAL build. One that
lives only in memory is passed as its pixels plus georeferencing. GDAL
datasets are recognised by what they do, not by ``isinstance``: pyramids
wheels carry their own copy of ``osgeo`` under another module path.
"""
from __future__ import annotations

import ctypes
import os
import threading
from collections import OrderedDict
from typing import NamedTuple, Optional, Tuple

import numpy as np

from . import _lib

DTYPES = {np.dtype(np.uint8): 1, np.dtype(np.uint16): 2, np.dtype(np.int16): 3, np.dtype(np.uint32): 4,
          np.dtype(np.int32): 5, np.dtype(np.float32): 6, np.dtype(np.float64): 7,
          np.dtype(np.uint64): 12, np.dtype(np.int64): 13}
NUMPY_OF = {code: dt for dt, code in DTYPES.items()}


def dtype_code(dtype, what: str = "dtype") -> int:
    """The library's code for a numpy dtype (native byte order)."""
    dt = np.dtype(dtype)
    code = DTYPES.get(dt.newbyteorder("=")) if dt.kind in "uif" else None
    if code is None:
        raise ValueError(f"{what} {dt} is not supported (use one of: "
                         + ", ".join(sorted(str(d) for d in DTYPES)) + ")")
    return code


def is_gdal_dataset(obj) -> bool:
    return all(hasattr(obj, a) for a in ("RasterXSize", "RasterYSize", "GetDescription", "ReadAsArray"))


def unwrap(dataset):
    """A pyramids Dataset carries its GDAL dataset in ``.raster``."""
    raster = getattr(dataset, "raster", None)
    return raster if raster is not None and is_gdal_dataset(raster) else dataset


def is_path(obj) -> bool:
    return isinstance(obj, (str, bytes, os.PathLike))


def file_name(gdal_dataset) -> Optional[str]:
    """The name a GDAL dataset can be reopened by, or None when it lives only
    in memory (MEM driver, /vsimem/, no description)."""
    name = gdal_dataset.GetDescription()
    driver = gdal_dataset.GetDriver() if hasattr(gdal_dataset, "GetDriver") else None
    if not name or (driver is not None and driver.ShortName == "MEM") or name.startswith("/vsimem/"):
        return None
    if os.path.exists(name) or name.startswith("/vsi") or "://" in name:
        return name
    return None


class Georef(NamedTuple):
    geotransform: Optional[Tuple[float, ...]]
    crs: Optional[str]
    nodata: Optional[float]


def in_memory_pixels(gdal_dataset) -> Tuple[np.ndarray, Georef]:
    """The pixels and georeferencing of an in-memory GDAL dataset."""
    array = gdal_dataset.ReadAsArray()
    band = gdal_dataset.GetRasterBand(1)
    return array, Georef(tuple(gdal_dataset.GetGeoTransform()), gdal_dataset.GetProjection() or None,
                         band.GetNoDataValue())


def raster_shape(dataset) -> Tuple[int, int]:
    """``(rows, cols)`` of anything tile_windows accepts."""
    if hasattr(dataset, "rows") and hasattr(dataset, "columns"):
        return int(dataset.rows), int(dataset.columns)
    dataset = unwrap(dataset)
    if is_gdal_dataset(dataset):
        return int(dataset.RasterYSize), int(dataset.RasterXSize)
    if isinstance(dataset, np.ndarray):
        if dataset.ndim < 2:
            raise ValueError(f"dataset array must have at least 2 dimensions, got shape {dataset.shape}")
        return int(dataset.shape[-2]), int(dataset.shape[-1])
    if isinstance(dataset, tuple) and len(dataset) == 2 and all(isinstance(v, int) for v in dataset):
        return dataset
    if is_path(dataset):
        info = open_dataset(dataset).info
        return info.rows, info.cols
    raise TypeError("dataset must be a path or URL, a GDAL or pyramids dataset, a numpy array or a (rows, cols) "
                    f"shape, not {type(dataset).__name__}")


class Dataset:
    """An open cloudio_dataset handle (thread-safe in the library)."""

    def __init__(self, name):
        self.name = os.fsdecode(name)
        handle = ctypes.c_void_p()
        _lib.call("cloudio_dataset_open", _lib.fspath(name), ctypes.byref(handle))
        self.handle = handle
        self.info = _lib.Info()
        _lib.call("cloudio_dataset_info", handle, ctypes.byref(self.info))

    @property
    def crs(self) -> str:
        needed = ctypes.c_size_t()
        _lib.call("cloudio_dataset_crs", self.handle, None, 0, ctypes.byref(needed))
        buf = ctypes.create_string_buffer(needed.value)
        _lib.call("cloudio_dataset_crs", self.handle, buf, needed.value, None)
        return buf.value.decode()

    @property
    def georef(self) -> Georef:
        i = self.info
        return Georef(tuple(i.geotransform) if i.has_geotransform else None, self.crs or None,
                      i.nodata if i.has_nodata else None)

    @property
    def dtype(self) -> np.dtype:
        return NUMPY_OF[self.info.dtype]

    def read(self, row_off, col_off, n_rows, n_cols, bands, dtype=None) -> np.ndarray:
        dt = np.dtype(dtype) if dtype is not None else self.dtype
        out = np.empty((len(bands), n_rows, n_cols), dt)
        band_array = (ctypes.c_int * len(bands))(*bands)
        _lib.call("cloudio_dataset_read", self.handle, row_off, col_off, n_rows, n_cols, band_array, len(bands),
                  dtype_code(dt), out.ctypes.data_as(ctypes.c_void_p), out.nbytes)
        return out

    def close(self) -> None:
        if self.handle:
            handle, self.handle = self.handle, None
            _lib.call("cloudio_dataset_close", handle)

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown, or a forked child
            pass


_cache: "OrderedDict[tuple, Dataset]" = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 16


def open_dataset(name) -> Dataset:
    """A shared open handle for name, from a small LRU cache: reading many
    windows of one raster (a Dask graph, say) opens it once. A local file
    that changed on disk is reopened."""
    key = (os.fsdecode(name),)
    try:
        st = os.stat(name)
        key += (st.st_mtime_ns, st.st_size, st.st_ino)
    except (OSError, ValueError):
        pass
    with _cache_lock:
        ds = _cache.get(key)
        if ds is not None:
            _cache.move_to_end(key)
            return ds
    ds = Dataset(name)
    with _cache_lock:
        _cache[key] = ds
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)  # its handle closes when the last user drops it
    return ds
