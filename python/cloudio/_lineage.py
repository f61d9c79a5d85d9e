"""Which window of which raster a Dask array is, proved from its graph.

:func:`cloudio.dask_backend` registers the graph layer that reads a raster.
An array derived from it is written with georeferencing only when its graph
shows which cells of the raster it holds, layer by layer:

- a read layer of dask_backend: the whole raster;
- an elementwise layer (``Blockwise``: arithmetic, ufuncs, ``astype``,
  ``where``, ``map_blocks`` that keeps the chunks), whose georeferenced
  inputs enter with the output's index, shape and chunks: the same cells;
- ``rechunk``: the same cells;
- ``getitem`` (slicing): each task's slice of its input block, which must
  add up to one start and one positive step per axis: a contiguous slice
  shifts the origin, ``::k`` scales the cell size (keeping the cells'
  centres, as xarray's coordinates do); an integer or a slice on the band
  axis picks bands;
- ``map_overlap``: its trim restores the block structure of the array it
  was given (found as the nearest array behind the overlap, through the
  boundary padding, with the result's shape and chunks): the same cells.

Anything else (transposes, reductions, fancy indexing, reversed slices,
concatenation, a map_blocks that changes chunks) cannot be followed, and
:func:`trace` says which layer stopped it. Nothing here computes anything.
"""
from __future__ import annotations

import itertools
import numbers
import threading
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

from ._datasets import Georef


class Window(NamedTuple):
    """The cells of a raster an array holds: array row i is source row
    ``rows[0] + rows[1] * i`` (columns alike), and the array's bands are the
    source's ``bands`` (None when they mix bands or rasters); the source is
    ``size`` cells."""

    source: str
    georef: Georef
    rows: Tuple[int, int]
    cols: Tuple[int, int]
    bands: Optional[Tuple[int, ...]]
    size: Tuple[int, int]  # the source's (rows, cols)

    def whole(self, shape) -> bool:
        """Whether an array of this shape holds the source's every cell, in place."""
        return self.rows == (0, 1) and self.cols == (0, 1) and tuple(shape[-2:]) == self.size

    def windowed(self) -> Georef:
        """The source's georeferencing moved to this window. Cells keep their
        centres: with a step k, cell i of the array is centred where source
        cell start + k * i is, and is k source cells wide (so a strided
        array gets the coordinates xarray gives it, ``x[::k]``)."""
        gt = self.georef.geotransform
        if gt is None:
            return self.georef
        (r0, rs), (c0, cs) = self.rows, self.cols
        r, c = r0 + (1 - rs) / 2, c0 + (1 - cs) / 2  # the array's top-left corner, in source cells
        x0, a, b, y0, d, e = gt
        moved = (x0 + c * a + r * b, a * cs, b * rs, y0 + c * d + r * e, d * cs, e * rs)
        return self.georef._replace(geotransform=moved)


#: Georeferencing of the layers dask_backend made, by layer name.
_sources: Dict[str, Window] = {}
_sources_lock = threading.Lock()

Traced = Union[None, Window, str]  # no raster behind it; its window; why it cannot be told


def register(layer: str, window: Window) -> None:
    """Record the read layer of a raster (its whole window)."""
    with _sources_lock:
        _sources[layer] = window


def sources(arr) -> List[Window]:
    """The read layers of cloudio rasters in arr's graph."""
    with _sources_lock:
        return [_sources[name] for name in arr.dask.layers if name in _sources]


def trace(arr) -> Traced:
    """arr's window of a raster read by dask_backend: None when no such
    raster is behind it, else a :class:`Window`, or a sentence saying why
    the window cannot be told."""
    with _sources_lock:
        known = {name: _sources[name] for name in arr.dask.layers if name in _sources}
    if not known:
        return None
    return _Tracer(arr.dask, known).trace(arr.name)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


class _Tracer:
    def __init__(self, hlg, known: Dict[str, Window]):
        self.hlg = hlg
        self.memo: Dict[str, Traced] = dict(known)
        dependents: Dict[str, List[str]] = {}
        for name, deps in hlg.dependencies.items():
            for d in deps:
                dependents.setdefault(d, []).append(name)
        self.behind, todo = set(known), list(known)  # the layers a known raster is behind
        while todo:
            for n in dependents.get(todo.pop(), ()):
                if n not in self.behind:
                    self.behind.add(n)
                    todo.append(n)

    def has_source(self, name: str) -> bool:
        return name in self.behind

    def trace(self, name: str) -> Traced:
        if name not in self.memo:
            self.memo[name] = self._layer(name) if self.has_source(name) else None
        return self.memo[name]

    def annotated(self, name: str) -> Optional[Tuple[tuple, tuple]]:
        """A layer's (shape, chunks), as Dask annotates the layers of arrays."""
        ann = getattr(self.hlg.layers.get(name), "collection_annotations", None) or {}
        if "shape" not in ann or "chunks" not in ann:
            return None
        return tuple(ann["shape"]), tuple(tuple(c) for c in ann["chunks"])

    def _layer(self, name: str) -> Traced:
        from dask.blockwise import Blockwise
        layer = self.hlg.layers[name]
        kind = name.rsplit("-", 1)[0] if "-" in name else name
        if isinstance(layer, Blockwise) and kind in ("_trim", "trim"):
            return self._overlap(name, layer)
        if isinstance(layer, Blockwise):
            return self._blockwise(name, layer)
        deps = list(self.hlg.dependencies.get(name, ()))
        if name.startswith("rechunk-") and len(deps) == 1:
            inner, shapes = self.trace(deps[0]), (self.annotated(name), self.annotated(deps[0]))
            if isinstance(inner, Window) and (shapes[0] is None or shapes[1] is None or shapes[0][0] != shapes[1][0]):
                return "a rechunk that changes the shape"
            return inner
        if name.startswith("getitem-") and len(deps) == 1:
            return self._getitem(name, layer, deps[0])
        return f"a {kind!r} layer"

    def _agree(self, traced: List[Traced], what: str) -> Traced:
        for t in traced:
            if isinstance(t, str):
                return t
        found = [t for t in traced if isinstance(t, Window)]
        if not found:
            return None
        first = found[0]
        if all(t == first for t in found):
            return first
        places = {(t.windowed().geotransform, t.georef.crs) for t in found}
        if len(places) > 1:
            return f"{what} that combines rasters or windows with different georeferencing"
        nodata = {repr(t.georef.nodata) for t in found}
        georef = first.georef if len(nodata) == 1 else first.georef._replace(nodata=None)
        return first._replace(georef=georef, bands=None)

    def _blockwise(self, name: str, layer) -> Traced:
        shape = self.annotated(name)
        traced = []
        for arg, index in layer.indices:
            if index is None or not isinstance(arg, str) or arg not in self.hlg.layers:
                continue  # a literal argument
            t = self.trace(arg)
            if t is not None and (tuple(index) != tuple(layer.output_indices) or self.annotated(arg) != shape):
                t = f"{name.rsplit('-', 1)[0]!r}, which moves, broadcasts or reshapes cells"
            traced.append(t)
        return self._agree(traced, f"{name.rsplit('-', 1)[0]!r}")

    def _overlap(self, name: str, trim) -> Traced:
        """map_overlap: trim(func(overlap(boundary(x)))) has x's cells."""
        want = self.annotated(name)
        traced = []
        for arg, index in trim.indices:
            if index is None or not isinstance(arg, str) or self.trace(arg) is None:
                continue
            func = self.hlg.layers.get(arg)
            for inner, inner_index in getattr(func, "indices", ()):
                if inner_index is None or not isinstance(inner, str) or inner not in self.hlg.layers:
                    continue
                if not self.has_source(inner):
                    continue
                source = self._before_overlap(inner, want)
                traced.append(self.trace(source) if source else "a map_overlap that changes the chunks")
        return self._agree(traced, "map_overlap")

    def _before_overlap(self, name: str, want) -> Optional[str]:
        """The nearest array behind an overlapped one, through the overlap
        and boundary layers, with the shape and chunks ``want``."""
        frontier, seen = [name], set()
        while frontier:
            nxt = []
            for n in frontier:
                if n in seen:
                    continue
                seen.add(n)
                if self.annotated(n) == want:
                    return n
                if n == name or n.startswith(("overlap-", "concatenate-", "getitem-")):
                    nxt.extend(self.hlg.dependencies.get(n, ()))
            frontier = nxt
        return None

    def _getitem(self, name: str, layer, dep: str) -> Traced:
        inner = self.trace(dep)
        if not isinstance(inner, Window):
            return inner
        shape_in, shape_out = self.annotated(dep), self.annotated(name)
        if shape_in is None or shape_out is None:
            return "a slice of an array of unknown chunks"
        chunks_in, chunks_out = shape_in[1], shape_out[1]
        starts_in = [list(itertools.accumulate((0,) + c[:-1])) for c in chunks_in]
        starts_out = [list(itertools.accumulate((0,) + c[:-1])) for c in chunks_out]
        ndim_in = len(chunks_in)
        picks: set = set()  # picked band
        axes: Dict[int, set] = {}  # output axis -> {(input axis, step, base)}
        for key in layer:
            parsed = _getitem_task(layer[key])
            if not isinstance(key, tuple) or key[0] != name or parsed is None or parsed[0][0] != dep:
                return "an indexing cloudio cannot follow (lists, arrays or boolean masks)"
            (_, *block_in), index = parsed
            block_out = key[1:]
            if len(index) != ndim_in or len(block_out) != len(chunks_out):
                return "an indexing that adds or drops axes"
            out_axis = 0
            for axis, ix in enumerate(index):
                if _is_int(ix):
                    if ndim_in != 3 or axis != 0:
                        return "an integer index on a raster axis"
                    picks.add(starts_in[0][block_in[0]] + int(ix))
                    continue
                if not isinstance(ix, slice):
                    return "an indexing cloudio cannot follow (lists, arrays, None or boolean masks)"
                start, stop, step = ix.indices(chunks_in[axis][block_in[axis]])
                if step <= 0:
                    return "a reversed slice"
                count = len(range(start, stop, step))
                if count != chunks_out[out_axis][block_out[out_axis]]:
                    return "a slice whose blocks do not add up"
                if count:
                    base = starts_in[axis][block_in[axis]] + start - step * starts_out[out_axis][block_out[out_axis]]
                    axes.setdefault(out_axis, set()).add((axis, step, base))
                out_axis += 1
        if len(picks) > 1 or any(len(v) != 1 for v in axes.values()):
            return "a slice that is not one start and step per axis"
        maps = {out: next(iter(v)) for out, v in axes.items()}
        ndim_out = len(chunks_out)
        if ndim_out < 2 or any(a not in maps for a in range(ndim_out)):
            return "an empty slice, or one that drops a raster axis"
        (row_axis, rs, r0), (col_axis, cs, c0) = maps[ndim_out - 2], maps[ndim_out - 1]
        if (row_axis, col_axis) != (ndim_in - 2, ndim_in - 1):
            return "an indexing that moves the raster's axes"
        bands = inner.bands
        if bands is not None and ndim_in == 3:
            if picks:
                bands = (bands[picks.pop()],)
            else:
                _, bs, b0 = maps[0]
                bands = bands[b0::bs][:sum(chunks_out[0])]
        (ir0, irs), (ic0, ics) = inner.rows, inner.cols
        return inner._replace(rows=(ir0 + irs * r0, irs * rs), cols=(ic0 + ics * c0, ics * cs), bands=bands)


def _getitem_task(task) -> Optional[Tuple[tuple, tuple]]:
    """(input key, index) of a slicing task, in Dask's tuple form
    ``(getitem, key, index)`` or its Task / Alias objects (Dask >= 2024.12)."""
    if isinstance(task, tuple):
        if len(task) == 3 and _is_getitem(task[0]) and isinstance(task[1], tuple) and isinstance(task[2], tuple):
            return task[1], task[2]
        return None
    target = getattr(task, "target", None)
    if type(task).__name__ == "Alias" and target is not None:
        key = getattr(target, "key", target)
        return (key, (slice(None),) * (len(key) - 1)) if isinstance(key, tuple) else None
    if _is_getitem(getattr(task, "func", None)) and len(getattr(task, "args", ())) == 2:
        ref, index = task.args
        key = getattr(ref, "key", None)
        if isinstance(key, tuple) and isinstance(index, tuple):
            return key, index
    return None


def _is_getitem(func) -> bool:
    """operator.getitem, or dask.array.chunk's wrapper of it."""
    return getattr(func, "__name__", None) == "getitem" and \
        getattr(func, "__module__", None) in ("_operator", "operator", "dask.array.chunk")
