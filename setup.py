"""Builds the Python module kiln._kiln with CMake, for `pip install .`.

Only the module's target (kiln_python) is built, without the tests, the
command-line tool or the CUDA backend, in an out-of-tree build folder that is
kept between installs so that a reinstall rebuilds only what changed:
    build-python/ next to this file, or $KILN_PY_BUILD_DIR
Extra CMake arguments come from $CMAKE_ARGS (e.g. "-DKILN_BACKEND_CUDA=ON
-DKILN_BACKEND_VULKAN=OFF"), the parallelism from $CMAKE_BUILD_PARALLEL_LEVEL
(default: every core). Offline with Debian's packages:
    pip install --no-build-isolation .
"""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name, target):
        super().__init__(name, sources=[])
        self.target = target


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = Path(os.environ.get("KILN_PY_BUILD_DIR", ROOT / "build-python")).resolve()
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            "-DCMAKE_BUILD_TYPE=Release",
            "-DKILN_BUILD_TESTS=OFF",
            "-DKILN_BUILD_APPS=OFF",
            "-DKILN_BUILD_PYTHON=ON",
            "-DKILN_BACKEND_CUDA=OFF",
            f"-DPython3_EXECUTABLE={sys.executable}",
        ]
        if shutil.which("ninja") and not (build_dir / "CMakeCache.txt").exists():
            configure += ["-G", "Ninja"]
        configure += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        build = ["cmake", "--build", str(build_dir), "--target", ext.target, "-j", jobs]
        for cmd in (configure, build):
            print("kiln setup.py:", " ".join(cmd), flush=True)
            subprocess.run(cmd, check=True)
        built = sorted((build_dir / "python" / "kiln").glob("_kiln*.so"))
        if not built:
            sys.exit(f"kiln setup.py: CMake built no _kiln*.so in {build_dir / 'python' / 'kiln'}")
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[-1], dest)


setup(
    ext_modules=[CMakeExtension("kiln._kiln", target="kiln_python")],
    cmdclass={"build_ext": CMakeBuild},
    # setuptools' own scratch folder, away from the CMake build trees (build/).
    options={"build": {"build_base": str(Path("build-python") / "setuptools")}},
    zip_safe=False,
)
