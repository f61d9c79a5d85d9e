"""Tile windows: which rectangles of a raster to read, in which order."""
from __future__ import annotations

import ctypes
import operator
from typing import Iterator, NamedTuple, Tuple

from . import _lib
from ._datasets import raster_shape

_PAGE = 4096


class TileWindow(NamedTuple):
    """A window of a raster, row-first: ``(row_off, col_off, n_rows, n_cols)``.

    It equals the plain row-first tuple the original ``tile_windows``
    yielded. Use ``.gdal`` for GDAL's x-first calls and ``.slices`` for numpy.

    >>> w = TileWindow(0, 3, 3, 2)
    >>> w.gdal
    (3, 0, 2, 3)
    >>> w.slices
    (slice(0, 3, None), slice(3, 5, None))
    >>> w == (0, 3, 3, 2)
    True
    """

    row_off: int
    col_off: int
    n_rows: int
    n_cols: int

    @property
    def gdal(self) -> Tuple[int, int, int, int]:
        """``(xoff, yoff, xsize, ysize)`` for GDAL's ``ReadAsArray`` / ``ReadRaster``."""
        return (self.col_off, self.row_off, self.n_cols, self.n_rows)

    @property
    def slices(self) -> Tuple[slice, slice]:
        """``(row_slice, col_slice)`` for numpy indexing: ``array[win.slices]``."""
        return (slice(self.row_off, self.row_off + self.n_rows), slice(self.col_off, self.col_off + self.n_cols))


def _size(name: str, value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not a bool")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None


def tile_windows(dataset, tile_rows: int = 1024, tile_cols: int = 1024, overlap: int = 0) -> Iterator[TileWindow]:
    """Yield the tile windows of ``dataset`` in row-major order.

    Windows start every ``max(1, tile_rows - overlap)`` rows and
    ``max(1, tile_cols - overlap)`` columns; edge tiles are clipped to the
    dataset bounds. ``dataset`` is a path or URL, a GDAL dataset, a
    pyramids-style object (its size is read from ``.rows`` / ``.columns``),
    a numpy array, or a ``(rows, cols)`` shape. The iterator is lazy: a
    raster with 10^11 windows starts at once. Invalid sizes raise
    ``ValueError`` when called, not when iterated.

    Examples:
        - Iterate a 5x5 dataset in 3x3 tiles with no overlap:

            >>> import numpy as np
            >>> from cloudio import tile_windows
            >>> windows = list(tile_windows(np.zeros((5, 5), dtype=np.float32), tile_rows=3, tile_cols=3))
            >>> windows
            [TileWindow(row_off=0, col_off=0, n_rows=3, n_cols=3), TileWindow(row_off=0, col_off=3, n_rows=3, n_cols=2), TileWindow(row_off=3, col_off=0, n_rows=2, n_cols=3), TileWindow(row_off=3, col_off=3, n_rows=2, n_cols=2)]
            >>> windows == [(0, 0, 3, 3), (0, 3, 3, 2), (3, 0, 2, 3), (3, 3, 2, 2)]
            True

        - Overlapping tiles for neighbourhood operators (here 1 cell):

            >>> [tuple(w) for w in tile_windows(np.zeros((4, 4)), tile_rows=3, tile_cols=4, overlap=1)]
            [(0, 0, 3, 4), (0, 3, 3, 1), (2, 0, 2, 4), (2, 3, 2, 1)]

        - Non-positive tile sizes raise ``ValueError``:

            >>> tile_windows(np.zeros((5, 5)), tile_rows=0)
            Traceback (most recent call last):
                ...
            cloudio.errors.InvalidArgumentError: tile_rows and tile_cols must be positive
    """
    rows, cols = raster_shape(dataset)
    args = (rows, cols, _size("tile_rows", tile_rows), _size("tile_cols", tile_cols), _size("overlap", overlap))
    written, total = ctypes.c_uint64(), ctypes.c_uint64()
    _lib.call("cloudio_tile_windows", *args, 0, None, 0, ctypes.byref(written), ctypes.byref(total))
    return _pages(args, total.value)


def _pages(args, total: int) -> Iterator[TileWindow]:
    page = (ctypes.c_int64 * (4 * _PAGE))()
    written, count = ctypes.c_uint64(), ctypes.c_uint64()
    first = 0
    while first < total:
        _lib.call("cloudio_tile_windows", *args, first, page, _PAGE, ctypes.byref(written), ctypes.byref(count))
        values = page[: 4 * written.value]
        for i in range(0, len(values), 4):
            yield TileWindow(*values[i:i + 4])
        first += written.value
