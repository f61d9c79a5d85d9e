"""Every COG writer records each band's statistics, as GDAL would compute
them (nodata and masks excluded), so that GDAL reads them without a scan."""
import os

import numpy as np
import pytest
from conftest import GT, gdal_dataset, sample
from osgeo import gdal

import cloudio

gdal.UseExceptions()


def recorded(path):
    """Each band's statistics as GDAL reads them from the file, never
    computing them (force=False): None when the file has none."""
    ds = gdal.Open(str(path))
    out = []
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        stats = band.GetStatistics(False, False)  # approx_ok, force
        if stats is None or stats == [0.0, 0.0, 0.0, -1.0]:  # GDAL's "none" on some versions
            out.append(None)
            continue
        out.append((*stats, float(band.GetMetadataItem("STATISTICS_VALID_PERCENT"))))
    return out


def expected(bands, nodata=None, mask=None):
    """min, max, mean, population std and valid percent of each band, by numpy."""
    out = []
    for band in bands:
        valid = ~np.isnan(band) if band.dtype.kind == "f" else np.ones(band.shape, bool)
        if nodata is not None:
            valid &= band != nodata
        if mask is not None:
            valid &= mask != 0
        cells = band[valid].astype(np.float64)
        out.append((cells.min(), cells.max(), cells.mean(), cells.std(), float(f"{100 * valid.mean():.4g}")))
    return out


def check(path, want):
    got = recorded(path)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g is not None
        np.testing.assert_allclose(g, w, rtol=1e-12)


@pytest.fixture
def dem():
    z = sample(np.float32, (2, 700, 900))
    z[:, :100, :200] = -9999
    z[0, 300, 300:400] = np.nan
    return z


def test_write_cog_of_an_array_a_file_and_a_gdal_dataset(tmp_path, dem):
    want = expected(dem, nodata=-9999)
    a = cloudio.write_cog(dem, tmp_path / "a.tif", geotransform=GT, crs=32633, nodata=-9999)
    check(a, want)
    b = cloudio.write_cog(a, tmp_path / "b.tif", "zstd")
    check(b, want)
    c = cloudio.write_cog(gdal_dataset(dem, nodata=-9999), tmp_path / "c.tif")  # in memory: its pixels
    check(c, want)
    assert "STATISTICS_MEAN" in gdal.Info(c)  # gdalinfo shows them without -stats


def test_map_tiles_and_to_cog(tmp_path, dem):
    src = cloudio.write_cog(dem, tmp_path / "src.tif", nodata=-9999, statistics=False)
    assert recorded(src) == [None, None]
    out = cloudio.map_tiles(src, lambda t: np.where(t == -9999, t, t * 2), tmp_path / "twice.tif", tile_rows=256,
                            tile_cols=300)
    doubled = np.where(dem == -9999, dem, dem * 2)
    check(out, expected(doubled, nodata=-9999))
    da = pytest.importorskip("dask.array")
    cog = cloudio.to_cog(da.from_array(dem[0], chunks=(200, 256)), tmp_path / "dask.tif", nodata=-9999)
    check(cog, expected(dem[:1], nodata=-9999))
    assert recorded(cloudio.to_cog(da.from_array(dem[0], chunks=300), tmp_path / "none.tif", statistics=False)) == [None]
    assert recorded(cloudio.map_tiles(src, lambda t: t, tmp_path / "none2.tif", statistics=False)) == [None, None]


def test_masks_are_excluded(tmp_path, dem):
    ds = gdal_dataset(dem[0])
    ds.CreateMaskBand(gdal.GMF_PER_DATASET)
    mask = np.full(dem[0].shape, 255, np.uint8)
    mask[400:, 500:] = 0
    ds.GetRasterBand(1).GetMaskBand().WriteArray(mask)
    src = str(tmp_path / "masked.tif")
    gdal.Translate(src, ds, format="GTiff", creationOptions=["TILED=YES"])
    out = cloudio.write_cog(src, tmp_path / "out.tif")
    check(out, expected(dem[:1], mask=mask))
    assert gdal.Open(out).GetRasterBand(1).GetMaskFlags() == gdal.GMF_PER_DATASET  # the mask is kept


def test_statistics_argument(tmp_path, dem, listing):
    with pytest.raises(ValueError, match="statistics must be True or False"):
        cloudio.write_cog(dem, tmp_path / "x.tif", statistics="no")
    with pytest.raises(ValueError, match="statistics must be True or False"):
        cloudio.map_tiles(dem, lambda t: t, tmp_path / "x.tif", statistics=0)
    with pytest.raises(cloudio.InvalidArgumentError, match="STATISTICS"):
        cloudio.write_cog(dem, tmp_path / "x.tif", options={"STATISTICS": "sometimes"})
    assert listing() == []
    for options in ({"BLOCKSIZE": 256}, ["BLOCKSIZE=256"], None):
        out = cloudio.write_cog(dem, tmp_path / "x.tif", options=options, statistics=False)
        assert recorded(out) == [None, None]
    os.remove(out)
