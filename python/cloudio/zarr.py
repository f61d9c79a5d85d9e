"""Writing Zarr stores (GDAL's Zarr driver, through libcloudio)."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._datasets import Georef
from ._options import Options, Progress, write_options
from .cog import write_source

#: The chunk side when none is given (the library's default too).
DEFAULT_CHUNK = 512


def _chunk_sizes(chunks: Union[None, int, Sequence[int]]) -> Tuple[int, int]:
    """``(rows, cols)`` from an int (square chunks), a pair, or None (0: the
    library's default)."""
    if chunks is None:
        return 0, 0
    pair = (chunks, chunks) if isinstance(chunks, (int, np.integer)) else chunks
    try:
        rows, cols = pair
    except (TypeError, ValueError):
        raise ValueError(f"chunks must be a positive int or a (rows, cols) pair of them, not {chunks!r}") from None
    for value in (rows, cols):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or not 0 < value < 2**31:
            raise ValueError(f"chunks must be a positive int or a (rows, cols) pair of them, not {chunks!r}")
    return int(rows), int(cols)


def write_zarr(dataset: Any, path: Union[str, "os.PathLike[str]"], *,
               chunks: Union[None, int, Sequence[int]] = None, compress: str = "zstd",
               geotransform: Optional[Sequence[float]] = None, crs: Union[None, int, str] = None,
               nodata: Optional[float] = None, options: Options = None, overview_resampling: Optional[str] = None,
               blocksize: Optional[int] = None, progress: Progress = None) -> str:
    """Write ``dataset`` as a Zarr (V2) store at ``path``, with GDAL's Zarr driver.

    ``dataset`` is anything :func:`cloudio.write_cog` takes (a path or URL,
    a Zarr store too; a GDAL or pyramids dataset; a numpy array georeferenced
    by ``geotransform`` / ``crs`` / ``nodata``). ``path`` is a local path or
    an object-store URL (``s3://bucket/dem.zarr``). Every band, the data
    type, the geotransform, the CRS and the nodata value are kept, and GDAL
    reads them back; each band is one 2-D array named after the store
    (``dem`` in ``dem.zarr``, or ``dem_band1`` ... ``dem_bandN``), and every
    cloudio reader (``read_tiles``, ``read_window``, ``dask_backend``,
    ``write_cog``) opens the store by its path or URL as one raster.

    Args:
        chunks: The chunk (tile) size, an int for square chunks or
            ``(rows, cols)``; clipped to the raster. Default 512 x 512.
        compress: A COMPRESS method of the installed GDAL's Zarr driver,
            case-insensitive (GDAL 3.6: ``"none"``, ``"blosc"``, ``"zlib"``,
            ``"gzip"``, ``"lzma"``, ``"zstd"``, ``"lz4"``). An unknown name
            raises ``ValueError``, never writes an uncompressed store.
        options: Extra Zarr creation options (``{"ZSTD_LEVEL": 9}``,
            ``["FORMAT=ZARR_V3"]``, ...), checked against what the driver
            declares before any work.
        overview_resampling: Zarr stores have no overviews: any value is
            an error (the keyword is here so that every writer takes the
            same ones).
        blocksize: Square chunks of this side, as ``chunks=blocksize``.
        progress: Called with the fraction done, or True for a progress bar
            on stderr; returning ``False`` cancels the write
            (``cloudio.CancelledError``).

    The write is atomic: on any failure nothing is left at ``path`` (a local
    store is written beside it and renamed; an object store is written
    locally and uploaded, chunks before metadata, and what was uploaded is
    deleted again on failure). An existing store is never replaced: delete
    it first. Returns ``path`` as a str.

    >>> import os, tempfile
    >>> import numpy as np
    >>> from cloudio import write_zarr, read_window
    >>> z = np.arange(12, dtype=np.float32).reshape(3, 4)
    >>> with tempfile.TemporaryDirectory() as tmpdir:
    ...     out = write_zarr(z, os.path.join(tmpdir, "z.zarr"), chunks=2, geotransform=(0, 1, 0, 3, 0, -1), crs=4326)
    ...     read_window(out, (1, 1, 2, 2))
    array([[ 5.,  6.],
           [ 9., 10.]], dtype=float32)
    """
    dst = _lib.fspath(path, "path")
    opts = write_options(compress, options, overview_resampling, blocksize, progress,
                         f"write_zarr {os.path.basename(os.fsdecode(path))}", example="zstd")
    chunk_rows, chunk_cols = _chunk_sizes(chunks)
    adapter = _lib.ProgressAdapter(opts.progress)
    source = write_source(dataset, Georef(geotransform, crs, nodata))
    tail = (chunk_rows, chunk_cols, opts.compress, opts.options)
    if isinstance(source, bytes):
        adapter.run("cloudio_write_zarr", source, dst, *tail)
    else:
        adapter.run("cloudio_write_zarr_buffer", *source, dst, *tail)
    return os.fsdecode(path)
