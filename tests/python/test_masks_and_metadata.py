"""Masks, band roles and metadata survive every writer, read back through
GDAL and rasterio and compared with GDAL's own COG of the same source; the
data written is the data meant; no writer replaces its source."""
import os

import numpy as np
import pytest
import rasterio
from osgeo import gdal

import cloudio
from cloudio import dask_backend, map_tiles, to_cog, write_cog, write_zarr
from conftest import GT, srs_wkt

gdal.UseExceptions()


def gdal_source(path, data, interps=None, nodata=None, mask=None, describe=False, palette=False):
    """data (bands x rows x cols) as a tiled GeoTIFF made by GDAL itself from
    an in-memory raster: band roles (Undefined by default), nodata, an
    internal per-dataset mask (True = valid), descriptions, units,
    scale/offset, metadata and a colour table."""
    bands, rows, cols = data.shape
    mem = gdal.GetDriverByName("MEM").Create("", cols, rows, bands, gdal.GDT_Byte if data.dtype == np.uint8 else
                                             gdal.GDT_Int16 if data.dtype == np.int16 else gdal.GDT_Float32)
    mem.SetGeoTransform(GT)
    mem.SetProjection(srs_wkt())
    for i in range(bands):
        band = mem.GetRasterBand(i + 1)
        band.WriteArray(data[i])
        band.SetColorInterpretation(interps[i] if interps else gdal.GCI_Undefined)
        if nodata is not None:
            band.SetNoDataValue(nodata)
        if describe:
            band.SetDescription(f"band {i + 1}")
            band.SetUnitType("metre")
            band.SetScale(0.25)
            band.SetOffset(-3)
            band.SetMetadata({"SENSOR": f"S{i + 1}", "STATISTICS_MEAN": "12"})
        if palette:
            table = gdal.ColorTable()
            for k in range(4):
                table.SetColorEntry(k, (60 * k, 255 - 60 * k, 30, 255))
            band.SetColorTable(table)
    if describe:
        mem.SetMetadata({"TITLE": "flow directions", "AUTHOR": "cloudio tests", "STATISTICS_MINIMUM": "0"})
    gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", "YES")
    try:
        if mask is not None:
            mem.CreateMaskBand(gdal.GMF_PER_DATASET)
            mem.GetRasterBand(1).GetMaskBand().WriteArray(mask.astype(np.uint8) * 255)
        gdal.Translate(str(path), mem, format="GTiff", creationOptions=["TILED=YES"])
    finally:
        gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", None)
    return str(path)


def roles(path):
    ds = gdal.Open(str(path))
    return ([gdal.GetColorInterpretationName(ds.GetRasterBand(i + 1).GetColorInterpretation())
             for i in range(ds.RasterCount)], [ds.GetRasterBand(i + 1).GetMaskFlags() for i in range(ds.RasterCount)])


def gdal_cog(src, tmp_path):
    """GDAL's own COG of src, the reference for what survives a copy."""
    out = str(tmp_path / "gdal-cog.tif")
    gdal.Translate(out, src, format="COG")
    return out


def writers(src, tmp_path, **kwargs):
    """The identity written by map_tiles and to_cog (and write_cog)."""
    return {"map_tiles": map_tiles(src, lambda t: t, str(tmp_path / "m.tif"), tile_rows=256, tile_cols=192, **kwargs),
            "to_cog": to_cog(dask_backend(src, 256, 256), str(tmp_path / "d.tif"), **kwargs)}


@pytest.fixture
def undefined4(tmp_path):
    data = np.random.default_rng(3).integers(0, 256, (4, 500, 420)).astype(np.uint8)
    data[3, :40, :40] = 0  # an alpha band would make these transparent
    return gdal_source(tmp_path / "u4.tif", data), data


def test_four_undefined_byte_bands_stay_undefined_and_nothing_turns_transparent(undefined4, tmp_path):
    src, data = undefined4
    want = roles(gdal_cog(src, tmp_path))
    assert want == (["Undefined"] * 4, [1] * 4)
    for name, out in dict(writers(src, tmp_path), write_cog=write_cog(src, str(tmp_path / "w.tif"))).items():
        assert roles(out) == want, name
        with rasterio.open(out) as r:
            assert [ci.name for ci in r.colorinterp] == ["undefined"] * 4, name
            assert r.dataset_mask().all(), name  # no cell transparent
            np.testing.assert_array_equal(r.read(), data)


def test_rgba_stays_rgba(tmp_path):
    data = np.random.default_rng(4).integers(0, 256, (4, 300, 260)).astype(np.uint8)
    src = gdal_source(tmp_path / "rgba.tif", data, interps=[gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand,
                                                             gdal.GCI_AlphaBand])
    want = roles(gdal_cog(src, tmp_path))
    for name, out in writers(src, tmp_path).items():
        assert roles(out) == want, name
        with rasterio.open(out) as r, rasterio.open(src) as s:
            np.testing.assert_array_equal(r.dataset_mask(), s.dataset_mask(), err_msg=name)


def test_an_internal_mask_travels_and_masked_cells_stay_masked(tmp_path):
    data = np.random.default_rng(5).integers(0, 3000, (2, 600, 500)).astype(np.int16)
    valid = np.ones((600, 500), bool)
    valid[100:180, 50:400] = False
    valid[::17, ::13] = False
    src = gdal_source(tmp_path / "masked.tif", data, mask=valid)
    outs = dict(writers(src, tmp_path), write_cog=write_cog(src, str(tmp_path / "w.tif")))
    for name, out in outs.items():
        ds = gdal.Open(out)
        assert ds.GetRasterBand(1).GetMaskFlags() == gdal.GMF_PER_DATASET, name
        np.testing.assert_array_equal(ds.GetRasterBand(1).GetMaskBand().ReadAsArray() > 0, valid, err_msg=name)
        with rasterio.open(out) as r:
            np.testing.assert_array_equal(r.dataset_mask() > 0, valid, err_msg=name)
            np.testing.assert_array_equal(r.read(), data)
        ds = None


def describe(path):
    """Everything rasterio and GDAL say about a raster's bands and metadata,
    but for what each writer records of its own output (statistics, the
    overview method; tested on their own)."""
    def copied(tags):
        return {k: v for k, v in tags.items() if k != "OVERVIEW_RESAMPLING" and not k.startswith("STATISTICS_")}
    with rasterio.open(path) as r:
        facts = {"descriptions": r.descriptions, "units": r.units, "scales": r.scales, "offsets": r.offsets,
                 "tags": copied(r.tags()), "band_tags": [copied(r.tags(i + 1)) for i in range(r.count)]}
        try:
            facts["colormap"] = r.colormap(1)
        except ValueError:
            facts["colormap"] = None
    return facts


def test_descriptions_units_scale_metadata_and_colour_tables_are_copied(tmp_path):
    data = np.random.default_rng(6).integers(0, 4, (2, 400, 300)).astype(np.int16)
    src = gdal_source(tmp_path / "described.tif", data, describe=True)
    want = describe(gdal_cog(src, tmp_path))
    assert want["descriptions"] == ("band 1", "band 2") and want["units"] == ("metre", "metre")
    assert want["tags"]["TITLE"] == "flow directions" and want["band_tags"][1] == {"SENSOR": "S2"}
    for name, out in writers(src, tmp_path).items():
        assert describe(out) == want, name
        with rasterio.open(out) as r:  # the source's statistics describe its values, not a func's
            assert float(r.tags(1)["STATISTICS_MEAN"]) != 12 and r.tags().get("STATISTICS_MINIMUM") is None, name
    # a band picked from the source keeps its own
    out = map_tiles(src, lambda t: t, str(tmp_path / "b2.tif"), bands=[2])
    assert describe(out)["descriptions"] == ("band 2",) and describe(out)["band_tags"] == [{"SENSOR": "S2"}]
    out = to_cog(dask_backend(src)[1, 10:], str(tmp_path / "d2.tif"))
    assert describe(out)["descriptions"] == ("band 2",)
    # copying off, for a func that changes what the data mean
    for name, out in writers(src, tmp_path, copy_metadata=False).items():
        facts = describe(out)
        assert facts["descriptions"] == (None, None) and not any(facts["units"]) and facts["tags"] == {"AREA_OR_POINT": "Area"}, name
        assert facts["scales"] == (1.0, 1.0) and facts["band_tags"] == [{}, {}], name


def test_colour_tables_are_copied(tmp_path):
    classes = np.random.default_rng(7).integers(0, 4, (1, 300, 300)).astype(np.uint8)
    src = gdal_source(tmp_path / "palette.tif", classes, interps=[gdal.GCI_PaletteIndex], palette=True)
    want = describe(gdal_cog(src, tmp_path))["colormap"]
    assert want[1] == (60, 195, 30, 255)
    for name, out in writers(src, tmp_path).items():
        assert describe(out)["colormap"] == want and roles(out) == (["Palette"], [1]), name
    for name, out in writers(src, tmp_path, copy_metadata=False).items():
        assert describe(out)["colormap"] is None and roles(out)[0] != ["Palette"], name


@pytest.fixture
def dem(tmp_path):
    data = np.random.default_rng(8).normal(900, 50, (1, 400, 300)).astype(np.float32)
    data[0, 50:70, 20:90] = -9999
    return gdal_source(tmp_path / "dem.tif", data, nodata=-9999), data[0]


def test_nodata_survives_a_change_of_type_when_the_new_type_holds_it(dem, tmp_path):
    src, data = dem
    out = map_tiles(src, lambda t: t.astype(np.float64), str(tmp_path / "f64.tif"))
    ds = gdal.Open(out)
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Float64 and ds.GetRasterBand(1).GetNoDataValue() == -9999
    ds = None
    out = to_cog(dask_backend(src).astype(np.int16), str(tmp_path / "i16.tif"))
    ds = gdal.Open(out)
    assert ds.GetRasterBand(1).DataType == gdal.GDT_Int16 and ds.GetRasterBand(1).GetNoDataValue() == -9999
    ds = None
    # not representable: a clear error, or the caller says what to use
    for call in (lambda: map_tiles(src, lambda t: (t > 900).astype(np.uint8), str(tmp_path / "u8.tif")),
                 lambda: to_cog((dask_backend(src) > 900).astype(np.uint8), str(tmp_path / "u8.tif"))):
        with pytest.raises(ValueError, match=r"nodata -9999 is not a Byte value.*nodata"):
            call()
    assert not (tmp_path / "u8.tif").exists()
    out = map_tiles(src, lambda t: (t > 900).astype(np.uint8), str(tmp_path / "u8.tif"), nodata=255)
    ds = gdal.Open(out)
    assert ds.GetRasterBand(1).GetNoDataValue() == 255
    ds = None


def test_masked_tiles_and_masked_results(dem, tmp_path):
    src, data = dem
    seen = []

    def smooth(tile):
        seen.append(tile)
        assert isinstance(tile, np.ma.MaskedArray)
        return tile * 2  # masked cells stay masked

    out = map_tiles(src, smooth, str(tmp_path / "m.tif"), masked=True, tile_rows=128, tile_cols=128, halo=1)
    whole = np.ma.concatenate([np.ma.concatenate([t[1:-1, 1:-1] for t in seen[r * 3:(r + 1) * 3]], axis=1)
                               for r in range(4)])
    np.testing.assert_array_equal(np.ma.getmaskarray(whole), data == -9999)
    ds = gdal.Open(out)
    got = ds.GetRasterBand(1).ReadAsArray()
    assert ds.GetRasterBand(1).GetNoDataValue() == -9999
    np.testing.assert_array_equal(got, np.where(data == -9999, -9999, data * 2))
    ds = None
    # a mask of its own: masked cells become nodata
    out = map_tiles(src, lambda t: np.ma.masked_greater(t, 950), str(tmp_path / "g.tif"), masked=True)
    ds = gdal.Open(out)
    np.testing.assert_array_equal(ds.GetRasterBand(1).ReadAsArray(), np.where((data > 950) | (data == -9999), -9999, data))
    ds = None


def test_masked_results_without_nodata_become_the_outputs_mask(tmp_path):
    data = np.random.default_rng(9).integers(0, 200, (1, 300, 250)).astype(np.uint8)
    src = gdal_source(tmp_path / "plain.tif", data)
    out = map_tiles(src, lambda t: np.ma.masked_less(t, 20), str(tmp_path / "m.tif"), masked=True)
    with rasterio.open(out) as r:
        assert r.nodata is None
        np.testing.assert_array_equal(r.dataset_mask() > 0, data[0] >= 20)


def test_write_cog_of_a_masked_array(tmp_path):
    values = np.arange(30 * 40, dtype=np.float32).reshape(30, 40)
    masked = np.ma.masked_where(values % 7 == 0, values)
    out = write_cog(masked, str(tmp_path / "m.tif"), nodata=-1)
    ds = gdal.Open(out)
    np.testing.assert_array_equal(ds.GetRasterBand(1).ReadAsArray(), np.where(values % 7 == 0, -1, values))
    ds = None
    with pytest.raises(ValueError, match="nodata"):
        write_cog(masked, str(tmp_path / "no.tif"))
    assert not (tmp_path / "no.tif").exists()
    out = write_cog(np.ma.masked_array(values, mask=False), str(tmp_path / "empty.tif"))  # nothing masked
    ds = gdal.Open(out)
    np.testing.assert_array_equal(ds.GetRasterBand(1).ReadAsArray(), values)
    ds = None


@pytest.mark.parametrize("func,dtype,match", [
    (lambda t: t.astype(np.int32) * 40000, np.int16, r"int32 values for window \(0, 0, 128, 128\) that int16 cannot hold"),
    (lambda t: np.full(t.shape, 1e300), np.float32, r"float64 values .* float32 cannot hold.*infinite"),
    (lambda t: t + 0.5, np.int16, r"float64 values .* int16 cannot hold: not all of them are integers"),
], ids=["wrap-around", "overflow-to-inf", "fractions"])
def test_func_results_are_converted_only_when_every_value_survives(tmp_path, func, dtype, match):
    data = np.random.default_rng(10).integers(0, 300, (1, 200, 200)).astype(np.int16)
    src = gdal_source(tmp_path / "i16.tif", data)
    with pytest.raises(ValueError, match=match):
        map_tiles(src, func, str(tmp_path / "o.tif"), dtype=dtype, tile_rows=128, tile_cols=128)
    assert not (tmp_path / "o.tif").exists()


def test_byte_order_is_normalised_and_exact_conversions_pass(tmp_path):
    data = np.random.default_rng(11).normal(500, 20, (1, 150, 170)).astype(np.float32)
    src = gdal_source(tmp_path / "f32.tif", data)
    out = map_tiles(src, lambda t: t.astype(">f4"), str(tmp_path / "be.tif"))
    ds = gdal.Open(out)
    np.testing.assert_array_equal(ds.GetRasterBand(1).ReadAsArray(), data[0])
    ds = None
    out = map_tiles(src, lambda t: np.round(t).astype(np.int64), str(tmp_path / "i16.tif"), dtype=np.int16)
    ds = gdal.Open(out)
    np.testing.assert_array_equal(ds.GetRasterBand(1).ReadAsArray(), np.round(data[0]).astype(np.int16))
    ds = None


def test_no_writer_replaces_its_source(dem, tmp_path, monkeypatch):
    src, _ = dem
    before = open(src, "rb").read()
    (tmp_path / "sub").mkdir()
    os.symlink(src, tmp_path / "link.tif")
    monkeypatch.chdir(tmp_path)
    for dst in (src, "./dem.tif", "sub/../dem.tif", "link.tif", "file://" + src):
        for call in (lambda: map_tiles(src, lambda t: t, dst), lambda: to_cog(dask_backend(src) + 1, dst),
                     lambda: to_cog(dask_backend(src, xarray=True), dst), lambda: write_cog(src, dst),
                     lambda: write_zarr("link.tif", dst)):
            with pytest.raises(cloudio.InvalidArgumentError, match="is the source"):
                call()
    assert open(src, "rb").read() == before
    assert sorted(os.listdir(tmp_path)) == ["dem.tif", "link.tif", "sub"]
