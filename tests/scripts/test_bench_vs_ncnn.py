"""scripts/bench_vs_ncnn.py end to end, with stand-ins for kiln and benchncnn
(ncnn is built outside the repository, so CI has none): the rounds alternate,
the medians and the ratio come from what the tools printed, and a benchncnn
that could not load its model is an error, not a number."""
import json
import os
import stat
import subprocess
import sys

ROOT = os.environ.get("KILN_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SCRIPT = os.path.join(ROOT, "scripts", "bench_vs_ncnn.py")


def write_tool(path, body):
    path.write_text("#!" + sys.executable + "\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def stand_ins(tmp_path, ncnn_line):
    calls = tmp_path / "calls.txt"
    # kiln bench MODEL ... --json F: p50 from a counter, so the rounds differ (10, 11, 12, ...).
    kiln = write_tool(tmp_path / "kiln", f"""
import json, sys
calls = open({str(calls)!r}, "a+"); calls.seek(0); n = sum(l.startswith("kiln") for l in calls.read().splitlines())
calls.write("kiln\\n")
out = sys.argv[sys.argv.index("--json") + 1]
json.dump({{"latency_ms": {{"p50": 10.0 + n}}}}, open(out, "w"))
""")
    ncnn = write_tool(tmp_path / "benchncnn", f"""
import sys
open({str(calls)!r}, "a").write("ncnn " + " ".join(sys.argv[1:]) + "\\n")
print({ncnn_line!r}, file=sys.stderr)
""")
    param = tmp_path / "m.param"
    param.write_text("7767517\n2 2\nInput data 0 1 data 0=224 1=224 2=3\nSoftmax prob 1 1 data prob\n")
    return kiln, ncnn, str(param), calls


def run_script(tmp_path, ncnn_line, *extra):
    kiln, ncnn, param, calls = stand_ins(tmp_path, ncnn_line)
    out_json = tmp_path / "table.json"
    model = tmp_path / "model.onnx"
    model.write_bytes(b"")  # only its name reaches the stand-in kiln
    p = subprocess.run([sys.executable, SCRIPT, f"{model}={param}", "--kiln-bin", kiln, "--benchncnn", ncnn,
                        "--threads", "2", "--rounds", "3", "--runs", "4", "--json", str(out_json), *extra],
                       capture_output=True, text=True)
    return p, out_json, calls


def test_medians_ratio_and_alternation(tmp_path):
    p, out_json, calls = run_script(tmp_path, "m  min =   19.00  max =   21.00  avg =   20.00")
    assert p.returncode == 0, p.stderr
    (row,) = json.loads(out_json.read_text())["rows"]
    assert row["threads"] == 2 and row["ncnn_shape"] == [224, 224, 3]
    assert row["ncnn_avg_ms"] == 20.0 and row["ncnn_min_ms"] == 19.0
    # Three Kiln rounds gave 10, 11, 12 ms in some order: the median is 11.
    assert sorted(row["kiln_p50_per_round_ms"]) == [10.0, 11.0, 12.0] and row["kiln_p50_ms"] == 11.0
    assert abs(row["ratio"] - 11.0 / 20.0) < 1e-9
    order = [l.split()[0] for l in calls.read_text().splitlines()]
    assert order == ["kiln", "ncnn", "ncnn", "kiln", "kiln", "ncnn"], order
    ncnn_args = [l for l in calls.read_text().splitlines() if l.startswith("ncnn")][0]
    assert "param=" in ncnn_args and "shape=[224,224,3]" in ncnn_args.replace(" ", ""), ncnn_args
    assert "0.55x" in p.stdout


def test_a_model_that_did_not_load_is_an_error(tmp_path):
    p, _, _ = run_script(tmp_path, "fopen m.bin failed\nm  min =   0.01  max =   0.02  avg =   0.01")
    assert p.returncode != 0
    assert "did not load cleanly" in p.stderr
