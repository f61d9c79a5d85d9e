"""cloudio.validate against GDAL's own COG validator, and cloudio.info
against ``gdalinfo -json``, on good and deliberately broken files made with
GDAL's GTiff and COG drivers and by byte surgery."""
import json
import os
import pathlib
import struct

import numpy as np
import pytest
from conftest import gdal_dataset, sample
from osgeo import gdal
from osgeo_utils.samples.validate_cloud_optimized_geotiff import ValidateCloudOptimizedGeoTIFFException
from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate as gdal_validate

import cloudio

gdal.UseExceptions()


def tiled(path, data, **kw):
    """A tiled GeoTIFF (GTiff driver), IFD first, no overviews."""
    ds = gdal_dataset(data, **kw)
    gdal.Translate(str(path), ds, format="GTiff", creationOptions=["TILED=YES", "COMPRESS=DEFLATE"])
    return str(path)


def first_tile(path, ifd=0):
    """(offset, byte count) of the first tile of IFD ifd, by GDAL."""
    ds = gdal.Open(str(path))
    band = ds.GetRasterBand(1)
    if ifd > 0:
        band = band.GetOverview(ifd - 1)
    return int(band.GetMetadataItem("BLOCK_OFFSET_0_0", "TIFF")), int(band.GetMetadataItem("BLOCK_SIZE_0_0", "TIFF"))


def patched(src, dst, offset, data):
    blob = bytearray(pathlib.Path(src).read_bytes())
    blob[offset:offset + len(data)] = data
    pathlib.Path(dst).write_bytes(bytes(blob))
    return str(dst)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    dem = sample(np.float32, (900, 1100))
    files = {}
    src = tiled(d / "src.tif", dem, nodata=-9999)
    files["cog"] = str(d / "cog.tif")
    gdal.Translate(files["cog"], src, format="COG", creationOptions=["BLOCKSIZE=256"])
    files["cog-bigtiff-zstd"] = str(d / "cog-bigtiff.tif")
    gdal.Translate(files["cog-bigtiff-zstd"], src, format="COG", creationOptions=["BIGTIFF=YES", "COMPRESS=ZSTD"])
    files["not-tiled"] = str(d / "strips.tif")
    gdal.Translate(files["not-tiled"], gdal_dataset(sample(np.uint8, (300, 1500))), format="GTiff")
    files["missing-overviews"] = tiled(d / "no-overviews.tif", dem)
    files["overviews-after-data"] = tiled(d / "after.tif", dem)
    ds = gdal.Open(files["overviews-after-data"], gdal.GA_Update)
    ds.BuildOverviews("AVERAGE", [2, 4])
    ds = None
    files["ifds-at-the-end"] = tiled(d / "edited.tif", dem)
    ds = gdal.Open(files["ifds-at-the-end"], gdal.GA_Update)
    ds.SetMetadataItem("EDITED", "YES")  # GDAL rewrites the IFD at the end of the file
    ds = None
    files["external-ovr"] = tiled(d / "external.tif", dem)
    ds = gdal.Open(files["external-ovr"])  # read-only: overviews go to external.tif.ovr
    ds.BuildOverviews("NEAREST", [2])
    ds = None
    offset, size = first_tile(files["cog"])
    files["bad-trailer"] = patched(files["cog"], d / "trailer.tif", offset + size, b"\0\1\2\3")
    files["bad-leader"] = patched(files["cog"], d / "leader.tif", offset - 4, struct.pack("<I", size + 1))
    ghost = pathlib.Path(files["cog"]).read_bytes().index(b"KNOWN_INCOMPATIBLE_EDITION=NO\n")
    files["incompatible-edition"] = patched(files["cog"], d / "incompatible.tif", ghost,
                                            b"KNOWN_INCOMPATIBLE_EDITION=YES")
    masked = gdal_dataset(dem)
    masked.CreateMaskBand(gdal.GMF_PER_DATASET)
    masked.GetRasterBand(1).GetMaskBand().WriteArray((dem > 100).astype(np.uint8) * 255)
    files["mask"] = str(d / "mask.tif")
    gdal.Translate(files["mask"], masked, format="COG", creationOptions=["BLOCKSIZE=256"])
    files["not-a-tiff"] = str(d / "image.png")
    gdal.Translate(files["not-a-tiff"], gdal_dataset(sample(np.uint8, (20, 30))), format="PNG")
    return files


def gdal_verdict(path):
    try:
        warnings, errors, _ = gdal_validate(path, full_check=True)
    except ValidateCloudOptimizedGeoTIFFException as exc:
        return None, str(exc)
    return tuple(errors), tuple(warnings)


CASES = ["cog", "cog-bigtiff-zstd", "not-tiled", "missing-overviews", "overviews-after-data", "ifds-at-the-end",
         "external-ovr", "bad-trailer", "bad-leader", "incompatible-edition", "mask", "not-a-tiff"]


@pytest.mark.parametrize("case", CASES)
def test_validate_agrees_with_gdals_validator(corpus, case):
    got = cloudio.validate(corpus[case])
    errors, warnings = gdal_verdict(corpus[case])
    if errors is None:  # GDAL's validator refuses the file outright
        assert not got.valid and got.errors[0].startswith(warnings)
        return
    assert got == (not errors, errors, warnings)
    assert bool(got) is got.valid


def test_the_corpus_has_every_kind(corpus):
    verdicts = {case: cloudio.validate(corpus[case]) for case in CASES}
    assert verdicts["cog"].valid and verdicts["mask"].valid and verdicts["missing-overviews"].valid
    assert verdicts["missing-overviews"].warnings
    for case in ("not-tiled", "overviews-after-data", "ifds-at-the-end", "external-ovr", "bad-trailer", "bad-leader",
                 "incompatible-edition", "not-a-tiff"):
        assert not verdicts[case].valid, case
    assert any("not tiled" in e for e in verdicts["not-tiled"].errors)
    assert any("main IFD" in e for e in verdicts["ifds-at-the-end"].errors)


def test_validate_inputs(corpus, tmp_path):
    path = corpus["bad-trailer"]
    assert cloudio.validate(pathlib.Path(path)) == cloudio.validate(path)
    assert cloudio.validate(path, full_check=False).valid  # the trailers are bytes of the blocks
    ds = gdal.Open(path)
    assert cloudio.validate(ds) == cloudio.validate(path)
    with pytest.raises(ValueError, match="lives only in memory"):
        cloudio.validate(gdal_dataset(sample(np.float32, (10, 10))))
    with pytest.raises(ValueError, match="full_check"):
        cloudio.validate(path, full_check="yes")
    with pytest.raises(ValueError, match="not int"):
        cloudio.validate(42)
    with pytest.raises(FileNotFoundError) as missing:
        cloudio.validate(tmp_path / "missing.tif")
    assert isinstance(missing.value, cloudio.NotFoundError)
    verdict = cloudio.validate(tmp_path)
    assert not verdict.valid and "directory" in verdict.errors[0]


# ---- info against gdalinfo -json ------------------------------------------------------------------

NUMPY = {"Byte": "uint8", "UInt16": "uint16", "Int16": "int16", "UInt32": "uint32", "Int32": "int32",
         "Float32": "float32", "Float64": "float64", "Int64": "int64", "UInt64": "uint64"}


def number(v):
    return float(v) if isinstance(v, str) else v


def same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b))


def expected_info(path):
    """cloudio.info's fields, read off gdalinfo -json by this test."""
    g = gdal.Info(path, format="json", showColorTable=False)
    b1 = g["bands"][0]
    structure = g["metadata"].get("IMAGE_STRUCTURE", {})
    crs = None
    if g.get("coordinateSystem", {}).get("wkt"):
        crs = {"wkt": g["coordinateSystem"]["wkt"], "epsg": g["stac"].get("proj:epsg")}
    bands = []
    for b in g["bands"]:
        md = b.get("metadata", {}).get("", {})
        stats = {k[len("STATISTICS_"):].lower(): float(v) for k, v in md.items() if k.startswith("STATISTICS_")}
        bands.append({"description": b.get("description", ""), "unit": b.get("unit", ""),
                      "color_interp": b["colorInterpretation"], "nodata": number(b.get("noDataValue")),
                      "mask": b["mask"]["flags"] if "mask" in b else None,
                      "statistics": {k: stats.get(k) for k in ("minimum", "maximum", "mean", "stddev", "valid_percent")}
                      if stats else None})
    return {"driver": g["driverShortName"], "rows": g["size"][1], "cols": g["size"][0], "bands": len(g["bands"]),
            "dtype": NUMPY[b1["type"]], "geotransform": g.get("geoTransform"), "crs": crs,
            "nodata": number(b1.get("noDataValue")), "block": b1["block"][::-1],
            "overviews": [o["size"][::-1] for o in b1.get("overviews", [])], "compress": structure.get("COMPRESSION"),
            "predictor": int(structure["PREDICTOR"]) if "PREDICTOR" in structure else None, "band_info": bands}


@pytest.fixture(scope="module")
def described(corpus, tmp_path_factory):
    d = tmp_path_factory.mktemp("described")
    files = {k: corpus[k] for k in ("cog", "not-tiled", "mask", "overviews-after-data", "not-a-tiff")}
    rich = gdal_dataset(sample(np.int16, (3, 700, 600)), nodata=-32768)
    for i, (desc, unit) in enumerate([("elevation", "m"), ("slope", "degree"), ("", "")], 1):
        rich.GetRasterBand(i).SetDescription(desc)
        rich.GetRasterBand(i).SetUnitType(unit)
    rich.GetRasterBand(1).SetStatistics(-3, 250, 101.5, 20.25)
    rich.GetRasterBand(1).SetMetadataItem("STATISTICS_VALID_PERCENT", "99.5")
    rich.SetMetadataItem("OVR_RESAMPLING_ALG", "NEAREST")
    files["rich"] = str(d / "rich.tif")
    gdal.Translate(files["rich"], rich, format="COG", creationOptions=["COMPRESS=ZSTD", "PREDICTOR=YES"])
    nan = gdal_dataset(sample(np.float64, (50, 40)), nodata=float("nan"), epsg=None, gt=None)
    files["nan-nodata"] = str(d / "nan.tif")
    gdal.Translate(files["nan-nodata"], nan, format="GTiff")
    return files


@pytest.mark.parametrize("case", ["cog", "not-tiled", "mask", "overviews-after-data", "not-a-tiff", "rich",
                                  "nan-nodata"])
def test_info_agrees_with_gdalinfo(described, case):
    path = described[case]
    got = cloudio.info(path)
    want = expected_info(path)
    for key, value in want.items():
        if key != "band_info":
            assert same(got[key], value), (key, got[key], value)
    assert len(got["band_info"]) == len(want["band_info"])
    for g, w in zip(got["band_info"], want["band_info"]):
        assert g.keys() == w.keys()
        for key in w:
            assert same(g[key], w[key]), (key, g[key], w[key])
    assert got["cog"] is (want["driver"] == "GTiff" and cloudio.validate(path).valid)
    json.dumps(got)  # plain data


def test_info_fields(described, corpus):
    rich = cloudio.info(described["rich"])
    assert rich["band_info"][0]["statistics"] == {"minimum": -3.0, "maximum": 250.0, "mean": 101.5, "stddev": 20.25,
                                                  "valid_percent": 99.5}
    assert rich["band_info"][1]["unit"] == "degree" and rich["band_info"][1]["statistics"] is None
    assert rich["overview_resampling"] == "nearest" and rich["compress"] == "ZSTD" and rich["predictor"] == 2
    assert rich["cog"] and rich["dtype"] == "int16" and rich["nodata"] == -32768.0
    nan = cloudio.info(described["nan-nodata"])
    assert np.isnan(nan["nodata"]) and nan["crs"] is None and nan["geotransform"] is None
    assert nan["cog"]  # small enough for GDAL's rules without tiles or overviews
    assert cloudio.info(corpus["mask"])["band_info"][0]["mask"] == ["PER_DATASET"]
    assert cloudio.info(corpus["not-a-tiff"])["driver"] == "PNG"
    assert isinstance(cloudio.info(corpus["cog"])["geotransform"][0], float)


def test_info_of_a_zarr_store(tmp_path):
    store = cloudio.write_zarr(sample(np.float32, (2, 300, 400)), tmp_path / "dem.zarr", nodata=-1.0)
    about = cloudio.info(store)
    assert (about["driver"], about["bands"], about["rows"], about["cols"], about["nodata"]) == ("Zarr", 2, 300, 400, -1.0)
    assert not about["cog"] and not cloudio.validate(store).valid


def test_info_inputs(described, tmp_path):
    path = described["cog"]
    ds = gdal.Open(path)
    assert cloudio.info(ds) == cloudio.info(pathlib.Path(path))
    with pytest.raises(FileNotFoundError):
        cloudio.info(tmp_path / "missing.tif")
    (tmp_path / "text.tif").write_text("not a raster")
    with pytest.raises(cloudio.ReadWriteError):
        cloudio.info(tmp_path / "text.tif")
    with pytest.raises(ValueError, match="lives only in memory"):
        cloudio.info(gdal_dataset(sample(np.float32, (10, 10))))
    assert os.listdir(tmp_path) == ["text.tif"]
