"""Streaming tiles: read_window, read_tiles and map_tiles.

The Go library decodes tiles ahead of Python on worker threads (GeoTIFF
blocks directly, one range request per run of adjacent blocks, many in
flight) and compresses results in parallel; Python sees numpy
arrays, and ctypes releases the GIL during every call. Memory stays bounded
by the tiles in flight, whatever the raster size.
"""
from __future__ import annotations

import concurrent.futures
import ctypes
import operator
import os
import tempfile
from collections import deque
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._datasets import (NUMPY_OF, Georef, dtype_code, file_name, in_memory_pixels, is_gdal_dataset, is_path,
                        open_dataset, unwrap)
from ._options import Options, Progress, WriteOptions, write_options
from .cog import as_bands, crs_text, geotransform_array, nodata_pointer, write_cog
from .windows import DEFAULT_TILE, TileWindow, tile_windows
EDGES = {"replicate": 0, "nodata": 1}


def _integer(what: str, value) -> int:
    """value as an int, if it is one (a float 1.5 is not: it would be cut)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{what} must be an integer, not {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, not {type(value).__name__} {value!r}") from None


def _band_numbers(bands) -> Optional[List[int]]:
    """The 1-based bands a caller names (one number or several), or None for
    every band. Whether they exist is the library's to say, for every raster
    it opens (a raster in memory it never sees: see _array_bands)."""
    if bands is None:
        return None
    single = not hasattr(bands, "__iter__")
    out = [_integer("bands", b) for b in ([bands] if single else bands)]
    if not out:
        raise ValueError("bands must name at least one band")
    return out


def _array_bands(bands, count: int) -> List[int]:
    """The 0-based indexes of the bands named of an array with count bands,
    which only this package reads."""
    numbers = _band_numbers(bands) or list(range(1, count + 1))
    bad = [b for b in numbers if b < 1 or b > count]
    if bad:
        raise ValueError(f"bands {bad} do not exist: the raster has bands 1..{count}")
    return [b - 1 for b in numbers]


def _shaped(array: np.ndarray) -> np.ndarray:
    """(rows, cols) for one band, (bands, rows, cols) otherwise."""
    return array[0] if array.shape[0] == 1 else array


def _name_or_array(dataset):
    """A dataset's file name, or its pixels when it lives only in memory."""
    source = unwrap(dataset)
    if is_path(source):
        return os.fsdecode(source), None
    if is_gdal_dataset(source):
        name = file_name(source)
        return (name, None) if name is not None else (None, in_memory_pixels(source)[0])
    if isinstance(source, np.ndarray):
        return None, source
    raise ValueError("dataset must be a path or URL, a GDAL or pyramids dataset, or a numpy array, not "
                     f"{type(dataset).__name__}")


def read_window(dataset, window, *, bands: Union[None, int, Sequence[int]] = None) -> np.ndarray:
    """Read one window (a ``TileWindow`` or a row-first 4-tuple) of ``dataset``.

    Returns ``(n_rows, n_cols)`` for one band, ``(bands, n_rows, n_cols)``
    otherwise. Handles to rasters read this way are cached, so reading many
    windows of one raster opens it once.

    >>> import numpy as np
    >>> from cloudio import read_window, TileWindow
    >>> read_window(np.arange(20).reshape(4, 5), TileWindow(1, 2, 2, 3))
    array([[ 7,  8,  9],
           [12, 13, 14]])
    """
    win = TileWindow(*(_integer("window", v) for v in window))
    name, array = _name_or_array(dataset)
    if array is not None:
        data = as_bands(array)
        rows, cols = data.shape[1:]
        if not win.within(rows, cols):
            raise ValueError(f"window {tuple(win)} is not inside the {rows} x {cols} raster")
        return _shaped(data[_array_bands(bands, data.shape[0])][(slice(None),) + win.slices].copy())
    return _shaped(open_dataset(name).read(*win, _band_numbers(bands)))


class TileReader:
    """Tiles of a raster decoded ahead by the library, in tile_windows order."""

    def __init__(self, name: str, tile_rows: int, tile_cols: int, overlap: int = 0, *, halo: int = 0,
                 edge: str = "replicate", bands=None, dtype=None, workers: Optional[int] = None,
                 prefetch: Optional[int] = None, masks: bool = False):
        if edge not in EDGES:
            raise ValueError(f"edge must be one of {sorted(EDGES)}, not {edge!r}")
        for arg, value in (("workers", workers), ("prefetch", prefetch)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{arg} must be a positive integer or None, not {value!r}")
        opts = _lib.ReaderOptions()
        _lib.library().cloudio_reader_options_init(ctypes.byref(opts))
        opts.tile_rows, opts.tile_cols, opts.overlap, opts.halo = tile_rows, tile_cols, overlap, halo
        opts.edge = EDGES[edge]
        if bands is not None:
            self._bands = (ctypes.c_int * len(bands))(*bands)
            opts.bands, opts.n_bands = ctypes.cast(self._bands, ctypes.POINTER(ctypes.c_int)), len(bands)
        opts.dtype = 0 if dtype is None else dtype_code(dtype)
        opts.workers, opts.prefetch = workers or 0, prefetch or 0
        self.masks = masks
        self.handle: Optional[ctypes.c_void_p] = ctypes.c_void_p()
        _lib.call("cloudio_reader_open_masked", _lib.fspath(name), ctypes.byref(opts), int(masks),
                  ctypes.byref(self.handle))
        self.info = _lib.Info()
        count, self._max_len = ctypes.c_uint64(), ctypes.c_size_t()
        _lib.call("cloudio_reader_info", self.handle, ctypes.byref(self.info), ctypes.byref(count),
                  ctypes.byref(self._max_len))
        self.count = count.value
        self.bands = len(bands) if bands is not None else self.info.bands
        self.dtype = np.dtype(dtype) if dtype is not None else NUMPY_OF[self.info.dtype]
        self._win = (ctypes.c_int64 * 8)()

    def __iter__(self) -> Iterator[Tuple[TileWindow, np.ndarray]]:
        return self

    def __next__(self) -> Tuple[TileWindow, np.ndarray]:
        """The next tile's window and its pixels (padded by the halo), as the
        library decoded them: the window and its padded extent come with the
        data (cloudio_reader_next), so nothing here re-derives the tiling."""
        if not self.handle:
            raise StopIteration
        raw = np.empty(self._max_len.value, np.uint8)
        _lib.call("cloudio_reader_next", self.handle, self._win, raw.ctypes.data_as(ctypes.c_void_p), raw.nbytes)
        win, padded = TileWindow(*self._win[:4]), TileWindow(*self._win[4:])
        if win.n_rows == 0:  # the end
            raise StopIteration
        shape = (self.bands, padded.n_rows, padded.n_cols)
        cells = shape[0] * shape[1] * shape[2]
        out = raw[:cells * self.dtype.itemsize].view(self.dtype).reshape(shape)
        if self.masks:  # the library's masks follow the data: 0 where a cell holds no data
            out = np.ma.MaskedArray(out, mask=raw[cells * self.dtype.itemsize:][:cells].reshape(shape) == 0)
        return win, out

    def close(self) -> None:
        if self.handle:
            handle, self.handle = self.handle, None
            _lib.call("cloudio_reader_close", handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown, or a forked child
            pass


def read_tiles(dataset, tile_rows: int = DEFAULT_TILE, tile_cols: int = DEFAULT_TILE, overlap: int = 0, *,
               bands: Union[None, int, Sequence[int]] = None,
               prefetch: Optional[int] = None) -> Iterator[Tuple[TileWindow, np.ndarray]]:
    """Yield ``(TileWindow, array)`` for every tile of ``dataset``, in ``tile_windows`` order.

    Arrays are ``(rows, cols)`` for one band, ``(bands, rows, cols)``
    otherwise. The library decodes ``prefetch`` tiles ahead (default: twice
    the core count; 8 x the core count from object stores and HTTP, where
    reads wait on the network) on worker threads while your loop runs, so
    reading is rarely the bottleneck, and memory stays bounded whatever the
    raster size.

    >>> import numpy as np
    >>> from cloudio import read_tiles
    >>> [(tuple(w), a.shape) for w, a in read_tiles(np.zeros((5, 5)), 3, 3)]
    [((0, 0, 3, 3), (3, 3)), ((0, 3, 3, 2), (3, 2)), ((3, 0, 2, 3), (2, 3)), ((3, 3, 2, 2), (2, 2))]
    """
    name, array = _name_or_array(dataset)
    windows = tile_windows(array if array is not None else dataset, tile_rows, tile_cols, overlap)
    if array is not None:
        return ((w, read_window(array, w, bands=bands)) for w in windows)
    if prefetch is not None and (isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 1):
        raise ValueError(f"prefetch must be a positive integer or None, not {prefetch!r}")
    reader = TileReader(name, tile_rows, tile_cols, overlap, bands=_band_numbers(bands), prefetch=prefetch)
    return _iterate(reader)


def _iterate(reader: TileReader) -> Iterator[Tuple[TileWindow, np.ndarray]]:
    with reader:
        for win, data in reader:
            yield win, _shaped(data)


#: cloudio_writer_set_source's CLOUDIO_COPY_* flags.
COPY_METADATA, COPY_MASK = 1, 2


class _Writer:
    """A cloudio_writer handle."""

    def __init__(self, dst, rows, cols, bands, dtype, georef: Georef, opts: WriteOptions):
        gt = geotransform_array(georef.geotransform)
        crs = crs_text(georef.crs)
        nodata = nodata_pointer(georef.nodata)
        self.dtype = np.dtype(dtype)
        self.handle: Optional[ctypes.c_void_p] = ctypes.c_void_p()
        _lib.call("cloudio_writer_open", _lib.fspath(dst), rows, cols, bands, dtype_code(self.dtype, "dtype"), gt,
                  crs.encode() if crs else None, ctypes.byref(nodata) if nodata is not None else None,
                  opts.compress, opts.with_nodata(georef.nodata), ctypes.byref(self.handle))

    def set_source(self, name, bands: Optional[Sequence[int]], copy: int) -> None:
        """cloudio_writer_set_source: the same-source rule, band roles and,
        as copy says (COPY_* flags), metadata and mask."""
        arr = (ctypes.c_int * len(bands))(*bands) if bands else None
        _lib.call("cloudio_writer_set_source", self.handle, _lib.fspath(name), arr, len(bands) if bands else 0, copy)

    def write(self, win: TileWindow, data: np.ndarray, valid: Optional[np.ndarray] = None) -> None:
        """A window of every band; valid (bool, data's shape) marks the cells
        that hold data, the others are written as nodata or masked."""
        data = np.ascontiguousarray(data, dtype=self.dtype)
        if valid is None:
            _lib.call("cloudio_writer_write", self.handle, *win, data.ctypes.data_as(ctypes.c_void_p), data.nbytes)
            return
        mask = np.ascontiguousarray(valid, dtype=np.uint8)
        _lib.call("cloudio_writer_write_masked", self.handle, *win, data.ctypes.data_as(ctypes.c_void_p), data.nbytes,
                  mask.ctypes.data_as(ctypes.c_void_p), mask.nbytes)

    def close(self, progress: Optional[Callable[[float], Any]], scale=(0.0, 1.0)) -> None:
        """Finish the COG; a Ctrl-C while GDAL builds it cancels cleanly."""
        handle, self.handle = self.handle, None
        _lib.ProgressAdapter(progress, scale).run("cloudio_writer_close", handle)

    def abort(self) -> None:
        if self.handle:
            handle, self.handle = self.handle, None
            _lib.call("cloudio_writer_abort", handle)


def _fit(result, win: TileWindow, halo: int, bands_out: Optional[int], dtype: Optional[np.dtype]):
    """A func result as (data, valid): the core window, bands x rows x cols
    of the output type (converted only when every value survives), and
    which cells hold data (None unless func returned a MaskedArray)."""
    if not isinstance(result, np.ndarray):
        raise TypeError(f"func returned {type(result).__name__} for window {tuple(win)}; it must return a numpy array")
    data = result[np.newaxis] if result.ndim == 2 else result
    core, padded = (win.n_rows, win.n_cols), win.padded(halo)[2:]
    if data.ndim != 3 or data.shape[1:] not in (core, padded) or (bands_out is not None and data.shape[0] != bands_out):
        raise ValueError(f"func returned shape {result.shape} for window {tuple(win)}; expected {core} or the padded "
                         f"{padded} (with a leading band axis for several bands"
                         + (f": {bands_out} bands)" if bands_out else ")"))
    if data.shape[1:] != core:
        data = data[:, halo:halo + win.n_rows, halo:halo + win.n_cols]
    valid = None
    if isinstance(data, np.ma.MaskedArray):
        valid = ~np.ma.getmaskarray(data)
        data = data.data
    return _converted(data, dtype or data.dtype, win, valid), valid


def _converted(data: np.ndarray, dtype: np.dtype, win: TileWindow, valid: Optional[np.ndarray]) -> np.ndarray:
    """data as dtype in native byte order, when every value (of the valid
    cells) survives: no wrap-around, no rounding into an integer, no
    overflow to infinity. Otherwise ValueError naming the window and types."""
    target = np.dtype(dtype).newbyteorder("=")
    source = data.dtype
    if source.newbyteorder("=") == target or source.kind == "b" or np.can_cast(source, target, casting="safe"):
        return data.astype(target, copy=False)
    if source.kind not in "uif" or target.kind not in "uif":
        raise TypeError(f"func returned {source} for window {tuple(win)}, which cannot be stored as {target}")
    values = data if valid is None else data[valid]
    problem = None
    if target.kind in "ui":
        info = np.iinfo(target)
        if source.kind == "f" and values.size and not (np.isfinite(values).all()
                                                       and (values == np.round(values)).all()):
            problem = "not all of them are integers"
        elif values.size and (values.min() < info.min or values.max() > info.max):
            problem = f"some are outside {info.min}..{info.max}"
    elif source.kind == "f" and values.size:
        finite = values[np.isfinite(values)]
        if finite.size and np.abs(finite).max() > np.finfo(target).max:
            problem = f"some are beyond {target}'s range and would become infinite"
    if problem:
        raise ValueError(f"func returned {source} values for window {tuple(win)} that {target} cannot hold: "
                         f"{problem}; return {target} or pass dtype=")
    return data.astype(target)


def _apply(func, tile, win: TileWindow, halo: int, bands_out, dtype):
    try:
        result = func(_shaped(tile))
    except BaseException as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"cloudio.map_tiles: raised by func on window {tuple(win)}")
        raise
    return _fit(result, win, halo, bands_out, dtype)


def map_tiles(src, func: Callable[[np.ndarray], np.ndarray], dst, *, tile_rows: int = DEFAULT_TILE,
              tile_cols: int = DEFAULT_TILE, halo: int = 0, edge: str = "replicate",
              bands: Union[None, int, Sequence[int]] = None, dtype=None, nodata: Optional[float] = None,
              compress: str = "deflate", options: Options = None,
              overview_resampling: Optional[str] = None, blocksize: Optional[int] = None,
              progress: Progress = None, workers: Optional[int] = None, masked: bool = False,
              copy_metadata: bool = True, statistics: Optional[bool] = None) -> str:
    """Apply ``func`` to every tile of ``src`` and write the results as a COG at ``dst``.

    ``func`` receives each tile padded by ``halo`` cells on every side —
    ``(rows + 2*halo, cols + 2*halo)`` for one band, with a leading band axis
    for several — and returns either the core tile or the padded shape
    (cloudio crops it). Beyond the raster's edge the halo is filled as
    ``edge`` says: ``"replicate"`` (repeat the outermost cells, like numpy's
    ``mode="edge"``) or ``"nodata"`` (the source's nodata value). So a 3 x 3
    operator with ``halo=1`` gives exactly the result of applying it to the
    whole array at once with edge padding, without ever holding the whole array.

    The result keeps the source's georeferencing, the roles of its bands
    (no RGB, alpha or palette appears that the source did not have) and its
    per-dataset mask (masked cells stay masked), and, unless
    ``copy_metadata=False`` (for a func that changes what the data mean),
    band descriptions, units, scale/offset, band and dataset metadata and
    colour tables. ``dtype`` defaults to the type func returns for the first
    tile; a result of another type is converted only when every value
    survives (no wrap-around, no rounding into integers, no overflow to
    infinity), else ``ValueError`` names the window. ``nodata`` defaults to
    the source's, also through a change of type when the new type holds it
    (``ValueError`` otherwise: pass ``nodata=``). With ``masked=True`` func
    gets ``numpy.ma.MaskedArray`` tiles whose mask is GDAL's (nodata, the
    per-dataset mask, alpha); a MaskedArray it returns is written with its
    masked cells as nodata, or, without nodata, as the output's mask.
    ``compress``, ``options``, ``overview_resampling``, ``blocksize`` and
    ``progress`` as for :func:`cloudio.write_cog`. With ``workers`` > 1 (default: the
    core count) func runs in a thread pool (numpy releases the GIL) while the
    library decodes and encodes in parallel. ``progress`` is a callable
    taking the fraction done, or True for a tqdm bar (a text line without
    tqdm). Each band's statistics are recorded in the file from the tiles
    as they are written, as :func:`write_cog` does (``statistics=False``
    skips them). If func raises, or on Ctrl-C, the workers stop, nothing is
    left at ``dst`` and the exception propagates. Returns ``dst`` as a string.

    >>> import os, tempfile
    >>> import numpy as np
    >>> from cloudio import map_tiles, write_cog, read_window, TileWindow
    >>> d = tempfile.mkdtemp()
    >>> src = write_cog(np.arange(36, dtype=np.float32).reshape(6, 6), os.path.join(d, "z.tif"),
    ...                 geotransform=(0, 1, 0, 0, 0, -1), crs=4326)
    >>> out = map_tiles(src, lambda t: t * 2, os.path.join(d, "z2.tif"), tile_rows=4, tile_cols=4)
    >>> read_window(out, TileWindow(0, 0, 2, 3))
    array([[ 0.,  2.,  4.],
           [12., 14., 16.]], dtype=float32)
    """
    if not callable(func):
        raise ValueError("func must be callable")
    if isinstance(halo, bool) or not isinstance(halo, int) or halo < 0:
        raise ValueError(f"halo must be an integer >= 0, not {halo!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer or None, not {workers!r}")
    opts = write_options(compress, options, overview_resampling, blocksize, progress,
                         f"map_tiles {os.path.basename(os.fsdecode(dst))}", statistics=statistics, once=True)
    out_dtype = None if dtype is None else np.dtype(dtype)
    if out_dtype is not None:
        dtype_code(out_dtype, "dtype")
    name, array = _name_or_array(src)
    if array is not None:
        # Only files can be streamed: a raster that lives only in memory is
        # written to a temporary COG first.
        with tempfile.TemporaryDirectory() as tmp:
            staged = write_cog(unwrap(src), os.path.join(tmp, "src.tif"), statistics=False)
            return map_tiles(staged, func, dst, tile_rows=tile_rows, tile_cols=tile_cols, halo=halo, edge=edge,
                             bands=bands, dtype=dtype, nodata=nodata, compress=compress, options=options,
                             overview_resampling=overview_resampling, blocksize=blocksize, progress=progress,
                             workers=workers, masked=masked, copy_metadata=copy_metadata, statistics=statistics)
    source = open_dataset(name)
    report = opts.progress
    workers = workers or os.cpu_count() or 1
    reader = TileReader(name, tile_rows, tile_cols, halo=halo, edge=edge, bands=_band_numbers(bands),
                        workers=workers, masks=masked)
    band_list = _band_numbers(bands) or list(range(1, reader.bands + 1))
    writer = None
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    try:
        with reader:
            tiles = iter(reader)
            first_win, first_tile = next(tiles)
            first, first_valid = _apply(func, first_tile, first_win, halo, None, out_dtype)
            out_dtype = out_dtype or first.dtype
            bands_out = first.shape[0]
            georef = source.georef if nodata is None else source.georef._replace(nodata=nodata)
            writer = _Writer(dst, source.info.rows, source.info.cols, bands_out, out_dtype, georef, opts)
            writer.set_source(name, band_list if bands_out == len(band_list) else None,
                              COPY_MASK | (COPY_METADATA if copy_metadata else 0))
            writer.write(first_win, first, first_valid)

            def run(win, tile):
                writer.write(win, *_apply(func, tile, win, halo, bands_out, out_dtype))

            done, pending = 1, deque[concurrent.futures.Future]()

            def finish_one():
                nonlocal done
                pending.popleft().result()
                done += 1
                if report:
                    report(0.8 * done / reader.count)

            for win, tile in tiles:
                pending.append(pool.submit(run, win, tile))
                while len(pending) >= 2 * workers or (pending and pending[0].done()):
                    finish_one()
            while pending:
                finish_one()
        writer.close(report, scale=(0.8, 1.0))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        if writer is not None:
            writer.abort()
        raise
    finally:
        pool.shutdown(wait=True)
    return os.fsdecode(dst)
