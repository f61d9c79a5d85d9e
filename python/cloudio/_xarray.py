"""xarray DataArrays as rioxarray builds and reads them (CF conventions).

A DataArray of a raster has ``y`` / ``x`` cell-centre coordinates and a
``spatial_ref`` coordinate (the CF grid mapping) whose attributes carry the
CRS as ``crs_wkt`` (and ``spatial_ref``) and GDAL's geotransform as
``GeoTransform``; the nodata value is the ``_FillValue`` attribute. That is
what ``rioxarray.open_rasterio`` returns and what ``.rio`` reads, so
``.rio.crs``, ``.rio.transform()`` and ``.rio.bounds()`` work on cloudio's
arrays, and cloudio reads rioxarray's. Neither rioxarray nor pyproj is
needed: xarray is imported only when a DataArray is built.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from ._datasets import Georef

#: (y, x) dimension names, as rioxarray recognises them.
SPATIAL_DIMS = (("y", "x"), ("lat", "lon"), ("latitude", "longitude"))


def is_dataarray(obj: Any) -> bool:
    """An xarray DataArray (recognised by what it has, without importing xarray)."""
    return all(hasattr(obj, a) for a in ("dims", "coords", "attrs", "data", "transpose"))


def build(data, georef: Georef, bands: Sequence[int]):
    """The DataArray rioxarray would build for data (rows x cols, or
    bands x rows x cols) with this georeferencing and these band numbers."""
    try:
        import xarray as xr
    except ImportError:
        raise ImportError("dask_backend(..., xarray=True) needs xarray: `pip install xarray`") from None
    gt = georef.geotransform or (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)  # rioxarray's coordinates of a raster without one
    rows, cols = data.shape[-2:]
    coords: Dict[str, Any] = {"y": gt[3] + gt[5] * (np.arange(rows) + 0.5),
                              "x": gt[0] + gt[1] * (np.arange(cols) + 0.5)}
    dims: Tuple[str, ...] = ("y", "x")
    if data.ndim == 3:
        coords["band"], dims = np.asarray(bands, np.int64), ("band", "y", "x")
    else:
        coords["band"] = np.int64(bands[0])  # as rioxarray's after .squeeze("band")
    grid_mapping: Dict[str, str] = {}
    if georef.crs:
        grid_mapping.update(crs_wkt=georef.crs, spatial_ref=georef.crs)
    if georef.geotransform is not None:
        grid_mapping["GeoTransform"] = " ".join(repr(float(v)) for v in georef.geotransform)
    coords["spatial_ref"] = xr.Variable((), np.int64(0), attrs=grid_mapping)
    attrs = {} if georef.nodata is None else {"_FillValue": georef.nodata}
    return xr.DataArray(data, coords=coords, dims=dims, attrs=attrs)


def spatial_dims(xda) -> Tuple[str, str]:
    for y, x in SPATIAL_DIMS:
        if y in xda.dims and x in xda.dims:
            return y, x
    raise ValueError(f"the DataArray has no spatial dimensions: dims {tuple(xda.dims)} name none of "
                     + ", ".join(f"({y}, {x})" for y, x in SPATIAL_DIMS))


def read(xda) -> Tuple[Any, Georef]:
    """A DataArray's data (rows x cols, or bands x rows x cols; still lazy
    when it is a Dask array) and georeferencing: the origin and cell size
    from the x / y coordinates (so they are right after ``isel`` / ``sel``),
    the CRS from the grid mapping, nodata from ``_FillValue``. An array
    opened masked (rioxarray's ``masked=True``: NaN cells, nodata kept in
    ``encoding``) gets its nodata back in those cells, in its encoded type."""
    y, x = spatial_dims(xda)
    others = [d for d in xda.dims if d not in (y, x)]
    if len(others) > 1:
        raise ValueError(f"a raster DataArray has (band,) y, x dimensions, not {tuple(xda.dims)}")
    xda = xda.transpose(*others, y, x)
    name = xda.encoding.get("grid_mapping", xda.attrs.get("grid_mapping", "spatial_ref"))
    mapping = xda.coords[name].attrs if name in xda.coords else {}
    crs = mapping.get("crs_wkt") or mapping.get("spatial_ref") or None
    stored = _geotransform(mapping.get("GeoTransform"))
    nodata = xda.attrs.get("_FillValue")
    if nodata is None and xda.encoding.get("_FillValue") is not None:
        nodata = xda.encoding["_FillValue"]
        encoded = xda.encoding.get("dtype")
        xda = xda.fillna(nodata)
        if encoded is not None:
            xda = xda.astype(encoded)
    geotransform = stored
    if x in xda.coords and y in xda.coords:
        geotransform = _from_coords(np.asarray(xda[x].values, np.float64), np.asarray(xda[y].values, np.float64),
                                    stored)
    return xda.data, Georef(geotransform, crs, None if nodata is None else float(nodata))


def _geotransform(value) -> Optional[Tuple[float, ...]]:
    if value is None:
        return None
    parts = value.split() if isinstance(value, str) else list(value)
    try:
        gt = tuple(float(v) for v in parts)
    except (TypeError, ValueError):
        raise ValueError(f"the grid mapping's GeoTransform {value!r} is not GDAL's 6 numbers") from None
    if len(gt) != 6:
        raise ValueError(f"the grid mapping's GeoTransform {value!r} is not GDAL's 6 numbers")
    return gt


def _from_coords(xs: np.ndarray, ys: np.ndarray, stored) -> Tuple[float, ...]:
    """The geotransform of cell-centre coordinates; the cell size of an axis
    with one cell comes from the stored GeoTransform."""
    if stored is not None and (stored[2] or stored[4]):
        raise ValueError("the DataArray's GeoTransform is rotated, which 1-D x / y coordinates cannot describe: "
                         "pass geotransform=")

    def step(values: np.ndarray, axis: str, fallback: Optional[float]) -> float:
        if len(values) >= 2:
            steps = np.diff(values)
            if not np.allclose(steps, steps[0], rtol=1e-9, atol=0):
                raise ValueError(f"the {axis} coordinates are not evenly spaced, so no geotransform describes them")
            return float((values[-1] - values[0]) / (len(values) - 1))
        if fallback is None:
            raise ValueError(f"one {axis} coordinate does not tell the cell size: give the DataArray a spatial_ref "
                             "coordinate with a GeoTransform, or pass geotransform=")
        return float(fallback)

    a = step(xs, "x", stored[1] if stored else None)
    e = step(ys, "y", stored[5] if stored else None)
    return (float(xs[0]) - a / 2, a, 0.0, float(ys[0]) - e / 2, 0.0, e)
