"""scripts/cpuid_mask.c, as bench_vs_ort.py and bench_vs_ncnn.py use it for
--cpu-level avx2: a preloaded process sees no AVX-512 in CPUID while AVX2
stays, a real segmentation fault still ends the process, and a program's own
SIGSEGV handler still runs. Skipped where the machine cannot do it (no C
compiler, not x86-64 Linux, no CPUID faulting)."""
import os
import platform
import shutil
import subprocess
import sys

import pytest

ROOT = os.environ.get("KILN_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench_vs_ort  # noqa: E402

CHECKER = r"""
#include <cpuid.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void on_segv(int sig) { (void)sig; printf("handled\n"); fflush(stdout); _Exit(0); }
int main(int argc, char** argv) {
  unsigned a, b, c, d;
  __cpuid_count(7, 0, a, b, c, d);
  printf("avx2=%u avx512f=%u avx512vnni=%u\n", (b >> 5) & 1, (b >> 16) & 1, (c >> 11) & 1);
  fflush(stdout);
  if (argc > 1) {
    if (strcmp(argv[1], "handler") == 0) signal(SIGSEGV, on_segv);
    volatile int* p = 0;
    *p = 1;
  }
  return 0;
}
"""


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@pytest.fixture(scope="module")
def checker(tmp_path_factory):
    if platform.machine() != "x86_64" or sys.platform != "linux":
        pytest.skip("x86-64 Linux only")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    if "cpuid_fault" not in cpu_flags():
        pytest.skip("this CPU or hypervisor offers no CPUID faulting")
    d = tmp_path_factory.mktemp("cpuid")
    src = d / "checker.c"
    src.write_text(CHECKER)
    exe = d / "checker"
    subprocess.run([cc, "-O1", str(src), "-o", str(exe)], check=True)
    probe = subprocess.run([str(exe)], capture_output=True, text=True, env=bench_vs_ort.cpu_level_env("avx2"))
    if probe.returncode == 3 and "no CPUID faulting" in probe.stderr:
        pytest.skip("CPUID faulting is listed but refused here: " + probe.stderr.strip())
    return str(exe)


def run(exe, env, *args):
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=60)


def test_avx512_hidden_and_avx2_kept(checker):
    native = run(checker, None)
    masked = run(checker, bench_vs_ort.cpu_level_env("avx2"))
    assert native.returncode == 0 and masked.returncode == 0, masked.stderr
    assert "avx2=1" in native.stdout
    assert masked.stdout.strip() == "avx2=1 avx512f=0 avx512vnni=0"


def test_real_faults_still_end_the_process(checker):
    p = run(checker, bench_vs_ort.cpu_level_env("avx2"), "crash")
    assert p.returncode == -11, (p.returncode, p.stdout, p.stderr)


def test_the_programs_own_handler_still_runs(checker):
    p = run(checker, bench_vs_ort.cpu_level_env("avx2"), "handler")
    assert p.returncode == 0 and p.stdout.strip().endswith("handled"), (p.returncode, p.stdout, p.stderr)


def test_native_is_no_preload():
    assert bench_vs_ort.cpu_level_env("native") is None
