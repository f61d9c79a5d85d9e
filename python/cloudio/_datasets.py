"""What callers pass as a dataset, and how it reaches the library.

A dataset with a file (or URL) behind it is passed by name, never as a
handle: the GDAL Python bindings may be a different GDAL build than the one
libcloudio runs on. One that lives only in memory is passed as its pixels
plus georeferencing. GDAL datasets are recognised by what they do
(``RasterXSize``, ``RasterYSize``, ``GetDescription``, ``ReadAsArray``), not by
``isinstance``: pyramids wheels carry their own copy of ``osgeo`` under
another module path. Nothing here imports ``osgeo``.
"""
from __future__ import annotations

import ctypes
import os
import threading
from collections import OrderedDict
from typing import Any, Dict, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib

#: numpy dtype -> cloudio_dtype (GDAL's GDALDataType values).
DTYPES: Dict[np.dtype, int] = {
    np.dtype(np.uint8): 1, np.dtype(np.uint16): 2, np.dtype(np.int16): 3, np.dtype(np.uint32): 4,
    np.dtype(np.int32): 5, np.dtype(np.float32): 6, np.dtype(np.float64): 7,
    np.dtype(np.uint64): 12, np.dtype(np.int64): 13, np.dtype(np.int8): 14,
}
NUMPY_OF: Dict[int, np.dtype] = {code: dt for dt, code in DTYPES.items()}


def dtype_code(dtype: Any, what: str = "dtype") -> int:
    """The library's code for a numpy dtype, in either byte order. Raises
    ``ValueError`` naming ``what`` for a type GDAL 3.6 cannot store (bool,
    float16, complex, objects, strings, ...)."""
    dt = np.dtype(dtype)
    code = DTYPES.get(dt.newbyteorder("=")) if dt.kind in "uif" else None
    if code is None:
        raise ValueError(f"{what} {dt} is not supported (use one of: "
                         + ", ".join(str(d) for d in DTYPES) + ")")
    return code


def is_path(obj: Any) -> bool:
    """A path or URL: str, bytes or os.PathLike."""
    return isinstance(obj, (str, bytes, os.PathLike))


def is_gdal_dataset(obj: Any) -> bool:
    """Does obj behave like an ``osgeo.gdal.Dataset``?"""
    return all(hasattr(obj, a) for a in ("RasterXSize", "RasterYSize", "GetDescription", "ReadAsArray"))


def unwrap(dataset: Any) -> Any:
    """A pyramids Dataset carries its GDAL dataset in ``.raster``: use that."""
    raster = getattr(dataset, "raster", None)
    return raster if raster is not None and is_gdal_dataset(raster) else dataset


def file_name(gdal_dataset: Any) -> Optional[str]:
    """The name the library can open a GDAL dataset by, or None when the
    dataset lives only in memory (MEM driver, ``/vsimem/``, no description,
    or a description that names nothing on disk).

    Pending writes are flushed first, so a dataset created with the GDAL
    bindings and written but not yet closed is read as the caller sees it.
    """
    name = gdal_dataset.GetDescription()
    if not name or name.startswith("/vsimem/"):
        return None
    driver = gdal_dataset.GetDriver() if hasattr(gdal_dataset, "GetDriver") else None
    if driver is not None and getattr(driver, "ShortName", None) == "MEM":
        return None
    if not (name.startswith("/vsi") or "://" in name or os.path.isfile(name)):
        return None
    if hasattr(gdal_dataset, "FlushCache"):
        # Twice: on GDAL 3.6 the first FlushCache of a GTiff open for writing
        # writes the blocks but not their offsets; the second writes those,
        # so another handle reads what this one holds. Free when read-only.
        gdal_dataset.FlushCache()
        gdal_dataset.FlushCache()
    return name


class Georef(NamedTuple):
    """Georeferencing for pixels that have no file: each part may be None."""

    geotransform: Optional[Sequence[float]]
    crs: Any
    nodata: Optional[float]

    def over(self, other: "Georef") -> "Georef":
        """These parts, and other's where these are None: the caller's
        keywords over what a source carries."""
        return Georef(*(mine if mine is not None else theirs for mine, theirs in zip(self, other)))


def in_memory_pixels(gdal_dataset: Any) -> Tuple[np.ndarray, Georef]:
    """The pixels (rows x cols, or bands x rows x cols) and georeferencing
    (geotransform when one is set, projection WKT, band 1's nodata) of an
    in-memory GDAL dataset."""
    array = gdal_dataset.ReadAsArray()
    if array is None:
        raise ValueError("dataset: GDAL could not read the in-memory dataset's pixels")
    try:
        gt = gdal_dataset.GetGeoTransform(can_return_null=True)
    except TypeError:  # a look-alike without the keyword
        gt = gdal_dataset.GetGeoTransform()
    nodata = None
    if hasattr(gdal_dataset, "GetRasterBand") and getattr(gdal_dataset, "RasterCount", 1) > 0:
        band = gdal_dataset.GetRasterBand(1)
        nodata = band.GetNoDataValue()
    return array, Georef(tuple(gt) if gt is not None else None, gdal_dataset.GetProjection() or None, nodata)


def _raster_shape(path: Any) -> Tuple[int, int]:
    """``(rows, cols)`` of the raster at a path or URL, read by the library
    (``cloudio_dataset_open`` + ``cloudio_dataset_info``): no ``osgeo``."""
    info = open_dataset(path).info
    return int(info.rows), int(info.cols)


def raster_shape(dataset: Any) -> Tuple[int, int]:
    """``(rows, cols)`` of anything ``tile_windows`` accepts: an object with
    ``.rows`` / ``.columns`` (pyramids; they win whenever present, as in the
    original), a GDAL dataset, an array (its last two axes), a path or URL,
    or a ``(rows, cols)`` tuple of ints."""
    if hasattr(dataset, "rows") and hasattr(dataset, "columns"):
        return _count("dataset.rows", dataset.rows), _count("dataset.columns", dataset.columns)
    dataset = unwrap(dataset)
    if is_gdal_dataset(dataset):
        return _count("dataset.RasterYSize", dataset.RasterYSize), _count("dataset.RasterXSize", dataset.RasterXSize)
    if is_path(dataset):
        return _raster_shape(dataset)
    if isinstance(dataset, tuple) and len(dataset) == 2 and all(_is_int(v) for v in dataset):
        return _count("dataset rows", dataset[0]), _count("dataset cols", dataset[1])
    shape = getattr(dataset, "shape", None)
    if isinstance(shape, tuple):
        if len(shape) < 2:
            raise ValueError(f"dataset array must have at least 2 dimensions (rows x cols), got shape {shape}")
        return _count("dataset rows", shape[-2]), _count("dataset cols", shape[-1])
    raise TypeError("dataset must be a path or URL, a GDAL or pyramids dataset, a numpy array or a (rows, cols) "
                    f"tuple, not {type(dataset).__name__}")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _count(what: str, value: Any) -> int:
    # ctypes silently wraps integers that do not fit in int64_t: check here
    if not _is_int(value) or not 0 <= value < 2**63:
        raise ValueError(f"{what} must be a non-negative 64-bit integer, got {value!r}")
    return int(value)


class Dataset:
    """An open ``cloudio_dataset`` handle (thread-safe in the library)."""

    def __init__(self, name: Any) -> None:
        self.name = os.fsdecode(name)
        self.handle: Optional[ctypes.c_void_p] = None
        handle = ctypes.c_void_p()
        _lib.call("cloudio_dataset_open", _lib.fspath(name, "dataset"), ctypes.byref(handle))
        self.handle = handle
        self.info = _lib.Info()
        _lib.call("cloudio_dataset_info", handle, ctypes.byref(self.info))

    @property
    def crs(self) -> str:
        """The CRS as WKT, "" when there is none."""
        needed = ctypes.c_size_t()
        _lib.call("cloudio_dataset_crs", self.handle, None, 0, ctypes.byref(needed))
        buf = ctypes.create_string_buffer(needed.value)
        _lib.call("cloudio_dataset_crs", self.handle, buf, needed.value, None)
        return buf.value.decode()

    def nodata(self, band: int = 1) -> Union[None, int, float]:
        """Band's nodata value, exactly: an int for integer bands (64-bit
        ones included, which ``cloudio_info``'s double cannot hold), a float
        otherwise, None when it has none."""
        needed = ctypes.c_size_t()
        _lib.call("cloudio_dataset_nodata", self.handle, band, None, 0, ctypes.byref(needed))
        buf = ctypes.create_string_buffer(needed.value)
        _lib.call("cloudio_dataset_nodata", self.handle, band, buf, needed.value, None)
        text = buf.value.decode()
        if not text:
            return None
        return int(text) if np.dtype(self.dtype).kind in "iu" else float(text)

    @property
    def georef(self) -> Georef:
        i = self.info
        return Georef(tuple(i.geotransform) if i.has_geotransform else None, self.crs or None, self.nodata(1))

    @property
    def dtype(self) -> np.dtype:
        return NUMPY_OF[self.info.dtype]

    def read(self, row_off: int, col_off: int, n_rows: int, n_cols: int, bands: Optional[Sequence[int]],
             dtype: Any = None) -> np.ndarray:
        """The window of the given 1-based bands (None: every band), bands x
        rows x cols."""
        dt = np.dtype(dtype) if dtype is not None else self.dtype
        out = np.empty((len(bands) if bands else self.info.bands, n_rows, n_cols), dt)
        band_array = (ctypes.c_int * len(bands))(*bands) if bands else None
        _lib.call("cloudio_dataset_read", self.handle, row_off, col_off, n_rows, n_cols, band_array,
                  len(bands) if bands else 0, dtype_code(dt), out.ctypes.data_as(ctypes.c_void_p), out.nbytes)
        return out

    def read_type(self, bands: Sequence[int], dtype: Any) -> np.dtype:
        """The type :meth:`read` returns for bands and dtype, checked by the
        library as a read checks it (the bands exist), without reading."""
        band_array = (ctypes.c_int * len(bands))(*bands)
        code = ctypes.c_int()
        _lib.call("cloudio_dataset_read_type", self.handle, band_array, len(bands), dtype_code(dtype),
                  ctypes.byref(code))
        return NUMPY_OF[code.value]

    def close(self) -> None:
        if self.handle:
            handle, self.handle = self.handle, None
            _lib.call("cloudio_dataset_close", handle)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown, or a forked child
            pass


_cache: "OrderedDict[tuple, Dataset]" = OrderedDict()
_cache_lock = threading.Lock()
_CACHE_SIZE = 16


def _forget_remote() -> None:
    """Drop the cached handles that nothing tells are still current (those
    of object stores, HTTP and GDAL's virtual file systems; local files are
    checked on every use): cloudio has just written or deleted a file, maybe
    one of theirs."""
    with _cache_lock:
        for key in [k for k in _cache if len(k) == 1]:
            del _cache[key]


_lib.after_write.append(_forget_remote)


def open_dataset(name: Any) -> Dataset:
    """A shared open handle for name, from a small LRU cache: reading many
    windows of one raster (a Dask graph, say) opens it once. A local file
    that changed on disk is reopened, and so is any other after cloudio
    wrote or deleted a file in this process."""
    key: tuple = (os.fsdecode(name),)
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
