"""scripts/plot_bench.py and bench_vs_ort.py --plot draw PNGs from their JSON,
and refuse input that is not theirs with a message."""
import importlib.util
import json
import os
import random
import subprocess
import sys

import pytest

ROOT = os.environ.get("KILN_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLOT_BENCH = os.path.join(ROOT, "scripts", "plot_bench.py")

matplotlib = pytest.importorskip("matplotlib")


def bench_json(path, p50, backend="cpu"):
    rng = random.Random(p50)
    lat = sorted(p50 * (0.9 + 0.3 * rng.random()) for _ in range(40))
    layers = [{"index": i, "name": f"Conv_{i}", "op": "Conv", "detail": d, "flops": 10_000_000, "gflops": 50.0 + i,
               "median_ms": 0.05 * (i + 1), "share": 0.02, "output_shape": [1, 32, 56, 56]}
              for i, d in enumerate(["winograd [est 0.1 ms]", "im2col [est 0.2 ms]", "fused Conv_3 + Conv_4 [x]",
                                     "int8 gemm (1x1)", "depthwise", "reference kernel"] * 4)]
    data = {"model": "m.kiln", "session": {"backend": backend, "threads": 2}, "latencies_ms": lat,
            "latency_ms": {"p50": sorted(lat)[20]}, "layers": layers, "layer_sum_ms": sum(l["median_ms"] for l in layers)}
    with open(path, "w") as f:
        json.dump(data, f)


def is_png(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 10_000


def test_plot_bench_draws_one_and_several_runs(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    bench_json(a, 2.0)
    bench_json(b, 3.5)
    for inputs, out in (([a], tmp_path / "one.png"), ([a, b], tmp_path / "two.png")):
        r = subprocess.run([sys.executable, PLOT_BENCH, *map(str, inputs), str(out), "--top", "10"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert is_png(out)


def test_plot_bench_refuses_other_json(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": []}')
    r = subprocess.run([sys.executable, PLOT_BENCH, str(bad), str(tmp_path / "x.png")], capture_output=True, text=True)
    assert r.returncode != 0
    assert "not a `kiln bench --json` file" in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_bench_vs_ort_plot(tmp_path):
    spec = importlib.util.spec_from_file_location("bench_vs_ort", os.path.join(ROOT, "scripts", "bench_vs_ort.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = []
    for model in ("mobilenet_v2_1.0_224_qdq", "resnet18"):
        for threads in (1, 2):
            k = [1.0 + 0.01 * i for i in range(30)]
            o = [2.0 + 0.02 * i for i in range(30)]
            f = [1.5 + 0.01 * i for i in range(30)] if "qdq" in model else []
            rows.append({"model": model, "threads": threads, "backend": "cpu", "runs": 30, "rounds": 3,
                         "ort_version": "1.0", "kiln_latencies_ms": k, "ort_latencies_ms": o,
                         "ort_float_latencies_ms": f, "ratio": 0.5, "ratio_to_float": 0.66 if f else None})
    out = tmp_path / "ratios.png"
    module.plot(rows, str(out))
    assert is_png(out)


def compare_json(path, with_propagation=True):
    rows = ["node_index,node,op,tensor,bitwise_equal,max_abs,rel"]
    for i in range(30):
        equal = i < 3
        rows.append(f"{i},Conv_{i},{'Conv' if i % 3 else 'Add'},t{i},{1 if equal else 0},"
                    f"{0 if equal else 1e-7 * (i + 1)},{0 if equal else 1e-7 * (i + 1)}")
    data = {"model": "m.kiln", "configurations": [{"index": 0}, {"index": 1}],
            "classes": [{"configurations": ["cpu isa=avx2 threads=1 algorithm=heuristic"]},
                        {"configurations": ["cpu isa=avx512 threads=1 algorithm=heuristic", "cpu isa=avx512 threads=2"]}],
            "propagation": {"classes": [0, 1], "csv": "\n".join(rows) + "\n"} if with_propagation else None}
    with open(path, "w") as f:
        json.dump(data, f)


def test_plot_bench_draws_a_compare_propagation_profile(tmp_path):
    report, out = tmp_path / "compare.json", tmp_path / "prop.png"
    compare_json(report)
    r = subprocess.run([sys.executable, PLOT_BENCH, "--deviation", str(report), str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert is_png(out)
    one_class = tmp_path / "one.json"
    compare_json(one_class, with_propagation=False)
    r = subprocess.run([sys.executable, PLOT_BENCH, "--deviation", str(one_class), str(tmp_path / "none.png")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "nothing propagates" in r.stderr
    bad = tmp_path / "bench.json"
    bench_json(bad, 2.0)
    r = subprocess.run([sys.executable, PLOT_BENCH, "--deviation", str(bad), str(tmp_path / "x.png")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "not a `kiln compare --json` report" in r.stderr
