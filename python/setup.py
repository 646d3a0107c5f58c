"""Build of the vmsim Python package (docs/python.md).

The extension vmsim._core links libvmsim statically, built here by the
repository's own CMake (a build directory of its own, position-independent
code, no tests): the installed package then needs no libvmsim.so at run
time, no rpath into a build tree that may be gone, and it works from a
venv on a machine where vmsim was never installed. Only the system
libraries libvmsim itself links (jansson, zlib, liblzma, libzstd) are
shared. The package lives in python/ of the vmsim repository and is built
in place (pip >= 21.3 builds in the tree), so ../ is the repository;
VMSIM_SOURCE_DIR names it otherwise, VMSIM_BUILD_DIR the CMake build
directory (default <repo>/build/python).
"""
import os
import shutil
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.environ.get("VMSIM_SOURCE_DIR", os.path.join(HERE, "..")))


def fail(msg):
    raise SystemExit("vmsim setup.py: " + msg)


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        fail("pkg-config %s failed (%s); install libjansson-dev zlib1g-dev liblzma-dev "
             "libzstd-dev pkg-config (make deps)" % (" ".join(args), e))
    return out.stdout.split()


class BuildWithLibvmsim(build_ext):
    """Build libvmsim.a with CMake first, then the extension against it."""

    def run(self):
        if not os.path.isfile(os.path.join(REPO, "CMakeLists.txt")):
            fail("expected the vmsim repository at %s (python/ inside it, or VMSIM_SOURCE_DIR), "
                 "found no CMakeLists.txt" % REPO)
        if not shutil.which("cmake"):
            fail("expected cmake on PATH to build libvmsim, found none (apt-get install cmake)")
        build = os.path.abspath(os.environ.get("VMSIM_BUILD_DIR",
                                               os.path.join(REPO, "build", "python")))
        # libvmsim.a's objects are position-independent (they serve
        # libvmsim.so too), so they link into the extension as they are. A
        # build directory CMake configured already (VMSIM_BUILD_DIR=build/
        # release, as make test gives) is used as it is configured.
        if not os.path.isfile(os.path.join(build, "CMakeCache.txt")):
            subprocess.run(["cmake", "-S", REPO, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                            "-DVMSIM_TESTS=OFF"],
                           check=True, stdout=subprocess.DEVNULL)
        jobs = os.environ.get("VMSIM_JOBS", "2")
        subprocess.run(["cmake", "--build", build, "--target", "vmsim", "-j", jobs], check=True)
        lib = os.path.join(build, "libvmsim.a")
        if not os.path.isfile(lib):
            fail("expected %s after the CMake build, found none" % lib)
        for ext in self.extensions:
            ext.extra_objects.append(lib)
            ext.include_dirs.append(os.path.join(REPO, "include"))
            ext.extra_link_args += pkg_config("--libs", "jansson", "zlib", "liblzma", "libzstd")
            ext.libraries += ["m"]
        # build_ext relinks only when _core.c is newer than the extension; a
        # changed libvmsim.a alone would leave the old library code in it
        self.force = True
        super().run()


setup(
    ext_modules=[Extension("vmsim._core", sources=["src/_core.c"],
                           extra_compile_args=["-std=c11", "-Wall", "-Wextra",
                                               "-Wno-unused-parameter", "-pthread",
                                               "-D_POSIX_C_SOURCE=200809L", "-D_DEFAULT_SOURCE"],
                           extra_link_args=["-pthread"])],
    cmdclass={"build_ext": BuildWithLibvmsim},
)
