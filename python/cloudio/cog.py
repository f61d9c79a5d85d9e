"""Writing Cloud-Optimised GeoTIFFs."""
from __future__ import annotations

import ctypes
import os
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from . import _lib
from ._datasets import Georef, dtype_code, file_name, in_memory_pixels, is_gdal_dataset, is_path, unwrap

Options = Union[None, Mapping[str, Any], Iterable[str]]


def write_cog(dataset, path, compress: str = "deflate", *, geotransform: Optional[Sequence[float]] = None,
              crs: Union[None, int, str] = None, nodata: Optional[float] = None, options: Options = None,
              progress: Optional[Callable[[float], Any]] = None) -> str:
    """Write ``dataset`` as a Cloud-Optimised GeoTIFF at ``path``; return the path.

    The COG passes GDAL's validator, keeps every band, the data type,
    geotransform, CRS and nodata, and has internal overviews when larger than
    one block. The write is atomic: on any failure (or cancellation) nothing
    is left at ``path`` and an existing file there is untouched.

    Args:
        dataset: a path or URL, a GDAL dataset, a pyramids Dataset, or a
            numpy array (rows x cols, or bands x rows x cols) georeferenced
            by the keyword arguments below.
        path: where to write (a path, or an object-store URL such as
            ``s3://bucket/dem.tif``).
        compress: a COMPRESS method of GDAL's COG driver, any case
            (``deflate``, ``zstd``, ``lzw``, ``lerc``, ...). Unknown names
            raise ``ValueError``.
        geotransform: GDAL's 6-tuple, for a numpy array.
        crs: an EPSG code (``32633``), ``"EPSG:32633"`` or WKT, for a numpy array.
        nodata: the nodata value, for a numpy array.
        options: extra COG creation options, ``{"BLOCKSIZE": 256}`` or
            ``["BLOCKSIZE=256"]``; they override cloudio's defaults
            (predictor by data type, ``NUM_THREADS=ALL_CPUS``, ``BIGTIFF=IF_SAFER``).
        progress: called with the fraction done; return ``False`` to cancel
            (``cloudio.CancelledError``). An exception it raises cancels the
            write and propagates.

    Examples:
        - Write a small array as a COG and read it back:

            >>> import os, tempfile
            >>> import numpy as np
            >>> from cloudio import write_cog
            >>> z = np.arange(64, dtype=np.float32).reshape(8, 8)
            >>> out = os.path.join(tempfile.mkdtemp(), "out.tif")
            >>> written = write_cog(z, out, geotransform=(0.0, 1.0, 0.0, 0.0, 0.0, -1.0), crs=4326)
            >>> written == out and os.path.getsize(out) > 0
            True

        - Unknown compression names are errors, never an uncompressed file:

            >>> write_cog(z, out, compress="nope")
            Traceback (most recent call last):
                ...
            cloudio.errors.InvalidArgumentError: unknown compress "NOPE": this GDAL's COG driver offers NONE, LZW, JPEG, DEFLATE, LZMA, ZSTD, WEBP, LERC, LERC_DEFLATE, LERC_ZSTD
    """
    if not is_path(path):
        raise ValueError(f"path must be a str or os.PathLike, not {type(path).__name__}")
    if compress is None or not isinstance(compress, str):
        raise ValueError(f"compress must be a string such as 'deflate', not {compress!r}")
    source = unwrap(dataset)
    georef = Georef(geotransform, crs, nodata)
    if is_gdal_dataset(source):
        name = file_name(source)
        if name is None:
            array, own = in_memory_pixels(source)
            source, georef = array, Georef(*(mine if mine is not None else theirs for mine, theirs in zip(georef, own)))
        else:
            source = name
    adapter = _lib.ProgressAdapter(progress)
    try:
        if is_path(source):
            if any(v is not None for v in (geotransform, crs, nodata)):
                raise ValueError("geotransform, crs and nodata apply to numpy arrays; a file keeps its own")
            _lib.call("cloudio_write_cog", _lib.fspath(source), _lib.fspath(path), compress.encode(),
                      _lib.options_array(options), adapter.c_fn, None)
        elif isinstance(source, np.ndarray):
            _write_array(source, path, compress, georef, options, adapter)
        else:
            raise ValueError("dataset must be a path or URL, a GDAL or pyramids dataset, or a numpy array, not "
                             f"{type(dataset).__name__}")
    except BaseException:
        adapter.reraise()
        raise
    adapter.reraise()
    return os.fsdecode(path)


def crs_text(crs: Union[None, int, str]) -> Optional[str]:
    """An EPSG code, "EPSG:xxxx" or WKT as the text the library parses."""
    if crs is None or crs == "":
        return None
    if isinstance(crs, bool):
        raise ValueError(f"crs must be an EPSG code, 'EPSG:xxxx' or WKT, not {crs!r}")
    if isinstance(crs, (int, np.integer)):
        return f"EPSG:{int(crs)}"
    if isinstance(crs, str):
        return crs
    if hasattr(crs, "ExportToWkt"):  # an osr.SpatialReference
        return crs.ExportToWkt()
    raise ValueError(f"crs must be an EPSG code, 'EPSG:xxxx' or WKT, not {type(crs).__name__}")


def geotransform_array(geotransform) -> Optional[ctypes.Array]:
    if geotransform is None:
        return None
    gt = tuple(float(v) for v in geotransform)
    if len(gt) != 6:
        raise ValueError(f"geotransform must have 6 numbers (GDAL's affine coefficients), got {len(gt)}")
    return (ctypes.c_double * 6)(*gt)


def nodata_pointer(nodata) -> Optional[ctypes.c_double]:
    return None if nodata is None else ctypes.c_double(float(nodata))


def as_bands(array: np.ndarray, what: str = "dataset") -> np.ndarray:
    """A C-contiguous, native-order bands x rows x cols view or copy."""
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise ValueError(f"{what} array must be 2-D (rows x cols) or 3-D (bands x rows x cols), got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"{what} array must not be empty, got shape {array.shape}")
    dtype_code(array.dtype, f"{what} dtype")
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))


def _write_array(array, path, compress, georef, options, adapter) -> None:
    data = as_bands(array)
    crs = crs_text(georef.crs)
    nodata = nodata_pointer(georef.nodata)
    _lib.call("cloudio_write_cog_buffer", data.ctypes.data_as(ctypes.c_void_p), data.nbytes, dtype_code(data.dtype),
              *data.shape, geotransform_array(georef.geotransform), crs.encode() if crs else None,
              ctypes.byref(nodata) if nodata is not None else None, _lib.fspath(path), compress.encode(),
              _lib.options_array(options), adapter.c_fn, None)
