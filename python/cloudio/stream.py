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
import sys
import tempfile
from collections import deque
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from . import _lib
from ._datasets import (NUMPY_OF, Georef, dtype_code, file_name, in_memory_pixels, is_gdal_dataset, is_path,
                        open_dataset, unwrap)
from .cog import as_bands, crs_text, geotransform_array, nodata_options, nodata_pointer, write_cog
from .windows import TileWindow, tile_windows

Progress = Union[None, bool, Callable[[float], Any]]
EDGES = {"replicate": 0, "nodata": 1}


def _integer(what: str, value) -> int:
    """value as an int, if it is one (a float 1.5 is not: it would be cut)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{what} must be an integer, not {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, not {type(value).__name__} {value!r}") from None


def _band_list(bands, count: int) -> list:
    if bands is None:
        return list(range(1, count + 1))
    single = not hasattr(bands, "__iter__")
    out = [_integer("bands", bands)] if single else [_integer("bands", b) for b in bands]
    if not out:
        raise ValueError("bands must name at least one band")
    bad = [b for b in out if b < 1 or b > count]
    if bad:
        raise ValueError(f"bands {bad} do not exist: the raster has bands 1..{count}")
    return out


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
        if win.n_rows <= 0 or win.n_cols <= 0 or win.row_off < 0 or win.col_off < 0 or \
                win.row_off + win.n_rows > rows or win.col_off + win.n_cols > cols:
            raise ValueError(f"window {tuple(win)} is not inside the {rows} x {cols} raster")
        picked = [b - 1 for b in _band_list(bands, data.shape[0])]
        return _shaped(data[picked][(slice(None),) + win.slices].copy())
    ds = open_dataset(name)
    return _shaped(ds.read(*win, _band_list(bands, ds.info.bands)))


class TileReader:
    """Tiles of a raster decoded ahead by the library, in tile_windows order."""

    def __init__(self, name: str, tile_rows: int, tile_cols: int, overlap: int = 0, *, halo: int = 0,
                 edge: str = "replicate", bands=None, dtype=None, workers: Optional[int] = None,
                 prefetch: Optional[int] = None):
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
        self.handle = ctypes.c_void_p()
        _lib.call("cloudio_reader_open", _lib.fspath(name), ctypes.byref(opts), ctypes.byref(self.handle))
        self.info = _lib.Info()
        count, self._max_len = ctypes.c_uint64(), ctypes.c_size_t()
        _lib.call("cloudio_reader_info", self.handle, ctypes.byref(self.info), ctypes.byref(count),
                  ctypes.byref(self._max_len))
        self.count = count.value
        self.bands = len(bands) if bands is not None else self.info.bands
        self.dtype = np.dtype(dtype) if dtype is not None else NUMPY_OF[self.info.dtype]
        self.halo = halo
        self._windows = tile_windows((self.info.rows, self.info.cols), tile_rows, tile_cols, overlap)
        self._win = (ctypes.c_int64 * 8)()

    def __iter__(self) -> Iterator[Tuple[TileWindow, np.ndarray]]:
        return self

    def __next__(self) -> Tuple[TileWindow, np.ndarray]:
        expected = next(self._windows, None)
        if expected is None or not self.handle:
            raise StopIteration
        h = self.halo
        out = np.empty((self.bands, expected.n_rows + 2 * h, expected.n_cols + 2 * h), self.dtype)
        _lib.call("cloudio_reader_next", self.handle, self._win, out.ctypes.data_as(ctypes.c_void_p), out.nbytes)
        if tuple(self._win[:4]) != tuple(expected):
            raise _lib.CloudIOError(f"reader returned window {tuple(self._win[:4])}, expected {tuple(expected)}")
        return expected, out

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


def read_tiles(dataset, tile_rows: int = 1024, tile_cols: int = 1024, overlap: int = 0, *,
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
    count = open_dataset(name).info.bands
    band_list = _band_list(bands, count)
    reader = TileReader(name, tile_rows, tile_cols, overlap, bands=band_list, prefetch=prefetch)
    return _iterate(reader)


def _iterate(reader: TileReader) -> Iterator[Tuple[TileWindow, np.ndarray]]:
    with reader:
        for win, data in reader:
            yield win, _shaped(data)


def _progress_callable(progress: Progress, total_label: str) -> Optional[Callable[[float], Any]]:
    """A progress callable: the caller's, or for True a tqdm bar when tqdm is
    installed and a plain text line otherwise."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return progress
    if progress is not True:
        raise ValueError(f"progress must be a callable, True or None, not {progress!r}")
    try:
        from tqdm import tqdm
    except ImportError:
        def line(fraction: float) -> None:
            end = "\n" if fraction >= 1.0 else ""
            sys.stderr.write(f"\r{total_label}: {fraction * 100:5.1f}%{end}")
            sys.stderr.flush()
        return line
    bar = tqdm(total=1000, desc=total_label, unit="‰")

    def update(fraction: float) -> None:
        bar.update(int(fraction * 1000) - bar.n)
        if fraction >= 1.0:
            bar.close()
    return update


class _Writer:
    """A cloudio_writer handle."""

    def __init__(self, dst, rows, cols, bands, dtype, georef: Georef, compress, options=None):
        gt = geotransform_array(georef.geotransform)
        crs = crs_text(georef.crs)
        nodata = nodata_pointer(georef.nodata)
        self.dtype = np.dtype(dtype)
        self.handle = ctypes.c_void_p()
        _lib.call("cloudio_writer_open", _lib.fspath(dst), rows, cols, bands, dtype_code(self.dtype, "dtype"), gt,
                  crs.encode() if crs else None, ctypes.byref(nodata) if nodata is not None else None,
                  compress.encode(), _lib.options_array(nodata_options(georef.nodata, options)),
                  ctypes.byref(self.handle))

    def write(self, win: TileWindow, data: np.ndarray) -> None:
        data = np.ascontiguousarray(data, dtype=self.dtype)
        _lib.call("cloudio_writer_write", self.handle, *win, data.ctypes.data_as(ctypes.c_void_p), data.nbytes)

    def close(self, progress: Optional[Callable[[float], Any]], scale=(0.0, 1.0)) -> None:
        """Finish the COG; a Ctrl-C while GDAL builds it cancels cleanly."""
        handle, self.handle = self.handle, None
        _lib.ProgressAdapter(progress, scale).run("cloudio_writer_close", handle)

    def abort(self) -> None:
        if self.handle:
            handle, self.handle = self.handle, None
            _lib.call("cloudio_writer_abort", handle)


def _fit(result, win: TileWindow, halo: int, bands_out: Optional[int], dtype: Optional[np.dtype]) -> np.ndarray:
    """Check a func result's shape and type and crop a padded one to the core."""
    if not isinstance(result, np.ndarray):
        raise TypeError(f"func returned {type(result).__name__} for window {tuple(win)}; it must return a numpy array")
    data = result[np.newaxis] if result.ndim == 2 else result
    core, padded = (win.n_rows, win.n_cols), (win.n_rows + 2 * halo, win.n_cols + 2 * halo)
    if data.ndim != 3 or data.shape[1:] not in (core, padded) or (bands_out is not None and data.shape[0] != bands_out):
        raise ValueError(f"func returned shape {result.shape} for window {tuple(win)}; expected {core} or the padded "
                         f"{padded} (with a leading band axis for several bands"
                         + (f": {bands_out} bands)" if bands_out else ")"))
    if data.shape[1:] != core:
        data = data[:, halo:halo + win.n_rows, halo:halo + win.n_cols]
    if dtype is not None and not np.can_cast(data.dtype, dtype, casting="same_kind"):
        raise TypeError(f"func returned {data.dtype} for window {tuple(win)}, which cannot be stored as {dtype}")
    return data


def _apply(func, tile, win: TileWindow, halo: int, bands_out, dtype) -> np.ndarray:
    try:
        result = func(_shaped(tile))
    except BaseException as exc:
        if hasattr(exc, "add_note"):
            exc.add_note(f"cloudio.map_tiles: raised by func on window {tuple(win)}")
        raise
    return _fit(result, win, halo, bands_out, dtype)


def map_tiles(src, func: Callable[[np.ndarray], np.ndarray], dst, *, tile_rows: int = 1024, tile_cols: int = 1024,
              halo: int = 0, edge: str = "replicate", bands: Union[None, int, Sequence[int]] = None,
              dtype=None, nodata: Optional[float] = None, compress: str = "deflate", options=None,
              progress: Progress = None, workers: Optional[int] = None) -> str:
    """Apply ``func`` to every tile of ``src`` and write the results as a COG at ``dst``.

    ``func`` receives each tile padded by ``halo`` cells on every side —
    ``(rows + 2*halo, cols + 2*halo)`` for one band, with a leading band axis
    for several — and returns either the core tile or the padded shape
    (cloudio crops it). Beyond the raster's edge the halo is filled as
    ``edge`` says: ``"replicate"`` (repeat the outermost cells, like numpy's
    ``mode="edge"``) or ``"nodata"`` (the source's nodata value). So a 3 x 3
    operator with ``halo=1`` gives exactly the result of applying it to the
    whole array at once with edge padding, without ever holding the whole array.

    The result keeps the source's georeferencing. ``dtype`` defaults to the
    type func returns for the first tile; ``nodata`` defaults to the source's
    when the output type is the source's. With ``workers`` > 1 (default: the
    core count) func runs in a thread pool (numpy releases the GIL) while the
    library decodes and encodes in parallel. ``progress`` is a callable
    taking the fraction done, or True for a tqdm bar (a text line without
    tqdm). If func raises, or on Ctrl-C, the workers stop, nothing is left
    at ``dst`` and the exception propagates. Returns ``dst`` as a string.

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
    if not isinstance(compress, str):
        raise ValueError(f"compress must be a string such as 'deflate', not {compress!r}")
    out_dtype = None if dtype is None else np.dtype(dtype)
    if out_dtype is not None:
        dtype_code(out_dtype, "dtype")
    name, array = _name_or_array(src)
    if array is not None:
        # Only files can be streamed: a raster that lives only in memory is
        # written to a temporary COG first.
        with tempfile.TemporaryDirectory() as tmp:
            staged = write_cog(unwrap(src), os.path.join(tmp, "src.tif"))
            return map_tiles(staged, func, dst, tile_rows=tile_rows, tile_cols=tile_cols, halo=halo, edge=edge,
                             bands=bands, dtype=dtype, nodata=nodata, compress=compress, options=options,
                             progress=progress, workers=workers)
    source = open_dataset(name)
    band_list = _band_list(bands, source.info.bands)
    report = _progress_callable(progress, f"map_tiles {os.path.basename(os.fsdecode(dst))}")
    workers = workers or os.cpu_count() or 1
    reader = TileReader(name, tile_rows, tile_cols, halo=halo, edge=edge, bands=band_list, workers=workers)
    writer = None
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=workers)
    try:
        with reader:
            tiles = iter(reader)
            first_win, first_tile = next(tiles)
            first = _apply(func, first_tile, first_win, halo, None, out_dtype)
            out_dtype = out_dtype or first.dtype
            georef = source.georef
            if nodata is not None:
                georef = georef._replace(nodata=nodata)
            elif out_dtype != source.dtype:
                georef = georef._replace(nodata=None)
            writer = _Writer(dst, source.info.rows, source.info.cols, first.shape[0], out_dtype, georef, compress,
                             options)
            writer.write(first_win, first)
            bands_out = first.shape[0]

            def run(win, tile):
                writer.write(win, _apply(func, tile, win, halo, bands_out, out_dtype))

            done, pending = 1, deque()

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
