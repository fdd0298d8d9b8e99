"""Fixtures of the kiln Python tests: the shared models and photos (skipped
when ../shared is missing), the `kiln` command-line tool (skipped when not
built), and sessions made once per test run to keep the suite quick."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import kiln

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("KILN_SHARED_DIR") or REPO.parent / "shared")
MNV2 = SHARED / "models" / "mobilenet_v2_1.0_224"
PHOTO = SHARED / "images" / "grace_hopper.bmp"


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} is missing (the shared test data; set KILN_SHARED_DIR)")
    return path


@pytest.fixture(scope="session")
def photo():
    return _need(PHOTO)


@pytest.fixture(scope="session")
def mnv2_onnx():
    return _need(MNV2 / "mobilenet_v2_1.0_224_dequant.onnx")


@pytest.fixture(scope="session")
def mnv2_qdq_onnx():
    return _need(MNV2 / "mobilenet_v2_1.0_224_qdq.onnx")


@pytest.fixture(scope="session")
def mnv2(mnv2_onnx):
    return kiln.Model.load(str(mnv2_onnx))


@pytest.fixture(scope="session")
def mnv2_session(mnv2):
    return kiln.Session(mnv2)


@pytest.fixture(scope="session")
def mnv2_qdq(mnv2_qdq_onnx):
    return kiln.Model.load(str(mnv2_qdq_onnx))


@pytest.fixture(scope="session")
def cli():
    """The `kiln` tool of this build: $KILN_CLI (CTest sets it), else build/kiln or kiln on PATH."""
    path = os.environ.get("KILN_CLI") or (str(REPO / "build" / "kiln") if (REPO / "build" / "kiln").exists() else None)
    path = path or shutil.which("kiln")
    if not path or not Path(path).exists():
        pytest.skip("the kiln command-line tool is not built")
    return path


def run_cli(cli, *args):
    return subprocess.run([cli, *map(str, args)], check=True, capture_output=True, text=True).stdout


def parse_classify(text):
    """`kiln classify` output -> {image: [(label, probability), ...]}."""
    result, current = {}, None
    for line in text.splitlines():
        if not line.startswith(" "):
            current = result.setdefault(line.strip(), [])
            continue
        # "  1. 0.8011  military uniform (652)"
        _, prob, rest = line.strip().split(None, 2)
        label = rest.rsplit(" (", 1)[0] if rest.endswith(")") else rest
        current.append((label, float(prob)))
    return result
