"""Dask backend: lazy Dask arrays over any raster, streamed back into a COG.

Tasks are small and serialisable: each carries the raster's name, a window,
the bands and the data type, never arrays or handles, and reads through
cloudio in whatever process runs it (the library loads lazily there). Results
are written by one streaming writer in the calling process, so a COG written
from a cluster can neither miss tiles nor end up with zero overviews.

Dask is imported on first use only: ``import cloudio`` neither needs it nor
pays for importing it.
"""
from __future__ import annotations

import itertools
import os
import threading
import uuid
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np

from ._datasets import Georef, open_dataset
from .errors import CloudIOError, error_for
from .storage import StoreAccess, access_for, ensure_configured, scrub
from .stream import _Writer, _band_list, _name_or_array, _progress_callable

_PREFIX = "cloudio-read-"
# Georeferencing of the arrays dask_backend made, by graph layer name: an
# array derived from one (elementwise ops, map_overlap) still has that layer.
_georefs: dict = {}
_georefs_lock = threading.Lock()


def _require_dask():
    """dask and dask.array, or an ImportError that says what to install."""
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise ImportError("cloudio.dask_backend needs Dask: install it with `pip install 'dask[array]'` "
                          "(or Debian's python3-dask), and `distributed` for clusters") from None
    return dask, da


def default_chunks(block_rows: int, block_cols: int, target: int = 1024) -> Tuple[int, int]:
    """Whole multiples of the internal block size nearest ``target``: chunks
    that cut blocks decode them twice.

    >>> default_chunks(512, 512)
    (1024, 1024)
    >>> default_chunks(1, 8192)
    (1024, 8192)
    >>> default_chunks(256, 300)
    (1024, 900)
    """
    def near(block: int) -> int:
        return block * max(1, round(target / block))
    return near(block_rows), near(block_cols)


def read_chunk(name: str, window: Tuple[int, int, int, int], bands: Tuple[int, ...], dtype: str,
               squeeze: bool, access: Tuple[StoreAccess, ...] = ()) -> np.ndarray:
    """One chunk, read in the process that runs the task, with the options
    of the stores that cover name (``access``) configured there first."""
    try:
        ensure_configured(access)
        data = open_dataset(name).read(*window, list(bands), dtype)
    except CloudIOError as exc:
        message = scrub(f"{exc} [cloudio.dask_backend chunk: window {window} of {name}]",
                        [kv for a in access for kv in a.options])
        raise error_for(exc.status, message) from None
    return data[0] if squeeze else data


def dask_backend(dataset, tile_rows: Optional[int] = None, tile_cols: Optional[int] = None, *,
                 bands: Union[None, int, Sequence[int]] = None, xarray: bool = False):
    """A lazy Dask array of ``dataset`` whose chunks are tile windows.

    ``rows x cols`` for one band, ``bands x rows x cols`` otherwise. Each
    chunk is read through cloudio by whichever process runs the task, on the
    threaded or processes scheduler or a ``dask.distributed`` cluster. With
    no sizes given, chunks are whole multiples of the raster's internal block
    size near 1024 x 1024. The array keeps its georeferencing for
    :func:`to_cog`, also through elementwise operations and ``map_overlap``.
    With ``xarray=True`` the result is an ``xarray.DataArray`` with ``y`` /
    ``x`` cell-centre coordinates, like ``rioxarray.open_rasterio``.

    >>> import os, tempfile
    >>> import numpy as np
    >>> from cloudio import write_cog, dask_backend
    >>> path = write_cog(np.ones((300, 200), np.float32), os.path.join(tempfile.mkdtemp(), "ones.tif"),
    ...                  geotransform=(0, 1, 0, 0, 0, -1), crs=4326)
    >>> arr = dask_backend(path, 128, 128)
    >>> arr.shape, arr.chunks[0]
    ((300, 200), (128, 128, 44))
    >>> float(arr.sum().compute())
    60000.0
    """
    _, da = _require_dask()
    from dask.highlevelgraph import HighLevelGraph
    name, array = _name_or_array(dataset)
    if name is None:
        raise ValueError("dask_backend reads rasters by name, so that tasks can run in other processes; this "
                         "dataset lives only in memory: write it with cloudio.write_cog first, or use "
                         "dask.array.from_array")
    ds = open_dataset(name)
    info = ds.info
    band_list = tuple(_band_list(bands, info.bands))
    default_r, default_c = default_chunks(info.block_rows, info.block_cols)
    tr = default_r if tile_rows is None else tile_rows
    tc = default_c if tile_cols is None else tile_cols
    for label, value in (("tile_rows", tr), ("tile_cols", tc)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    dtype = ds.dtype
    row_chunks = _splits(info.rows, int(tr))
    col_chunks = _splits(info.cols, int(tc))
    squeeze = len(band_list) == 1
    access = access_for(name)  # the tasks carry it: worker processes have none of this one's configuration
    layer = _PREFIX + uuid.uuid4().hex
    graph = {}
    row_offs, col_offs = _offsets(row_chunks), _offsets(col_chunks)
    for (i, r0, nr), (j, c0, nc) in itertools.product(zip(range(len(row_chunks)), row_offs, row_chunks),
                                                      zip(range(len(col_chunks)), col_offs, col_chunks)):
        key = (layer, i, j) if squeeze else (layer, 0, i, j)
        graph[key] = (read_chunk, name, (r0, c0, nr, nc), band_list, dtype.str, squeeze, access)
    chunks = (row_chunks, col_chunks) if squeeze else ((len(band_list),), row_chunks, col_chunks)
    hlg = HighLevelGraph.from_collections(layer, graph, dependencies=())
    arr = da.Array(hlg, layer, chunks, dtype=dtype)
    georef = ds.georef
    with _georefs_lock:
        _georefs[layer] = (georef, (info.rows, info.cols))
    if xarray:
        return _as_dataarray(arr, georef, band_list)
    return arr


def _splits(n: int, size: int) -> Tuple[int, ...]:
    return tuple(min(size, n - o) for o in range(0, n, size)) or (0,)


def _offsets(sizes) -> list:
    return list(itertools.accumulate((0,) + tuple(sizes[:-1])))


def _as_dataarray(arr, georef: Georef, band_list):
    try:
        import xarray as xr
    except ImportError:
        raise ImportError("dask_backend(..., xarray=True) needs xarray: `pip install xarray`") from None
    gt = georef.geotransform or (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    rows, cols = arr.shape[-2:]
    coords = {"y": gt[3] + gt[5] * (np.arange(rows) + 0.5), "x": gt[0] + gt[1] * (np.arange(cols) + 0.5)}
    dims = ("y", "x")
    if arr.ndim == 3:
        coords["band"] = list(band_list)
        dims = ("band", "y", "x")
    attrs = {"transform": tuple(gt), "crs": georef.crs, "nodata": georef.nodata, "_FillValue": georef.nodata}
    return xr.DataArray(arr, coords=coords, dims=dims, attrs={k: v for k, v in attrs.items() if v is not None})


def georef_of(arr) -> Optional[Georef]:
    """The georeferencing of an array made by dask_backend, or derived from
    one without changing its raster shape; None when there is none or it is
    ambiguous."""
    found = set()
    with _georefs_lock:
        for name in arr.dask.layers:
            entry = _georefs.get(name)
            if entry is not None and entry[1] == tuple(arr.shape[-2:]):
                found.add(entry[0])
    return found.pop() if len(found) == 1 else None


class _Target:
    """What dask.array.store writes into: the streaming writer."""

    def __init__(self, writer: _Writer, ndim: int, on_chunk: Callable[[], None]):
        self.writer, self.ndim, self.on_chunk = writer, ndim, on_chunk

    def __setitem__(self, key, value):
        rows, cols = key[-2:]
        data = value if self.ndim == 3 else value[np.newaxis]
        self.writer.write((rows.start, cols.start, rows.stop - rows.start, cols.stop - cols.start), data)
        self.on_chunk()


def to_cog(darr, path, *, compress: str = "deflate", geotransform: Optional[Sequence[float]] = None,
           crs: Union[None, int, str] = None, nodata: Optional[float] = None,
           progress: Union[None, bool, Callable[[float], Any]] = None) -> str:
    """Compute ``darr`` chunk by chunk and stream it into a COG at ``path``.

    Georeferencing comes from the arguments, else from the array itself when
    it came from :func:`dask_backend` (directly or through operations that
    keep its shape), or from an xarray DataArray's ``transform`` / ``crs`` /
    ``nodata`` attributes. Memory stays bounded by the chunks in flight; the
    write is atomic, as for :func:`write_cog`. On the threaded and
    synchronous schedulers chunks stream straight into the writer; on the
    processes scheduler and dask.distributed they are computed in small
    batches and sent back to this process, which alone writes the file, so
    no locks or shared file system are needed. Returns ``path`` as a string.
    """
    dask, da = _require_dask()
    attrs = getattr(darr, "attrs", None)
    if attrs is not None and hasattr(darr, "data"):  # an xarray DataArray
        geotransform = geotransform if geotransform is not None else attrs.get("transform")
        crs = crs if crs is not None else attrs.get("crs")
        nodata = nodata if nodata is not None else attrs.get("nodata", attrs.get("_FillValue"))
        darr = darr.data
    if not isinstance(darr, da.Array):
        darr = da.asarray(darr)
    if darr.ndim not in (2, 3):
        raise ValueError(f"to_cog needs a 2-D (rows x cols) or 3-D (bands x rows x cols) array, got shape {darr.shape}")
    if any(s == 0 for s in darr.shape):
        raise ValueError(f"to_cog needs a non-empty array, got shape {darr.shape}")
    if darr.ndim == 3:
        darr = darr.rechunk({0: -1})  # every chunk holds all bands: one write per window
    own = georef_of(darr) or Georef(None, None, None)
    georef = Georef(geotransform if geotransform is not None else own.geotransform,
                    crs if crs is not None else own.crs,
                    nodata if nodata is not None else own.nodata)
    bands = darr.shape[0] if darr.ndim == 3 else 1
    rows, cols = darr.shape[-2:]
    report = _progress_callable(progress, f"to_cog {os.path.basename(os.fsdecode(path))}")
    writer = _Writer(path, rows, cols, bands, darr.dtype, georef, compress)
    total, done = darr.npartitions, 0
    lock = threading.Lock()

    def on_chunk():
        nonlocal done
        with lock:
            done += 1
            if report:
                report(0.8 * done / total)

    try:
        if _streams_in_process():
            da.store(darr, _Target(writer, darr.ndim, on_chunk), lock=False, compute=True)
        else:
            _gather_in_batches(dask, darr, _Target(writer, darr.ndim, on_chunk))
        writer.close(report, scale=(0.8, 1.0))
    except BaseException:
        writer.abort()
        raise
    return os.fsdecode(path)


def _streams_in_process() -> bool:
    """Whether the active scheduler runs tasks in this process."""
    from dask.base import get_scheduler
    scheduler = get_scheduler()
    import dask.local
    import dask.threaded
    return scheduler in (None, dask.threaded.get, dask.local.get_sync)


def _gather_in_batches(dask, darr, target: _Target) -> None:
    """Compute chunks on other processes a few at a time, in row-major order,
    and write them here."""
    grid = darr.to_delayed()
    if darr.ndim == 3:
        grid = grid[0]
    row_offs = _offsets(darr.chunks[-2])
    col_offs = _offsets(darr.chunks[-1])
    batch = max(4, 2 * (os.cpu_count() or 1))
    cells = [(idx, grid[idx]) for idx in np.ndindex(grid.shape)]
    for start in range(0, len(cells), batch):
        part = cells[start:start + batch]
        results = dask.compute(*[d for _, d in part])
        for (idx, _), value in zip(part, results):
            i, j = idx[-2], idx[-1]
            key = (slice(row_offs[i], row_offs[i] + value.shape[-2]), slice(col_offs[j], col_offs[j] + value.shape[-1]))
            target[key] = value
