"""Builds libcloudio (Go, cgo over the system GDAL) into the package, so an
installed cloudio needs no checkout: ``pip install ./python`` from the
checkout (Go >= 1.23 and libgdal-dev needed at build time, libgdal at run
time). The metadata lives in pyproject.toml; this file only adds the Go build
to ``build_py`` and marks wheels as platform-specific."""
import os
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)  # the checkout: go.mod, capi/, include/cloudio.h


class BuildWithLibrary(build_py):
    """build_py, then ``go build -buildmode=c-shared -o <pkgdir>/libcloudio.so
    ./capi`` from the repository root, plus the C header next to it."""

    def run(self):
        super().run()
        if not os.path.isfile(os.path.join(REPO, "go.mod")) or not os.path.isdir(os.path.join(REPO, "capi")):
            raise SystemExit(f"cannot build libcloudio: {REPO} is not the cloudio checkout (no go.mod / capi). "
                             "Install from the checkout: pip install ./python")
        go = shutil.which(os.environ.get("GO", "go"))
        if go is None:
            raise SystemExit("building cloudio needs Go >= 1.23 on PATH (https://go.dev/dl/) and a C compiler "
                             "with libgdal-dev (Debian/Ubuntu: apt-get install gcc libgdal-dev)")
        target = os.path.abspath(os.path.join(self.build_lib, "cloudio"))
        os.makedirs(target, exist_ok=True)
        library = os.path.join(target, "libcloudio.so")
        command = [go, "build", "-buildmode=c-shared", "-trimpath",
                   "-ldflags", "-extldflags=-Wl,-soname,libcloudio.so", "-o", library, "./capi"]
        print(" ".join(command), f"(in {REPO})", file=sys.stderr)
        subprocess.run(command, cwd=REPO, check=True, env=dict(os.environ, CGO_ENABLED="1"))
        generated = os.path.join(target, "libcloudio.h")  # cgo's header; include/cloudio.h is the contract
        if os.path.exists(generated):
            os.remove(generated)
        shutil.copy(os.path.join(REPO, "include", "cloudio.h"), os.path.join(target, "cloudio.h"))


class BinaryDistribution(Distribution):
    """The package carries a native library: install it to platlib and make
    wheels platform-specific."""

    def has_ext_modules(self):
        return True


commands = {"build_py": BuildWithLibrary}

try:
    from wheel.bdist_wheel import bdist_wheel

    class PlatformWheel(bdist_wheel):
        """Tag wheels for this platform but any Python 3: the library is
        called through ctypes, not Python's C API."""

        def get_tag(self):
            _, _, platform = super().get_tag()
            return "py3", "none", platform

    commands["bdist_wheel"] = PlatformWheel
except ImportError:  # no wheel package: nothing builds wheels then
    pass

setup(cmdclass=commands, distclass=BinaryDistribution)
