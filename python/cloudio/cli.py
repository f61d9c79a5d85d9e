"""The ``cloudio`` command line: make, check and describe COGs from the shell.

Installed as the ``cloudio`` console script by ``pip install ./python``, and
run from a checkout as ``python -m cloudio``. Every subcommand is a thin
layer over the public Python API (:func:`cloudio.write_cog`,
:func:`cloudio.validate`, :func:`cloudio.info`, :func:`cloudio.tile_windows`,
:func:`cloudio.write_zarr`); ``cloudio SUBCOMMAND --help`` documents each.

Exit status: 0 on success, 1 when a file is not a valid COG or the work
failed (one line on stderr names the problem; ``--debug`` adds the
traceback), 2 for a bad command line, 130 on Ctrl-C. A write that fails or
is interrupted leaves nothing at its destination.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .windows import DEFAULT_TILE

EPILOG = """\
URLs (s3://, gs://, az://, https://) work wherever a path does. Options for
their stores, such as endpoints and credentials, come from the environment
as GDAL reads it (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AZURE_STORAGE_CONNECTION_STRING, ...), or from --storage KEY=VALUE, which
applies to every URL of the command and is never printed. Prefer the
environment for secrets: other users of the machine can read command lines.
"""


def _key_value(text: str) -> Tuple[str, str]:
    """A KEY=VALUE argument; the error never repeats it (it may be a secret)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError("expected KEY=VALUE")
    return key.strip(), value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cloudio`` and its subcommands."""
    from . import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--storage", metavar="KEY=VALUE", type=_key_value, action="append", default=[],
                        help="a GDAL option for the stores of the URLs given (repeatable), e.g. "
                             "AWS_S3_ENDPOINT=minio:9000; never printed")
    common.add_argument("--debug", action="store_true", help="on failure, print the traceback too")
    quiet = argparse.ArgumentParser(add_help=False)
    quiet.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    progress = argparse.ArgumentParser(add_help=False, parents=[quiet])
    progress.add_argument("--progress", action="store_true",
                          help="show progress on stderr even when it is not a terminal (default: only on a terminal)")

    parser = argparse.ArgumentParser(
        prog="cloudio", description="Cloud-optimised GeoTIFFs for DEM pipelines: write, validate and describe "
                                    "them, list tile windows, write Zarr.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cloudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, run: Callable[[argparse.Namespace], int], help: str, description: str,
                parents: Sequence[argparse.ArgumentParser]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=description, epilog=EPILOG, parents=[common, *parents],
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(run=run)
        return p

    cog = command("cog", _cog, "write a raster as a Cloud-Optimised GeoTIFF",
                  "Write SRC (any raster GDAL reads: GeoTIFF, VRT, Zarr, ... or a URL) as a COG at DST, "
                  "with internal overviews and each band's statistics. The write is atomic: nothing is "
                  "left at DST if it fails.\n\nexample:\n  cloudio cog dem.tif dem-cog.tif --compress zstd "
                  "--blocksize 256", [progress])
    cog.add_argument("src", metavar="SRC", help="the raster to read (path or URL)")
    cog.add_argument("dst", metavar="DST", help="the COG to write (path or object-store URL)")
    cog.add_argument("--compress", default="deflate", metavar="METHOD",
                     help="COMPRESS method of GDAL's COG driver: deflate (default), zstd, lzw, lerc, none, ...")
    cog.add_argument("--overview-resampling", metavar="METHOD",
                     help="how overviews are computed: nearest, average, bilinear, cubic, mode, ... "
                          "(default: nearest for integers, average for floating point)")
    cog.add_argument("--blocksize", type=_positive, metavar="N", help="tile side in cells (default 512)")
    cog.add_argument("--co", metavar="KEY=VALUE", type=_key_value, action="append", default=[],
                     help="any other COG creation option (repeatable), e.g. --co LEVEL=9")
    cog.add_argument("--no-statistics", dest="statistics", action="store_false",
                     help="do not record band statistics (saves one read of SRC)")

    check = command("validate", _validate, "check that files are valid Cloud-Optimised GeoTIFFs",
                    "Check each PATH with the rules of GDAL's own COG validator: tiling, overviews, the "
                    "order of IFDs and data, GDAL's ghost header and, for local files, its claims about "
                    "every block. Exits 1 if any PATH is not a valid COG (with --strict, also if any has "
                    "warnings).\n\nexample:\n  cloudio validate dem-cog.tif s3://bucket/dem.tif", [quiet])
    check.add_argument("paths", metavar="PATH", nargs="+", help="a file or URL")
    check.add_argument("--strict", action="store_true", help="warnings fail too")
    check.add_argument("--full-check", choices=("auto", "yes", "no"), default="auto",
                       help="read the bytes around every block: auto (default) for local files only, yes, no")

    about = command("info", _info, "describe a raster",
                    "Describe PATH from its metadata (no pixel is read): size, type, georeferencing, "
                    "blocks, overviews, compression, each band's statistics when recorded, and whether it "
                    "is a valid COG.\n\nexample:\n  cloudio info dem-cog.tif --json", [])
    about.add_argument("path", metavar="PATH", help="a raster (path or URL)")
    about.add_argument("--json", action="store_true", help="print JSON (what cloudio.info returns)")

    tiles = command("tiles", _tiles, "list the tile windows of a raster",
                    "Print the tile windows of SRC, one per line, in tile_windows order, as "
                    "(row_off, col_off, n_rows, n_cols).\n\nexample:\n  cloudio tiles dem.tif --tile-rows 512 "
                    "--tile-cols 512 --overlap 16", [])
    tiles.add_argument("src", metavar="SRC", help="a raster (path or URL)")
    tiles.add_argument("--tile-rows", type=_positive, default=DEFAULT_TILE, metavar="N", help=f"default {DEFAULT_TILE}")
    tiles.add_argument("--tile-cols", type=_positive, default=DEFAULT_TILE, metavar="N", help=f"default {DEFAULT_TILE}")
    tiles.add_argument("--overlap", type=_non_negative, default=0, metavar="N", help="default 0")
    tiles.add_argument("--json", action="store_true", help="print a JSON array per window")

    zarr = command("zarr", _zarr, "write a raster as a Zarr store",
                   "Write SRC as a Zarr (V2) store at DST, every band, the georeferencing and nodata "
                   "kept. The write is atomic.\n\nexample:\n  cloudio zarr dem.tif s3://bucket/dem.zarr "
                   "--chunks 512", [progress])
    zarr.add_argument("src", metavar="SRC", help="the raster to read (path or URL)")
    zarr.add_argument("dst", metavar="DST", help="the Zarr store to write (path or object-store URL)")
    zarr.add_argument("--chunks", type=_positive, nargs="+", metavar="N",
                      help="chunk side, or ROWS COLS (default 512)")
    zarr.add_argument("--compress", default="zstd", metavar="METHOD",
                      help="compressor of GDAL's Zarr driver: zstd (default), blosc, zlib, gzip, lzma, lz4, none")
    zarr.add_argument("--co", metavar="KEY=VALUE", type=_key_value, action="append", default=[],
                      help="any other Zarr creation option (repeatable)")
    return parser


# ---- subcommands ---------------------------------------------------------------------------------

def _progress(args: argparse.Namespace, label: str) -> Optional[Callable[[float], Any]]:
    """A progress bar on stderr (tqdm when installed), unless quiet."""
    from ._options import progress_callable
    show = not args.quiet and (args.progress or sys.stderr.isatty())
    return progress_callable(True, label) if show else None


def _cog(args: argparse.Namespace) -> int:
    from .cog import write_cog
    write_cog(args.src, args.dst, args.compress, progress=_progress(args, f"cog {os.path.basename(args.dst)}"),
              statistics=args.statistics, options=dict(args.co) or None,
              overview_resampling=args.overview_resampling, blocksize=args.blocksize)
    if not args.quiet:
        print(args.dst)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from .tools import validate
    full_check = {"auto": None, "yes": True, "no": False}[args.full_check]
    failed = False
    for path in args.paths:
        try:
            verdict = validate(path, full_check=full_check)
        except (OSError, ValueError) as exc:  # this path only: the others are checked still
            _error(args, exc)
            failed = True
            continue
        ok = verdict.valid and not (args.strict and verdict.warnings)
        failed = failed or not ok
        if not args.quiet:
            state = "valid COG" if verdict.valid else "NOT a valid COG"
            if verdict.valid and verdict.warnings:
                state += ", with warnings"
            print(f"{path}: {state}")
            for e in verdict.errors:
                print(f"  error: {e}")
            for w in verdict.warnings:
                print(f"  warning: {w}")
    return 1 if failed else 0


def _info(args: argparse.Namespace) -> int:
    from .tools import info_json
    text = info_json(args.path)
    if args.json:
        print(json.dumps(json.loads(text), indent=2))
    else:
        print(_describe(args.path, json.loads(text)))
    return 0


def _number(v: Any, digits: int = 6) -> str:
    """v with digits significant digits (gdalinfo's "NaN" strings as they are)."""
    return v if isinstance(v, str) else f"{v + 0.0:.{digits}g}"  # + 0.0: -0 prints as 0


def _describe(path: str, d: Dict[str, Any]) -> str:
    """A short, human-readable description from info's JSON."""
    bands = d["bands"]
    lines = [f"{path}: {d['driver']}, {d['rows']} rows x {d['cols']} cols, {bands} band{'s' * (bands != 1)} "
             f"of {d['dtype']}"]

    def row(key: str, value: Any) -> None:
        lines.append(f"  {key:<13}{value}")

    if d["crs"]:
        name = re.match(r'\s*\w+\["([^"]*)"', d["crs"]["wkt"])
        epsg = f"EPSG:{d['crs']['epsg']}" if d["crs"]["epsg"] else "no EPSG code"
        row("crs", f"{epsg}" + (f" ({name.group(1)})" if name else ""))
    row("geotransform", ", ".join(_number(v, 15) for v in d["geotransform"]) if d["geotransform"] else "none")
    row("nodata", _number(d["nodata"], 15) if d["nodata"] is not None else "none")
    structure = f"{d['block'][0]} x {d['block'][1]}"
    if d["compress"]:
        structure += f", {d['compress']}"
    if d["predictor"]:
        structure += f", predictor {d['predictor']}"
    row("blocks", structure)
    overviews = ", ".join(f"{r} x {c}" for r, c in d["overviews"]) or "none"
    if d["overview_resampling"]:
        overviews += f" ({d['overview_resampling']})"
    row("overviews", overviews)
    row("cog", "yes" if d["cog"] else "no (cloudio validate tells why)")
    for i, b in enumerate(d["band_info"], 1):
        parts = [p for p in (b["description"], f"[{b['unit']}]" if b["unit"] else "", b["color_interp"]) if p]
        if b["mask"]:
            parts.append("mask " + "+".join(b["mask"]))
        s = b["statistics"]
        if s:
            parts.append(", ".join(f"{k} {_number(s[k])}" for k in ("minimum", "maximum", "mean", "stddev")
                                   if s[k] is not None))
            if s["valid_percent"] is not None:
                parts.append(f"{_number(s['valid_percent'])}% valid")
        row(f"band {i}", "; ".join(parts))
    return "\n".join(lines)


def _tiles(args: argparse.Namespace) -> int:
    from .windows import tile_windows
    out = sys.stdout
    for w in tile_windows(args.src, args.tile_rows, args.tile_cols, args.overlap):
        out.write((json.dumps(list(w)) if args.json else str(tuple(w))) + "\n")
    out.flush()
    return 0


def _zarr(args: argparse.Namespace) -> int:
    from .zarr import write_zarr
    if args.chunks is not None and len(args.chunks) > 2:
        raise ValueError("--chunks takes a side, or ROWS COLS")
    chunks = None if args.chunks is None else tuple(args.chunks) if len(args.chunks) == 2 else args.chunks[0]
    write_zarr(args.src, args.dst, chunks=chunks, compress=args.compress, options=dict(args.co),
               progress=_progress(args, f"zarr {os.path.basename(args.dst)}"))
    if not args.quiet:
        print(args.dst)
    return 0


# ---- storage, errors ------------------------------------------------------------------------------

_ROOT = re.compile(r"(?i)^((?:s3|gs|gcs|az|azure|https?)://[^/]+|/vsi\w+/(?:https?://)?[^/]+)")


def _urls(args: argparse.Namespace) -> List[str]:
    names = [getattr(args, k) for k in ("src", "dst", "path") if isinstance(getattr(args, k, None), str)]
    return names + list(getattr(args, "paths", []))


def _configure_storage(args: argparse.Namespace) -> None:
    """Scope the --storage options to the store of every URL given."""
    if not args.storage:
        return
    from .storage import cloud_storage
    roots = {m.group(1) for m in map(_ROOT.match, _urls(args)) if m}
    if not roots:
        raise ValueError("--storage applies to URLs (s3://, gs://, az://, https://), and none was given")
    for root in sorted(roots):
        cloud_storage(root, **dict(args.storage))  # the options only: the commands write by URL


def _scrub(args: argparse.Namespace, text: str) -> str:
    """text without the values of --storage (they may be secrets)."""
    for _, value in args.storage:
        if value:
            text = text.replace(value, "***")
    return text


def _error(args: argparse.Namespace, exc: BaseException) -> None:
    """Report exc on one line of stderr (and its traceback with --debug)."""
    if args.debug:
        sys.stderr.write(_scrub(args, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))))
    message = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror and not str(exc).startswith(exc.strerror):
        message = f"{exc.filename}: {exc.strerror}"
    print(f"cloudio {args.command}: error: {_scrub(args, message)}", file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line with argv (default: sys.argv[1:]); returns the
    exit status."""
    args = build_parser().parse_args(argv)
    try:
        _configure_storage(args)
        return args.run(args)
    except KeyboardInterrupt:
        print(f"cloudio {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cloudio tiles ... | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001 - every failure is one line, not a traceback
        _error(args, exc)
        return 1
