"""Builds libcloudio (Go, cgo over the system GDAL) into the package, so an
installed cloudio needs no checkout: `pip install ./python`."""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        target = os.path.abspath(os.path.join(self.build_lib, "cloudio"))
        os.makedirs(target, exist_ok=True)
        if shutil.which("go") is None:
            raise SystemExit("building cloudio needs Go >= 1.23 on PATH (and libgdal-dev): https://go.dev/dl/")
        subprocess.run(["go", "build", "-buildmode=c-shared", "-trimpath",
                        "-ldflags", "-extldflags=-Wl,-soname,libcloudio.so",
                        "-o", os.path.join(target, "libcloudio.so"), "./capi"],
                       cwd=REPO, check=True, env=dict(os.environ, CGO_ENABLED="1"))
        generated = os.path.join(target, "libcloudio.h")  # cgo's header; include/cloudio.h is the contract
        if os.path.exists(generated):
            os.remove(generated)
        shutil.copy(os.path.join(REPO, "include", "cloudio.h"), os.path.join(target, "cloudio.h"))


setup(cmdclass={"build_py": BuildWithLibrary})
