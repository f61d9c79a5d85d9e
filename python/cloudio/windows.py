"""Tile windows: which rectangles of a raster to read, in which order."""
from __future__ import annotations

import ctypes
import operator
from typing import Any, Iterator, NamedTuple, Tuple

from . import _lib
from ._datasets import raster_shape

#: The tile size every tiling call defaults to: the library's own default
#: (cloudio_reader_options_init), which the tests check it equals. Python
#: needs it without loading the library, as the default of its signatures.
DEFAULT_TILE = 1024

#: Windows fetched from the library per call while iterating.
PAGE = 4096
_INT64_MAX = 2**63 - 1


class TileWindow(NamedTuple):
    """A window of a raster, row-first: ``(row_off, col_off, n_rows, n_cols)``.

    It equals the plain row-first tuple the original ``tile_windows``
    yielded. The original documented that tuple as GDAL's x-first
    ``(xoff, yoff, xsize, ysize)``, which silently transposes reads of
    off-diagonal tiles; use ``.gdal`` for GDAL's x-first calls and
    ``.slices`` for numpy indexing instead.

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

    def padded(self, halo: int) -> TileWindow:
        """This window grown by ``halo`` cells on every side (its offsets may
        become negative), as map_tiles hands tiles to ``func``.

        >>> TileWindow(0, 3, 3, 2).padded(1)
        TileWindow(row_off=-1, col_off=2, n_rows=5, n_cols=4)
        """
        return TileWindow(self.row_off - halo, self.col_off - halo, self.n_rows + 2 * halo, self.n_cols + 2 * halo)

    def clipped(self, rows: int, cols: int) -> TileWindow:
        """The part of this window inside a ``rows x cols`` raster (empty,
        with no rows or no columns, when they do not meet).

        >>> TileWindow(-1, 2, 5, 4).clipped(4, 5)
        TileWindow(row_off=0, col_off=2, n_rows=4, n_cols=3)
        """
        r0, c0 = max(self.row_off, 0), max(self.col_off, 0)
        r1, c1 = min(self.row_off + self.n_rows, rows), min(self.col_off + self.n_cols, cols)
        return TileWindow(r0, c0, max(r1 - r0, 0), max(c1 - c0, 0))

    def within(self, rows: int, cols: int) -> bool:
        """Whether this window holds cells and all of them lie inside a
        ``rows x cols`` raster.

        >>> TileWindow(0, 3, 3, 2).within(3, 5), TileWindow(0, 3, 3, 3).within(3, 5)
        (True, False)
        """
        return self.n_rows > 0 and self.n_cols > 0 and self.clipped(rows, cols) == self

    @property
    def gdal(self) -> Tuple[int, int, int, int]:
        """``(xoff, yoff, xsize, ysize)`` for GDAL: ``band.ReadAsArray(*win.gdal)``."""
        return (self.col_off, self.row_off, self.n_cols, self.n_rows)

    @property
    def slices(self) -> Tuple[slice, slice]:
        """``(row_slice, col_slice)`` for numpy: ``array[win.slices]``."""
        return (slice(self.row_off, self.row_off + self.n_rows), slice(self.col_off, self.col_off + self.n_cols))


def _size(name: str, value: Any) -> int:
    """An integer argument; its range is the library's to check."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not a bool ({value!r})")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    if not -_INT64_MAX - 1 <= number <= _INT64_MAX:
        raise ValueError(f"{name} must fit in 64 bits, got {number}")
    return number


def tile_windows(dataset: Any, tile_rows: int = DEFAULT_TILE, tile_cols: int = DEFAULT_TILE,
                 overlap: int = 0) -> Iterator[TileWindow]:
    """Iterate ``(row_off, col_off, n_rows, n_cols)`` tile windows over a Dataset.

    Yields one window per tile so callers can stream a continental DEM
    through any per-tile algorithm without ever materialising the full
    raster in memory. Each window is a :class:`TileWindow`: it equals the
    row-first tuple, ``win.gdal`` is GDAL's x-first
    ``(xoff, yoff, xsize, ysize)`` and ``win.slices`` indexes a numpy array.

    Windows start every ``max(1, tile_rows - overlap)`` rows and
    ``max(1, tile_cols - overlap)`` columns, in row-major order; edge tiles
    are clipped to the dataset bounds and an empty raster yields nothing.
    The iterator is lazy (windows are computed by libcloudio a page at a
    time), so a raster with 10^11 windows starts at once. Invalid sizes raise
    ``ValueError`` when ``tile_windows`` is called, not when it is iterated.

    Args:
        dataset: a pyramids ``Dataset`` or any object with ``.rows`` and
            ``.columns`` (used whenever present), a GDAL dataset, a numpy
            array (its last two axes are rows x cols), a path or URL (its
            size is read by the library: no ``osgeo`` needed), or a
            ``(rows, cols)`` tuple.
        tile_rows: Tile height in cells. Defaults to 1024.
        tile_cols: Tile width in cells. Defaults to 1024.
        overlap: Cells of overlap between adjacent tiles, for algorithms
            that need neighbour context (slopes, flow direction, dilations).
            Default 0.

    Returns:
        An iterator of :class:`TileWindow`.

    Raises:
        ValueError: "tile_rows and tile_cols must be positive",
            "overlap must be >= 0", or an argument that is not an integer.
        FileNotFoundError: a path that does not exist.
        TypeError: a dataset of a kind it does not know.

    Examples:
        - Iterate a 5x5 dataset in 3x3 tiles with no overlap:

            >>> import numpy as np
            >>> from pyramids.dataset import Dataset
            >>> from cloudio import tile_windows
            >>> ds = Dataset.create_from_array(
            ...     np.zeros((5, 5), dtype=np.float32),
            ...     top_left_corner=(0, 0), cell_size=1.0, epsg=4326,
            ... )
            >>> windows = list(tile_windows(ds, tile_rows=3, tile_cols=3))
            >>> [(w[0], w[1], w[2], w[3]) for w in windows]
            [(0, 0, 3, 3), (0, 3, 3, 2), (3, 0, 2, 3), (3, 3, 2, 2)]

        - The same from a numpy array; each window names its fields:

            >>> windows = list(tile_windows(np.zeros((5, 5)), tile_rows=3, tile_cols=3))
            >>> windows[1]
            TileWindow(row_off=0, col_off=3, n_rows=3, n_cols=2)
            >>> windows == [(0, 0, 3, 3), (0, 3, 3, 2), (3, 0, 2, 3), (3, 3, 2, 2)]
            True

        - Overlapping tiles for neighbourhood operators (here 1 cell):

            >>> [tuple(w) for w in tile_windows(np.zeros((4, 4)), tile_rows=3, tile_cols=4, overlap=1)]
            [(0, 0, 3, 4), (0, 3, 3, 1), (2, 0, 2, 4), (2, 3, 2, 1)]

        - Non-positive tile sizes raise ``ValueError`` at once:

            >>> tile_windows(np.zeros((5, 5)), tile_rows=0)
            Traceback (most recent call last):
                ...
            cloudio.errors.InvalidArgumentError: tile_rows and tile_cols must be positive
    """
    rows, cols = raster_shape(dataset)
    args = (rows, cols, _size("tile_rows", tile_rows), _size("tile_cols", tile_cols), _size("overlap", overlap))
    written, total = ctypes.c_uint64(), ctypes.c_uint64()
    _lib.call("cloudio_tile_windows", *args, 0, None, 0, ctypes.byref(written), ctypes.byref(total))  # validates
    return _pages(args, total.value)


def _pages(args: Tuple[int, ...], total: int) -> Iterator[TileWindow]:
    page = (ctypes.c_int64 * (4 * PAGE))()
    written, count = ctypes.c_uint64(), ctypes.c_uint64()
    first = 0
    while first < total:
        _lib.call("cloudio_tile_windows", *args, first, page, PAGE, ctypes.byref(written), ctypes.byref(count))
        if written.value == 0:  # cannot happen for first < total; never loop forever
            return
        values = page[: 4 * written.value]
        for i in range(0, len(values), 4):
            yield TileWindow(values[i], values[i + 1], values[i + 2], values[i + 3])
        first += written.value
