"""Georeferencing travels with the data through Dask and xarray, or the
call refuses: compared with GDAL's own windows (gdal.Translate -srcwin) and
with what rioxarray builds and reads."""
import os

import dask.array as da
import numpy as np
import pytest
import rioxarray
import xarray as xr
from osgeo import gdal, osr

import cloudio
from cloudio import dask_backend, to_cog, write_cog
from conftest import GT, srs_wkt

gdal.UseExceptions()


@pytest.fixture(scope="module")
def dem(tmp_path_factory):
    d = tmp_path_factory.mktemp("georef")
    data = (np.arange(900 * 700, dtype=np.float32).reshape(900, 700) % 5003) - 10
    path = write_cog(data, str(d / "dem.tif"), geotransform=GT, crs=32633, nodata=-9999, blocksize=256)
    return path, data


@pytest.fixture(scope="module")
def dem3(tmp_path_factory):
    d = tmp_path_factory.mktemp("georef3")
    data = (np.arange(3 * 300 * 200).reshape(3, 300, 200) % 30011).astype(np.int16)
    return write_cog(data, str(d / "dem3.tif"), geotransform=GT, crs=32633, nodata=-1), data


def facts(path):
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    srs = osr.SpatialReference(wkt=ds.GetProjection()) if ds.GetProjection() else None
    return ds.GetGeoTransform(can_return_null=True), srs, band.GetNoDataValue(), ds.ReadAsArray()


def same_crs(srs, epsg=32633):
    want = osr.SpatialReference()
    want.ImportFromEPSG(epsg)
    return srs is not None and srs.IsSame(want)


def centred(gt, rows, cols):
    """Cell-centre coordinates (y, x) of a geotransform."""
    return gt[3] + gt[5] * (np.arange(rows) + 0.5), gt[0] + gt[1] * (np.arange(cols) + 0.5)


@pytest.mark.parametrize("rows,cols", [(slice(100, 600), slice(200, 700)), (slice(0, 1), slice(5, 6)),
                                       (slice(333, None), slice(None, 17))], ids=["window", "one-cell", "edges"])
def test_to_cog_of_a_contiguous_slice_is_gdals_window(dem, tmp_path, rows, cols):
    path, data = dem
    sliced = dask_backend(path, 256, 256)[rows, cols]
    out = to_cog(sliced, str(tmp_path / "w.tif"))
    r0, r1, _ = rows.indices(900)
    c0, c1, _ = cols.indices(700)
    ref = gdal.Translate(str(tmp_path / "ref.tif"), path, srcWin=[c0, r0, c1 - c0, r1 - r0])
    gt, srs, nodata, values = facts(out)
    assert gt == pytest.approx(ref.GetGeoTransform(), abs=1e-9) and same_crs(srs) and nodata == -9999
    np.testing.assert_array_equal(values, ref.ReadAsArray())
    ref = None


@pytest.mark.parametrize("pick", [lambda a: a[::2, ::3], lambda a: a[101:800:4, 7::2], lambda a: a[10:500][::2, 5:]],
                         ids=["steps", "start-and-step", "slice-of-slice"])
def test_to_cog_of_a_strided_slice_scales_the_cells_and_keeps_their_centres(dem, tmp_path, pick):
    path, data = dem
    gt, srs, _, values = facts(to_cog(pick(dask_backend(path, 256, 256)), str(tmp_path / "s.tif")))
    np.testing.assert_array_equal(values, pick(data))
    assert same_crs(srs)
    # every cell is centred where its source cell is
    rows = pick(np.repeat(np.arange(900)[:, None], 700, axis=1))[:, 0]
    cols = pick(np.repeat(np.arange(700)[None, :], 900, axis=0))[0]
    y_src, x_src = centred(GT, 900, 700)
    y, x = centred(gt, *values.shape)
    np.testing.assert_allclose(y, y_src[rows])
    np.testing.assert_allclose(x, x_src[cols])
    # the same slice of the xarray array gives the same file
    gt_x, _, _, values_x = facts(to_cog(pick(dask_backend(path, 256, 256, xarray=True)), str(tmp_path / "x.tif")))
    assert gt_x == pytest.approx(gt, abs=1e-6)
    np.testing.assert_array_equal(values_x, values)


def test_georeferencing_survives_elementwise_work_rechunking_and_map_overlap(dem, dem3, tmp_path):
    path, data = dem
    d = dask_backend(path, 256, 256)
    for name, arr, want in [
        ("elementwise", da.where(d > 5, d * 2 + 1, -9999).astype(np.float64), np.where(data > 5, data * 2 + 1, -9999)),
        ("rechunk", d.rechunk(300), data),
        ("map_overlap", d.map_overlap(lambda b: b + 0, depth=1, boundary="nearest"), data),
        ("sliced map_overlap", d[10:500, 3:].map_overlap(lambda b: b * 1, depth=2, boundary="reflect"), data[10:500, 3:]),
    ]:
        gt, srs, nodata, values = facts(to_cog(arr, str(tmp_path / f"{name}.tif")))
        np.testing.assert_array_equal(values, want, err_msg=name)
        offset = (3 * GT[1], -10 * GT[5]) if name.startswith("sliced") else (0, 0)
        assert gt == pytest.approx((GT[0] + offset[0], GT[1], 0, GT[3] - offset[1], 0, GT[5])), name
        assert same_crs(srs) and nodata == -9999, name
    path3, data3 = dem3
    d3 = dask_backend(path3, 128, 128)
    gt, _, nodata, values = facts(to_cog(d3[1, 10:50], str(tmp_path / "band.tif")))
    np.testing.assert_array_equal(values, data3[1, 10:50])
    assert gt == pytest.approx((GT[0], GT[1], 0, GT[3] + 10 * GT[5], 0, GT[5])) and nodata == -1
    _, _, _, values = facts(to_cog(d3[::2, :, 100:], str(tmp_path / "bands.tif")))
    np.testing.assert_array_equal(values, data3[::2, :, 100:])


@pytest.mark.parametrize("derive", [
    lambda d: d.T, lambda d: d[::-1], lambda d: d[:, ::-2], lambda d: d[[1, 5, 9]], lambda d: da.concatenate([d, d]),
    lambda d: d + d[::-1], lambda d: d.map_blocks(lambda b: b[::2], chunks=(tuple(c // 2 for c in d.chunks[0]),
                                                                            d.chunks[1])),
    lambda d: da.flipud(d),
], ids=["transpose", "flip", "reversed-step", "fancy", "concatenate", "mixed-windows", "map_blocks-shrinks", "flipud"])
def test_an_unprovable_window_raises_and_says_what_to_pass(dem, tmp_path, derive):
    path, _ = dem
    arr = derive(dask_backend(path, 256, 256))
    with pytest.raises(ValueError, match=r"cannot tell which window of .*dem\.tif.*geotransform=.*xarray=True"):
        to_cog(arr, str(tmp_path / "a.tif"))
    assert os.listdir(tmp_path) == []
    # explicit arguments always win
    gt = (1.0, 2.0, 0.0, 3.0, 0.0, -2.0)
    got, srs, _, values = facts(to_cog(arr, str(tmp_path / "b.tif"), geotransform=gt))
    assert got == gt and same_crs(srs)  # the CRS of the raster holds for any of its cells
    np.testing.assert_array_equal(values, arr.compute())


def test_explicit_arguments_win_and_plain_arrays_stay_plain(dem, tmp_path):
    path, data = dem
    gt = (10.0, 1.0, 0.0, 20.0, 0.0, -1.0)
    got, srs, nodata, _ = facts(to_cog(dask_backend(path, 256, 256)[5:], str(tmp_path / "e.tif"), geotransform=gt,
                                       crs=4326, nodata=7))
    assert got == gt and same_crs(srs, 4326) and nodata == 7
    got, srs, nodata, values = facts(to_cog(da.from_array(data, chunks=300) * 2, str(tmp_path / "p.tif")))
    assert got is None and srs is None and nodata is None  # it never had georeferencing
    np.testing.assert_array_equal(values, data * 2)


def test_xarray_dataarray_is_what_rioxarray_builds(dem, dem3, tmp_path):
    for path, _ in (dem, dem3):
        ours = dask_backend(path, 256, 256, xarray=True)
        theirs = rioxarray.open_rasterio(path)
        if ours.ndim == 2:
            theirs = theirs.squeeze("band")
        assert ours.dims == theirs.dims
        for coord in ("x", "y", "band"):
            np.testing.assert_array_equal(ours[coord].values, theirs[coord].values)
        assert ours.rio.crs == theirs.rio.crs and ours.rio.transform() == theirs.rio.transform()
        assert ours.rio.bounds() == theirs.rio.bounds() and ours.rio.nodata == theirs.rio.nodata
        assert ours.spatial_ref.attrs["GeoTransform"].split() == theirs.spatial_ref.attrs["GeoTransform"].split()
        assert not {"transform", "crs", "nodata"} & set(ours.attrs)  # nothing rioxarray would misread
        np.testing.assert_array_equal(ours.values, theirs.values)


def test_rio_accessor_answers_on_our_arrays(dem, tmp_path):
    path, data = dem
    xda = dask_backend(path, 256, 256, xarray=True)
    assert xda.rio.crs.to_epsg() == 32633
    assert xda.rio.transform().to_gdal() == GT
    assert xda.rio.bounds() == (GT[0], GT[3] + 900 * GT[5], GT[0] + 700 * GT[1], GT[3])
    clipped = xda.rio.clip_box(GT[0] + 200 * 30, GT[3] - 400 * 30, GT[0] + 260 * 30, GT[3] - 300 * 30)
    np.testing.assert_array_equal(clipped.values, data[300:400, 200:260])
    assert clipped.rio.transform().to_gdal() == pytest.approx((GT[0] + 6000, 30, 0, GT[3] - 9000, 0, -30))
    # rioxarray writes our array and reads back what it wrote
    xda.rio.to_raster(str(tmp_path / "rio.tif"))
    gt, srs, nodata, values = facts(tmp_path / "rio.tif")
    assert gt == GT and same_crs(srs) and nodata == -9999
    np.testing.assert_array_equal(values, data)
    # our COG of a clip is what rioxarray reads as the same clip
    out = to_cog(clipped, str(tmp_path / "clip.tif"))
    back = rioxarray.open_rasterio(out).squeeze("band")
    np.testing.assert_array_equal(back.x.values, clipped.x.values)
    np.testing.assert_array_equal(back.y.values, clipped.y.values)
    assert back.rio.transform() == clipped.rio.transform() and back.rio.crs == clipped.rio.crs


def test_round_trip_open_rasterio_of_our_output_equals_our_array(dem, tmp_path):
    path, _ = dem
    xda = dask_backend(path, 256, 256, xarray=True).sel(x=slice(GT[0] + 1000, GT[0] + 9000),
                                                        y=slice(GT[3] - 2000, GT[3] - 15000))
    out = to_cog(xda, str(tmp_path / "sel.tif"))
    back = dask_backend(out, xarray=True)
    theirs = rioxarray.open_rasterio(out).squeeze("band")
    for coord in ("x", "y"):
        np.testing.assert_allclose(back[coord].values, xda[coord].values)
        np.testing.assert_allclose(theirs[coord].values, xda[coord].values)
    assert theirs.rio.crs == xda.rio.crs and theirs.rio.transform() == xda.rio.transform(recalc=True)
    np.testing.assert_array_equal(theirs.values, xda.values)


@pytest.mark.parametrize("squeeze", [False, True], ids=["band-dim", "squeezed"])
@pytest.mark.parametrize("chunks", [None, 256], ids=["in-memory", "dask"])
def test_to_cog_and_write_cog_take_rioxarray_arrays(dem, dem3, tmp_path, squeeze, chunks):
    path, data = dem
    rio = rioxarray.open_rasterio(path, chunks=chunks)
    if squeeze:
        rio = rio.squeeze("band")
    window = rio.isel(x=slice(50, 250), y=slice(10, 400, 3))
    expected = data[10:400:3, 50:250]
    for writer in (to_cog, write_cog):
        out = writer(window, str(tmp_path / f"{writer.__name__}.tif"))
        gt, srs, nodata, values = facts(out)
        assert gt == pytest.approx(window.rio.transform(recalc=True).to_gdal()) and same_crs(srs)
        assert nodata == -9999
        np.testing.assert_array_equal(values, expected)
    path3, data3 = dem3
    out = to_cog(rioxarray.open_rasterio(path3, chunks=chunks), str(tmp_path / "three.tif"))
    gt, srs, nodata, values = facts(out)
    assert gt == GT and same_crs(srs) and nodata == -1
    np.testing.assert_array_equal(values, data3)


def test_masked_rioxarray_arrays_get_their_nodata_back(dem3, tmp_path):
    path3, data3 = dem3
    masked = rioxarray.open_rasterio(path3, masked=True, chunks=128)
    assert masked.dtype.kind == "f"
    _, _, nodata, values = facts(to_cog(masked, str(tmp_path / "m.tif")))
    assert nodata == -1 and values.dtype == np.int16
    np.testing.assert_array_equal(values, data3)


def test_write_cog_takes_an_in_memory_dataarray(tmp_path):
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    xda = xr.DataArray(values, dims=("y", "x"), coords={"y": [35.5, 34.5, 33.5], "x": [10.25, 10.75, 11.25, 11.75]})
    xda = xda.assign_coords(spatial_ref=xr.Variable((), 0, attrs={"crs_wkt": srs_wkt(4326)}))
    xda.attrs["_FillValue"] = -1.0
    gt, srs, nodata, back = facts(write_cog(xda, str(tmp_path / "mem.tif")))
    assert gt == (10.0, 0.5, 0.0, 36.0, 0.0, -1.0) and same_crs(srs, 4326) and nodata == -1
    np.testing.assert_array_equal(back, values)
    with pytest.raises(ValueError, match="evenly spaced"):
        write_cog(xda.assign_coords(x=[0.0, 1.0, 3.0, 4.0]), str(tmp_path / "uneven.tif"))
    with pytest.raises(ValueError, match="spatial dimensions"):
        write_cog(xr.DataArray(values, dims=("a", "b")), str(tmp_path / "nodims.tif"))
    assert sorted(os.listdir(tmp_path)) == ["mem.tif"]
