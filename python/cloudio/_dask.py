"""Dask backend: lazy Dask arrays over any raster, streamed back into a COG.

Tasks are small and serialisable: each carries the raster's name, a window,
the bands and the data type, never arrays or handles, and reads through
cloudio in whatever process runs it (the library loads lazily there, once per
process, and each process keeps its opened datasets). Results are written by
one streaming writer in the calling process, so a COG written from a cluster
can neither miss tiles nor end up with zero overviews.

Worker processes and fork: the Go runtime inside libcloudio does not survive
``fork()``, so a process forked after the library was loaded raises
:class:`~cloudio.CloudIOError` from its first call instead of hanging (see
``_lib``). Dask's processes scheduler (``multiprocessing.context``) and
dask.distributed's workers (``distributed.worker.multiprocessing-method``)
start their processes with "spawn" by default, which is safe; so is
"forkserver". Set either to "fork" after ``dask_backend`` (which loads the
library to read the raster's size) and the first chunk fails at once with a
CloudIOError that names its window and says to use "spawn".

Dask is imported on first use only: ``import cloudio`` neither needs it nor
pays for importing it.
"""
from __future__ import annotations

import itertools
import os
import sys
import threading
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lineage, _xarray
from ._datasets import Georef, open_dataset
from .errors import CloudIOError, error_for
from ._store_options import StoreAccess, access_for, ensure_configured, scrub
from ._options import Options, Progress, write_options
from .stream import COPY_MASK, COPY_METADATA, _Writer, _band_numbers, _name_or_array
from .windows import DEFAULT_TILE

_PREFIX = "cloudio-read-"


def _require_dask():
    """dask and dask.array, or an ImportError that says what to install."""
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise ImportError("cloudio.dask_backend needs Dask: install it with `pip install 'dask[array]'` "
                          "(or Debian's python3-dask), and `distributed` for clusters") from None
    return dask, da


def default_chunks(block_rows: int, block_cols: int, target: int = DEFAULT_TILE) -> Tuple[int, int]:
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
        # The library's message is scrubbed already; the name is added here.
        shown = scrub(name, [kv for a in access for kv in a.options], refused="***")
        raise error_for(exc.status, f"{exc} [cloudio.dask_backend chunk: window {window} of {shown}]") from None
    return data[0] if squeeze else data


def dask_backend(dataset, tile_rows: Optional[int] = None, tile_cols: Optional[int] = None, *,
                 bands: Union[None, int, Sequence[int]] = None, xarray: bool = False):
    """A lazy Dask array of ``dataset`` whose chunks are tile windows.

    ``rows x cols`` for one band, ``bands x rows x cols`` otherwise. Each
    chunk is read through cloudio by whichever process runs the task, on the
    threaded or processes scheduler or a ``dask.distributed`` cluster. With
    no sizes given, chunks are whole multiples of the raster's internal block
    size near 1024 x 1024. :func:`to_cog` writes the array, and arrays
    derived from it, with the georeferencing of the window its graph proves
    it holds (elementwise operations, ``map_overlap``, rechunking, slicing).
    With ``xarray=True`` the result is the ``xarray.DataArray`` that
    ``rioxarray.open_rasterio`` builds: ``y`` / ``x`` cell-centre
    coordinates, a ``band`` coordinate, a ``spatial_ref`` coordinate whose
    attributes carry the CRS (``crs_wkt``) and ``GeoTransform``, and the
    nodata value as the ``_FillValue`` attribute; ``.rio.crs``,
    ``.rio.transform()`` and ``.rio.bounds()`` work on it (with rioxarray
    installed), and its coordinates stay right through ``isel`` / ``sel``.
    Worker processes must be spawned, not forked (Dask's default; see the
    module's notes on fork).

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
    band_list = tuple(_band_numbers(bands) or range(1, info.bands + 1))
    default_r, default_c = default_chunks(info.block_rows, info.block_cols)
    tr = default_r if tile_rows is None else tile_rows
    tc = default_c if tile_cols is None else tile_cols
    for label, value in (("tile_rows", tr), ("tile_cols", tc)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    dtype = ds.read_type(band_list, ds.dtype)  # the bands are checked before any task is made
    row_chunks = _splits(info.rows, int(tr))
    col_chunks = _splits(info.cols, int(tc))
    squeeze = len(band_list) == 1
    access = access_for(name)  # the tasks carry it: worker processes have none of this one's configuration
    layer = _PREFIX + uuid.uuid4().hex
    graph: Dict[Any, Any] = {}
    row_offs, col_offs = _offsets(row_chunks), _offsets(col_chunks)
    for (i, r0, nr), (j, c0, nc) in itertools.product(zip(range(len(row_chunks)), row_offs, row_chunks),
                                                      zip(range(len(col_chunks)), col_offs, col_chunks)):
        key = (layer, i, j) if squeeze else (layer, 0, i, j)
        graph[key] = (read_chunk, name, (r0, c0, nr, nc), band_list, dtype.str, squeeze, access)
    chunks = (row_chunks, col_chunks) if squeeze else ((len(band_list),), row_chunks, col_chunks)
    hlg = HighLevelGraph.from_collections(layer, graph, dependencies=())
    arr = da.Array(hlg, layer, chunks, dtype=dtype)
    georef = ds.georef
    _lineage.register(layer, _lineage.Window(name, georef, (0, 1), (0, 1), band_list, (info.rows, info.cols)))
    if xarray:
        return _xarray.build(arr, georef, band_list)
    return arr


def _splits(n: int, size: int) -> Tuple[int, ...]:
    return tuple(min(size, n - o) for o in range(0, n, size)) or (0,)


def _offsets(sizes) -> list:
    return list(itertools.accumulate((0,) + tuple(sizes[:-1])))


def georef_of(arr, traced: _lineage.Traced, geotransform=None, crs=None, nodata=None) -> Georef:
    """The georeferencing to write arr (a Dask array whose window of a
    raster is traced) with: each of the arguments that is given, else what
    arr's graph proves (see _lineage). Raises ValueError when arr derives
    from a georeferenced raster but its window cannot be told and no
    geotransform was given."""
    if isinstance(traced, _lineage.Window):
        own = traced.windowed()
    else:
        rasters = _lineage.sources(arr)
        # the CRS and nodata of a raster hold for any window of it
        crs_set = {w.georef.crs for w in rasters}
        nodata_set = {repr(w.georef.nodata) for w in rasters}
        own = Georef(None, crs_set.pop() if len(crs_set) == 1 else None,
                     rasters[0].georef.nodata if len(nodata_set) == 1 else None)
        located = [w for w in rasters if w.georef.geotransform is not None]
        if isinstance(traced, str) and located and geotransform is None:
            raise ValueError(f"to_cog cannot tell which window of {located[0].source} this array is: it goes "
                             f"through {traced}. Pass geotransform= (and crs=), or use "
                             "dask_backend(..., xarray=True), whose x / y coordinates travel with the data")
    return Georef(geotransform, crs, nodata).over(own)


class _Target:
    """What dask.array.store writes into: the streaming writer."""

    def __init__(self, writer: _Writer, ndim: int, on_chunk: Callable[[], None]):
        self.writer, self.ndim, self.on_chunk = writer, ndim, on_chunk

    def __setitem__(self, key, value):
        rows, cols = key[-2:]
        data = value if self.ndim == 3 else value[np.newaxis]
        self.writer.write((rows.start, cols.start, rows.stop - rows.start, cols.stop - cols.start), data)
        self.on_chunk()


def to_cog(darr, path, *, compress: str = "deflate", options: Options = None, overview_resampling: Optional[str] = None,
           blocksize: Optional[int] = None, geotransform: Optional[Sequence[float]] = None,
           crs: Union[None, int, str] = None, nodata: Optional[float] = None, progress: Progress = None,
           chunks_in_flight: Optional[int] = None, copy_metadata: bool = True,
           statistics: Optional[bool] = None) -> str:
    """Compute ``darr`` chunk by chunk and stream it into a COG at ``path``.

    ``darr`` is a Dask array or an xarray DataArray (from ``dask_backend(...,
    xarray=True)`` or ``rioxarray.open_rasterio``, with or without a band
    dimension, sliced with ``isel`` / ``sel`` or not). Georeferencing never
    is invented: each of ``geotransform`` / ``crs`` / ``nodata`` that is
    given wins; else a DataArray's come from its x / y coordinates and its
    ``spatial_ref`` grid mapping (the CF conventions rioxarray writes), and
    a Dask array's from the raster :func:`dask_backend` read, moved to the
    window the array's graph proves it holds (through elementwise
    operations, rechunking, ``map_overlap`` and slicing: a contiguous slice
    shifts the origin, ``[::k]`` scales the cell size). When the graph
    cannot prove the window (a transpose, a reduction, fancy indexing, ...),
    ``to_cog`` raises ``ValueError`` saying to pass ``geotransform=`` or to
    use ``xarray=True``; an array that never had georeferencing is written
    without. The output's bands keep the roles of the bands they hold, an
    array of every cell of a raster its per-dataset mask, and, unless
    ``copy_metadata=False``, their descriptions, units, scale/offset,
    metadata and colour tables and the raster's metadata. ``path`` must not
    name a raster the array is read from. The same keyword-only
    ``compress``, ``options``, ``overview_resampling``, ``blocksize`` and
    ``progress`` as :func:`cloudio.write_cog`. Memory stays bounded by the
    chunks in flight; the write is atomic, as for :func:`write_cog`, and only
    this process writes the file, so no locks or shared file system are
    needed. How the chunks
    get here depends on the active scheduler:

    - threaded or synchronous: they stream straight into the writer;
    - dask.distributed: at most ``chunks_in_flight`` chunks are computed at a
      time (default: twice the cluster's threads), in row-major order, and
      each is written as soon as it arrives. Tasks that several chunks need
      (the reads feeding map_overlap halos) run once; the workers keep their
      results until the last chunk needing them has been submitted (about two
      rows of source tiles for map_overlap). A failing chunk cancels the rest
      and its exception keeps its type, with the window added as a note
      (Python 3.11+);
    - Dask's processes scheduler: in small batches.

    Each band's statistics are recorded in the file from the chunks as they
    arrive, as :func:`cloudio.write_cog` does (``statistics=False`` skips
    them). Returns ``path`` as a string.
    """
    dask, da = _require_dask()
    opts = write_options(compress, options, overview_resampling, blocksize, progress,
                         f"to_cog {os.path.basename(os.fsdecode(path))}", statistics=statistics, once=True)
    if chunks_in_flight is not None and (isinstance(chunks_in_flight, bool) or
                                         not isinstance(chunks_in_flight, (int, np.integer)) or chunks_in_flight < 1):
        raise ValueError(f"chunks_in_flight must be a positive integer or None, not {chunks_in_flight!r}")
    sources = []  # the rasters darr is read from: no writer replaces its source
    if _xarray.is_dataarray(darr):
        if darr.encoding.get("source"):  # where rioxarray read it from
            sources.append(darr.encoding["source"])
        darr, own = _xarray.read(darr)
        geotransform, crs, nodata = Georef(geotransform, crs, nodata).over(own)
    if not isinstance(darr, da.Array):
        darr = da.asarray(darr)
    if darr.ndim not in (2, 3):
        raise ValueError(f"to_cog needs a 2-D (rows x cols) or 3-D (bands x rows x cols) array, got shape {darr.shape}")
    if any(s == 0 for s in darr.shape):
        raise ValueError(f"to_cog needs a non-empty array, got shape {darr.shape}")
    if darr.ndim == 3:
        darr = darr.rechunk({0: -1})  # every chunk holds all bands: one write per window
    traced = _lineage.trace(darr)
    georef = georef_of(darr, traced, geotransform, crs, nodata)
    bands = darr.shape[0] if darr.ndim == 3 else 1
    rows, cols = darr.shape[-2:]
    report = opts.progress
    writer = _Writer(path, rows, cols, bands, darr.dtype, georef, opts)
    try:
        if isinstance(traced, _lineage.Window) and traced.bands is not None:  # the bands' roles, metadata, mask
            writer.set_source(traced.source, traced.bands, (COPY_METADATA if copy_metadata else 0) |
                              (COPY_MASK if traced.whole(darr.shape) else 0))
        for name in dict.fromkeys(sources + [w.source for w in _lineage.sources(darr)]):
            writer.set_source(name, None, 0)
    except BaseException:
        writer.abort()
        raise
    total, done = darr.npartitions, 0
    lock = threading.Lock()

    def on_chunk():
        nonlocal done
        with lock:
            done += 1
            if report:
                report(0.8 * done / total)

    target = _Target(writer, darr.ndim, on_chunk)
    try:
        client = _distributed_client()
        if client is not None:
            _stream_from_cluster(client, darr, target, chunks_in_flight or 2 * max(1, sum(client.nthreads().values())))
        elif _streams_in_process():
            da.store(darr, target, lock=False, compute=True)
        else:
            _gather_in_batches(dask, darr, target)
        writer.close(report, scale=(0.8, 1.0))
    except BaseException:
        writer.abort()
        raise
    return os.fsdecode(path)


def _distributed_client():
    """The dask.distributed Client that the active scheduler belongs to, or
    None (also when distributed was never imported: then there is none)."""
    if "distributed" not in sys.modules:
        return None
    from dask.base import get_scheduler
    from distributed import Client
    owner = getattr(get_scheduler(), "__self__", None)
    return owner if isinstance(owner, Client) else None


def _streams_in_process() -> bool:
    """Whether the active (non-distributed) scheduler runs tasks in this process."""
    from dask.base import get_scheduler
    scheduler = get_scheduler()
    import dask.local
    import dask.threaded
    return scheduler in (None, dask.threaded.get, dask.local.get_sync)


def _chunk_windows(darr):
    """(key, (row_slice, col_slice)) of every output chunk, row-major."""
    row_offs, col_offs = _offsets(darr.chunks[-2]), _offsets(darr.chunks[-1])
    lead = (0,) * (darr.ndim - 2)
    for i, j in itertools.product(range(len(row_offs)), range(len(col_offs))):
        rows = slice(row_offs[i], row_offs[i] + darr.chunks[-2][i])
        cols = slice(col_offs[j], col_offs[j] + darr.chunks[-1][j])
        yield (darr.name,) + lead + (i, j), (rows, cols)


def _stream_from_cluster(client, darr, target: _Target, chunks_in_flight: int) -> None:
    """Compute the chunks on a dask.distributed cluster, at most
    ``chunks_in_flight`` at a time, in row-major order, and write each here as
    soon as it arrives, whatever the order: no barrier between chunks, and
    this process holds one chunk at a time.

    The graph is optimised once; each chunk goes to the scheduler with only the
    tasks it needs. A task that several chunks need (the read of a tile whose
    edges feed its neighbours' map_overlap halos, say) runs once: this keeps a
    future on it until the last chunk that needs it has been submitted, so the
    workers hold those shared results too (for map_overlap, about two rows of
    source tiles). On failure the chunks still in flight are cancelled and the
    error keeps its type, with the window noted."""
    from dask.core import get_dependencies
    from distributed import as_completed
    windows = list(_chunk_windows(darr))
    graph = dict(darr.__dask_optimize__(darr.__dask_graph__(), [key for key, _ in windows]))

    def needed(key) -> dict:
        sub, todo = {}, [key]
        while todo:
            k = todo.pop()
            if k not in sub:
                sub[k] = graph[k]
                todo.extend(get_dependencies(graph, k))
        return sub

    subgraphs: List[Any] = [needed(key) for key, _ in windows]
    last_user = {k: n for n, sub in enumerate(subgraphs) for k in sub}
    shared: Dict[Any, Any] = {}  # key -> a future that keeps the result until its last user is submitted
    pending = {}  # chunk key -> (future, window), until written
    arrived = as_completed(loop=client.loop)
    submitted = 0

    def submit_next() -> None:
        nonlocal submitted
        if submitted == len(windows):
            return
        n, (key, window), sub = submitted, windows[submitted], subgraphs[submitted]
        subgraphs[n], submitted = None, n + 1
        keep = [k for k in sub if last_user[k] > n and k not in shared]
        future, *kept = client.get(sub, [key] + keep, sync=False)
        shared.update(zip(keep, kept))
        for k in [k for k in sub if last_user[k] == n and k in shared]:
            shared.pop(k).release()  # the chunk just submitted keeps it alive until it is done
        pending[key] = future, window
        arrived.add(future)

    try:
        for _ in range(chunks_in_flight):
            submit_next()
        for future in arrived:
            rows, cols = window = pending[future.key][1]
            try:
                value = future.result()
            except BaseException as exc:
                if hasattr(exc, "add_note"):
                    exc.add_note(f"cloudio.to_cog: computing the chunk at rows {rows.start}:{rows.stop}, "
                                 f"cols {cols.start}:{cols.stop}")
                raise
            target[window] = value
            del pending[future.key]
            future.release()
            submit_next()
    finally:
        if pending:  # something failed: stop the chunks still running
            client.cancel([future for future, _ in pending.values()] + list(shared.values()))


def _gather_in_batches(dask, darr, target: _Target) -> None:
    """Compute chunks on other processes (Dask's processes scheduler) a few at
    a time, in row-major order, and write them here."""
    chunks = darr.to_delayed().reshape(-1)  # row-major, as _chunk_windows
    windows = [window for _, window in _chunk_windows(darr)]
    batch = max(4, 2 * (os.cpu_count() or 1))
    for start in range(0, len(windows), batch):
        for window, value in zip(windows[start:start + batch], dask.compute(*chunks[start:start + batch])):
            target[window] = value
