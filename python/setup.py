"""Builds libcloudio (Go, cgo over the system GDAL) into the package, so an
installed cloudio needs no checkout: ``pip install ./python`` from the
checkout (make, Go >= 1.23 and libgdal-dev needed at build time, libgdal at
run time). The metadata lives in pyproject.toml; this file only adds the
library's build (the checkout's ``make``, so there is one way to build it)
to ``build_py``, reads the version from the checkout's VERSION and marks
wheels as platform-specific."""
import os
import shutil
import subprocess
import sys

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)  # the checkout: go.mod, capi/, include/cloudio.h


class BuildWithLibrary(build_py):
    """build_py, then ``make build/libcloudio.so`` in the checkout, and the
    library and the C header into the package."""

    def run(self):
        super().run()
        if not os.path.isfile(os.path.join(REPO, "go.mod")) or not os.path.isdir(os.path.join(REPO, "capi")):
            raise SystemExit(f"cannot build libcloudio: {REPO} is not the cloudio checkout (no go.mod / capi). "
                             "Install from the checkout: pip install ./python")
        make = shutil.which(os.environ.get("MAKE", "make"))
        if make is None or shutil.which(os.environ.get("GO", "go")) is None:
            raise SystemExit("building cloudio needs make, Go >= 1.23 on PATH (https://go.dev/dl/) and a C compiler "
                             "with libgdal-dev (Debian/Ubuntu: apt-get install make gcc libgdal-dev)")
        target = os.path.abspath(os.path.join(self.build_lib, "cloudio"))
        os.makedirs(target, exist_ok=True)
        command = [make, "-C", REPO, "build/libcloudio.so"]
        print(" ".join(command), file=sys.stderr)
        subprocess.run(command, check=True)
        shutil.copy(os.path.join(REPO, "build", "libcloudio.so"), os.path.join(target, "libcloudio.so"))
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

def checkout_version() -> str:
    """The version in the checkout's VERSION file, the one version source."""
    try:
        with open(os.path.join(REPO, "VERSION")) as f:
            return f.read().strip()
    except FileNotFoundError:
        raise SystemExit(f"{REPO} is not the cloudio checkout (no VERSION file). "
                         "Install from the checkout: pip install ./python") from None


setup(version=checkout_version(), cmdclass=commands, distclass=BinaryDistribution)
