"""GDAL's side of the COG encoder's tests (Debian's python3 with python3-gdal).

    gdalref.py make JOBS.json    each job's source GeoTIFF (from the raw cells the
                                 Go test wrote) and GDAL's own COG of it
    gdalref.py check JOBS.json   GDAL's COG validator on the encoder's COG, and every
                                 level of both COGs (cells and masks) read back
                                 through GDAL, for the Go test to compare

A job is a directory with job.json; every file the script reads or writes is
in it. Levels are dumped band after band (GDAL's ReadRaster of each band).
"""
import json
import os
import sys

from osgeo import gdal, osr
from osgeo_utils.samples import validate_cloud_optimized_geotiff as cogval

gdal.UseExceptions()
gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", "YES")


def make(job, d):
    w, h, n = job["width"], job["height"], job["bands"]
    dt = gdal.GetDataTypeByName(job["type"])
    size = gdal.GetDataTypeSize(dt) // 8
    ds = gdal.GetDriverByName("GTiff").Create(os.path.join(d, "src.tif"), w, h, n, dt)
    ds.SetGeoTransform(job["geotransform"])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(job["epsg"])
    ds.SetProjection(srs.ExportToWkt())
    with open(os.path.join(d, "src.raw"), "rb") as f:
        ds.WriteRaster(0, 0, w, h, f.read(), buf_pixel_space=n * size, buf_line_space=w * n * size, buf_band_space=size)
    for i in range(n):
        b = ds.GetRasterBand(i + 1)
        if job.get("nodata") is not None:
            if job["type"] in ("Int64", "UInt64"):
                getattr(b, "SetNoDataValueAs" + job["type"])(int(job["nodata"]))
            else:
                b.SetNoDataValue(float(job["nodata"]))
        if job.get("interp"):
            b.SetColorInterpretation(getattr(gdal, "GCI_%s" % job["interp"][i]))
        if job.get("description"):
            b.SetDescription("%s %d" % (job["description"], i + 1))
    if job.get("colortable"):
        ct = gdal.ColorTable()
        for k, c in enumerate(job["colortable"]):
            ct.SetColorEntry(k, tuple(c))
        ds.GetRasterBand(1).SetColorTable(ct)
    for k, v in (job.get("metadata") or {}).items():
        ds.SetMetadataItem(k, v)
    if job.get("mask"):
        ds.CreateMaskBand(gdal.GMF_PER_DATASET)
        with open(os.path.join(d, "mask.raw"), "rb") as f:
            ds.GetRasterBand(1).GetMaskBand().WriteRaster(0, 0, w, h, f.read())
    ds = None
    gdal.Translate(os.path.join(d, "gdal.tif"), os.path.join(d, "src.tif"), format="COG",
                   creationOptions=job["options"])


def dump(path, prefix):
    ds = gdal.Open(path)
    first = ds.GetRasterBand(1)
    levels = [[ds.GetRasterBand(i + 1) for i in range(ds.RasterCount)]]
    levels += [[ds.GetRasterBand(i + 1).GetOverview(k) for i in range(ds.RasterCount)]
               for k in range(first.GetOverviewCount())]
    for k, bands in enumerate(levels):
        with open("%s.%d.bin" % (prefix, k), "wb") as f:
            for b in bands:
                f.write(b.ReadRaster())
        with open("%s.%d.mask" % (prefix, k), "wb") as f:
            f.write(bands[0].GetMaskBand().ReadRaster())
    srs = ds.GetSpatialRef()
    return {
        "levels": [[b[0].XSize, b[0].YSize] for b in levels],
        "geotransform": list(ds.GetGeoTransform()),
        "crs": srs.ExportToWkt() if srs else "",
        "metadata": ds.GetMetadata(),
        "mask_flags": [first.GetMaskFlags()] + [first.GetOverview(k).GetMaskFlags() for k in range(first.GetOverviewCount())],
        "interp": [gdal.GetColorInterpretationName(ds.GetRasterBand(i + 1).GetColorInterpretation())
                   for i in range(ds.RasterCount)],
        "nodata": [str(ds.GetRasterBand(i + 1).GetNoDataValue()) for i in range(ds.RasterCount)],
        "descriptions": [ds.GetRasterBand(i + 1).GetDescription() for i in range(ds.RasterCount)],
        "colortable": [list(first.GetColorTable().GetColorEntry(k)) for k in range(first.GetColorTable().GetCount())]
        if first.GetColorTable() else None,
    }


def check(job, d):
    result = {}
    for name in ("ours", "gdal"):
        path = os.path.join(d, name + ".tif")
        warnings, errors, _ = cogval.validate(path, full_check=True)
        result[name] = dump(path, os.path.join(d, name))
        result[name]["errors"], result[name]["warnings"] = errors, warnings
    with open(os.path.join(d, "check.json"), "w") as f:
        json.dump(result, f)


def main():
    what, jobs = sys.argv[1], json.load(open(sys.argv[2]))
    for d in jobs:
        job = json.load(open(os.path.join(d, "job.json")))
        {"make": make, "check": check}[what](job, d)


if __name__ == "__main__":
    main()
