"""Writing Cloud-Optimised GeoTIFFs."""
from __future__ import annotations

import ctypes
import math
import numbers
import os
from typing import Any, Optional, Sequence, Union

import numpy as np

from . import _lib, _xarray
from ._datasets import Georef, dtype_code, file_name, in_memory_pixels, is_gdal_dataset, is_path, unwrap
from ._options import Options, Progress, beyond_double, write_options


def write_cog(dataset: Any, path: Union[str, "os.PathLike[str]"], compress: str = "deflate", *,
              geotransform: Optional[Sequence[float]] = None, crs: Union[None, int, str] = None,
              nodata: Optional[float] = None, options: Options = None, overview_resampling: Optional[str] = None,
              blocksize: Optional[int] = None, progress: Progress = None,
              statistics: Optional[bool] = None) -> str:
    """Cloud-Optimised GeoTIFF writer.

    Writes ``dataset`` at ``path`` with GDAL's COG driver, through libcloudio.
    COG is the standard cloud-native format for raster data: internally
    tiled, internally overviewed, and indexable by HTTP range requests.

    The COG passes GDAL's COG validator and keeps every band, the data type,
    the geotransform, the CRS and the nodata value; it has internal overviews
    when it is larger than one block. The write is atomic: the file is
    written next to ``path`` and renamed over it only once complete, so on
    any failure -- a bad argument, a GDAL error, a cancellation, Ctrl-C --
    nothing is left at ``path`` and an existing file there is untouched.

    Args:
        dataset: What to write:

            - a path or URL (str or os.PathLike), read by the library;
            - a GDAL dataset (``osgeo.gdal.Dataset`` or look-alike): by its
              file name when it has one on disk (pending writes are flushed
              first), otherwise (MEM driver, ``/vsimem/``) as its pixels plus
              its geotransform, projection and band 1's nodata;
            - a pyramids ``Dataset`` (any object whose ``.raster`` holds a
              GDAL dataset), as its GDAL dataset;
            - a numpy array, rows x cols or bands x rows x cols, of uint8,
              uint16, int16, uint32, int32, uint64, int64, float32 or
              float64 (any byte order or memory layout), georeferenced by
              the keyword arguments below; a ``numpy.ma.MaskedArray`` is
              written with its masked cells as ``nodata`` (required when
              any cell is masked);
            - an xarray DataArray (``rioxarray.open_rasterio``'s, or one of
              your own with ``y`` / ``x`` coordinates), georeferenced by its
              coordinates, its ``spatial_ref`` grid mapping and its
              ``_FillValue`` (the keywords win); a Dask-backed one is
              streamed as :func:`cloudio.to_cog` does.
        path: Output ``.tif`` path (str or os.PathLike), or an object-store
            URL such as ``s3://bucket/dem.tif``.
        compress: A COMPRESS method of the installed GDAL's COG driver,
            case-insensitive: ``"deflate"`` (default), ``"lzw"``, ``"zstd"``,
            ``"lerc"``, ``"none"``, ... An unknown name raises
            ``ValueError``, never writes an uncompressed file.
        geotransform: GDAL's six affine coefficients, for an array (or an
            in-memory GDAL dataset, overriding its own).
        crs: An EPSG code (``4326``), ``"EPSG:4326"``, WKT, or anything
            GDAL's ``SetFromUserInput`` accepts, for an array.
        nodata: The nodata value, for an array.
        options: Extra COG creation options, as ``{"LEVEL": 9}`` or
            ``["LEVEL=9"]`` (``True`` / ``False`` become ``YES`` /
            ``NO``). They override cloudio's defaults: ``PREDICTOR`` from the
            data type for LZW, DEFLATE and ZSTD (2 for integers, 3 for
            floats), ``NUM_THREADS=ALL_CPUS``, ``BIGTIFF=IF_SAFER``. Every
            value is checked against what the driver declares (type, range,
            choices) before any work.
        overview_resampling: How overviews are computed: a method of this
            GDAL's overview builder (``"nearest"``, ``"average"``,
            ``"mode"``, ``"rms"``, ``"bilinear"``, ``"cubic"``, ...). Default:
            ``"nearest"`` for integer rasters (codes and classes are never
            invented), ``"average"`` for floating point (no overshoot, no
            growing holes). The file records it as ``OVERVIEW_RESAMPLING``.
        blocksize: The tile size, a multiple of 16 from 128 to 4096
            (default 512).
        progress: Called with the fraction done, in [0, 1], or True for a
            progress bar on stderr. Returning ``False`` cancels the write
            (``cloudio.CancelledError``); an exception it raises cancels the
            write and propagates unchanged.
        statistics: Record each band's statistics (``STATISTICS_MINIMUM``,
            ``_MAXIMUM``, ``_MEAN``, ``_STDDEV``, ``_VALID_PERCENT``; nodata
            and masked cells excluded) in the file, as GDAL does, so that
            gdalinfo and QGIS need no scan (the default, ``None``, is
            ``True``). From a file they cost one read of it before GDAL's;
            ``False`` skips them.

    Returns:
        The output path, as a str.

    Raises:
        ValueError: A bad argument (``cloudio.InvalidArgumentError`` when the
            library found it): unknown compress or option, unsupported dtype
            or shape, a geotransform without 6 numbers, a crs GDAL cannot
            parse, ``path`` equal to the source, a path that is not UTF-8.
        FileNotFoundError: The input, or the output's directory, does not
            exist (``cloudio.NotFoundError``).
        cloudio.CloudIOError: The write failed: ``ReadWriteError`` (also an
            ``OSError``) when GDAL cannot read the input or write the output,
            ``CancelledError`` when ``progress`` returned ``False``.
        KeyboardInterrupt: Ctrl-C during the write, which was cancelled.

    Examples:
        - Write a 5x5 DEM as a COG:

            >>> import numpy as np
            >>> from pyramids.dataset import Dataset
            >>> from cloudio import write_cog
            >>> import tempfile, os
            >>> arr = np.arange(25, dtype=np.float32).reshape(5, 5)
            >>> ds = Dataset.create_from_array(
            ...     arr, top_left_corner=(0, 0), cell_size=1.0, epsg=4326,
            ... )
            >>> with tempfile.TemporaryDirectory() as tmpdir:
            ...     out_path = os.path.join(tmpdir, "out.tif")
            ...     result = write_cog(ds, out_path)
            ...     os.path.exists(result)
            True

        - A numpy array, georeferenced by keywords, with progress:

            >>> z = np.arange(64, dtype=np.float32).reshape(8, 8)
            >>> seen = []
            >>> with tempfile.TemporaryDirectory() as tmpdir:
            ...     out = write_cog(z, os.path.join(tmpdir, "z.tif"), "zstd",
            ...                     geotransform=(0.0, 1.0, 0.0, 8.0, 0.0, -1.0), crs=4326, nodata=-9999,
            ...                     progress=seen.append)
            ...     os.path.basename(out), seen[-1]
            ('z.tif', 1.0)

        - Unknown compression names are errors, never an uncompressed file:

            >>> write_cog(z, "never-written.tif", compress="bogus")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
                ...
            cloudio.errors.InvalidArgumentError: unknown compress "BOGUS": this GDAL's COG driver offers NONE, ...
            >>> os.path.exists("never-written.tif")
            False
    """
    if _xarray.is_dataarray(dataset):
        data, own = _xarray.read(dataset)
        if hasattr(data, "__dask_graph__"):  # lazy: streamed chunk by chunk
            from ._dask import to_cog
            return to_cog(dataset, path, compress=compress, options=options, overview_resampling=overview_resampling,
                          blocksize=blocksize, geotransform=geotransform, crs=crs, nodata=nodata, progress=progress,
                          statistics=statistics)
        dataset = np.asarray(data)
        geotransform, crs, nodata = Georef(geotransform, crs, nodata).over(own)
    dst = _lib.fspath(path, "path")
    opts = write_options(compress, options, overview_resampling, blocksize, progress,
                         f"write_cog {os.path.basename(os.fsdecode(path))}", statistics=statistics)
    adapter = _lib.ProgressAdapter(opts.progress)
    source = write_source(dataset, Georef(geotransform, crs, nodata))
    if isinstance(source, bytes):
        adapter.run("cloudio_write_cog", source, dst, opts.compress, opts.options)
    else:
        adapter.run("cloudio_write_cog_buffer", *source, dst, opts.compress, opts.with_nodata(nodata))
    return os.fsdecode(path)


def write_source(dataset: Any, georef: Georef) -> Union[bytes, tuple]:
    """What a writer of ``dataset`` passes to the library: the name of a
    raster that has a file (as bytes), or, for pixels that live only in
    memory, the leading arguments of a ``*_buffer`` function (data, data_len,
    dtype, bands, rows, cols, geotransform, crs, nodata), georeferenced by
    ``georef`` over what an in-memory GDAL dataset carries."""
    source = unwrap(dataset)
    if is_gdal_dataset(source):
        name = file_name(source)
        if name is not None:
            source = name
        else:
            source, own = in_memory_pixels(source)
            georef = Georef(*(mine if mine is not None else theirs for mine, theirs in zip(georef, own)))
    if is_path(source):
        if any(v is not None for v in georef):
            raise ValueError("geotransform, crs and nodata apply to numpy arrays and in-memory datasets; "
                             f"the file {os.fsdecode(source)!r} keeps its own")
        return _lib.fspath(source, "dataset")
    if isinstance(source, np.ma.MaskedArray):
        source = masked_filled(source, georef.nodata)
    if isinstance(source, np.ndarray):
        data = as_bands(source)
        crs_value = crs_text(georef.crs)
        nd = nodata_pointer(georef.nodata)
        # data, and nd behind its pointer, stay alive as long as the tuple does
        return (data.ctypes.data_as(ctypes.c_void_p), data.nbytes, dtype_code(data.dtype), *data.shape,
                geotransform_array(georef.geotransform), crs_value.encode() if crs_value else None,
                ctypes.pointer(nd) if nd is not None else None)
    raise ValueError("dataset must be a path or URL, a GDAL or pyramids dataset, or a numpy array, not "
                     f"{type(dataset).__name__}")


def masked_filled(array: np.ma.MaskedArray, nodata: Optional[float]) -> np.ndarray:
    """A MaskedArray's data with its masked cells as nodata, which is
    needed when any cell is masked."""
    if not np.ma.getmaskarray(array).any():
        return np.ma.getdata(array)
    if nodata is None:
        raise ValueError("the MaskedArray has masked cells, which are written as nodata: pass nodata=")
    return np.ma.filled(array, nodata)


def crs_text(crs: Any) -> Optional[str]:
    """An EPSG code, "EPSG:xxxx", WKT (or an ``osr.SpatialReference`` /
    ``pyproj.CRS``) as the text the library parses; None for no CRS."""
    if crs is None or (isinstance(crs, str) and not crs.strip()):
        return None
    if isinstance(crs, (bool, np.bool_)):
        raise ValueError(f"crs must be an EPSG code, 'EPSG:xxxx' or WKT, not {crs!r}")
    if isinstance(crs, (int, np.integer)):
        return f"EPSG:{int(crs)}"
    if isinstance(crs, str):
        return crs
    for method in ("ExportToWkt", "to_wkt"):  # osr.SpatialReference, pyproj.CRS
        if callable(getattr(crs, method, None)):
            return getattr(crs, method)()
    raise ValueError(f"crs must be an EPSG code, 'EPSG:xxxx' or WKT, not {type(crs).__name__}")


def geotransform_array(geotransform: Any) -> Optional[ctypes.Array]:
    """GDAL's six affine coefficients as a ``double[6]`` (None for none).
    Accepts a sequence or an object with ``to_gdal()`` (``affine.Affine``)."""
    if geotransform is None:
        return None
    if callable(getattr(geotransform, "to_gdal", None)):
        geotransform = geotransform.to_gdal()
    try:
        values = list(geotransform)
    except TypeError:
        raise ValueError(f"geotransform must be GDAL's 6 affine coefficients, not {type(geotransform).__name__}") \
            from None
    if len(values) != 6:
        raise ValueError(f"geotransform must have 6 numbers (GDAL's affine coefficients), got {len(values)}")
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise ValueError(f"geotransform must hold 6 finite numbers, got {tuple(values)!r}")
    return (ctypes.c_double * 6)(*(float(v) for v in values))


def nodata_pointer(nodata: Any) -> Optional[ctypes.c_double]:
    """The nodata value as a ``double`` (None for none); NaN is allowed. An
    integer a double cannot hold exactly (a 64-bit nodata such as 2**64 - 1)
    is None here: it goes as the library's NODATA option (WriteOptions.with_nodata)."""
    if nodata is None:
        return None
    if not isinstance(nodata, numbers.Real) or isinstance(nodata, (bool, np.bool_)):
        raise ValueError(f"nodata must be a number, not {type(nodata).__name__} {nodata!r}")
    if beyond_double(nodata):
        return None
    return ctypes.c_double(float(nodata))


def as_bands(array: np.ndarray, what: str = "dataset") -> np.ndarray:
    """A C-contiguous, native-byte-order bands x rows x cols view (or copy)."""
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise ValueError(f"{what} array must be 2-D (rows x cols) or 3-D (bands x rows x cols), "
                         f"got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"{what} array must not be empty, got shape {array.shape}")
    dtype_code(array.dtype, f"{what} dtype")
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
