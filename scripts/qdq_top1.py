#!/usr/bin/python3
"""Checks kiln quantize's int8 models against float, and their QDQ ONNX files in ONNX Runtime.

  /usr/bin/python3 scripts/qdq_top1.py [MODEL.onnx ...] [--images DIR] [--methods minmax,entropy]
      [--kiln build/kiln] [--ort-dir DIR] [--work DIR] [--json FILE] [--min-agree N]

For each float model (default: the four ImageNet models of issue 12 in
$KILN_SHARED_DIR/models, else ../shared/models) and each calibration method:

  1. `kiln classify --save-inputs` writes every photo as the model's
     preprocessed input tensor (.npy), so both engines see the same numbers;
  2. `kiln quantize --calibration IMAGES --per-channel --method M --qdq-onnx`
     writes the int8 .kiln and the same quantization as an ONNX QDQ file;
  3. `kiln run` runs the float model, the int8 .kiln and the QDQ .onnx (read
     back by Kiln's importer) on every input; scripts/ort_run.mjs runs the
     QDQ .onnx in ONNX Runtime.

The table gives per model and method: how many photos keep the float top-1
with Kiln's int8 model and with ONNX Runtime on the QDQ file, whether Kiln
gives the same bits from the .onnx as from the .kiln, and the largest
difference between Kiln's and ONNX Runtime's int8 outputs in quantization steps
of the output (the output's scale, from the quantize report). When a float
Softmax follows the last int8 tensor, the difference is that of the logits,
from the log-probabilities, in the logits' steps; when no int8 tensor reaches
the output, it is in real units. The two engines requantize with
different arithmetic (Kiln: one float32 multiplier per channel; ONNX
Runtime: its own fixed-point rule), so a step or two is expected.

Exit status: 0 when every row keeps the float top-1 on at least --min-agree
photos (default: all but one) with Kiln and with ONNX Runtime, and Kiln's
.onnx and .kiln agree bit for bit; 1 otherwise; 2 for bad arguments; 3 when
onnxruntime-node is not installed and the Kiln columns pass (they are still
printed and checked).
Standard library and numpy only.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_RUN = os.path.join(REPO, "scripts", "ort_run.mjs")
DEFAULT_MODELS = [
    "squeezenet1.1/squeezenet1.1.onnx",
    "squeezenet1.0/squeezenet1.0_fp32.onnx",
    "mobilenet_v1_0.75_192/mobilenet_v1_0.75_192_dequant.onnx",
    "mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_dequant.onnx",
]
ORT_MISSING = 3  # ort_run.mjs's exit status when onnxruntime-node is not installed


class CheckError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-5:])
        raise CheckError(f"{' '.join(cmd[:3])} ... failed ({p.returncode}): {tail}")
    return p.stdout


def kiln_outputs(kiln, model, inputs, out_dir):
    """First output of `kiln run` per input file (one process per input)."""
    result = {}
    for x in inputs:
        d = os.path.join(out_dir, os.path.basename(x))
        run([kiln, "run", "-q", model, "--input", x, "--output-dir", d])
        files = sorted(glob.glob(os.path.join(d, "*.npy")))
        if len(files) != 1:
            raise CheckError(f"{model}: expected one output, got {len(files)}")
        result[x] = np.load(files[0]).astype(np.float32)
    return result


def ort_outputs(ort_dir, model, inputs, out_dir):
    cmd = ["node", ORT_RUN, model, "--output-dir", out_dir] + inputs
    if ort_dir:
        cmd += ["--ort-dir", ort_dir]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
    except OSError:
        return None  # no node
    if p.returncode == ORT_MISSING:
        return None
    if p.returncode != 0:
        raise CheckError(f"ort_run.mjs on {model} failed: {p.stderr.strip()}")
    return {x: np.load(os.path.join(out_dir, os.path.basename(x))) for x in inputs}


def output_diff(a, b, softmax):
    """Largest difference of two runs' outputs; of their logits when the outputs are a Softmax's.

    log p = z - log Σ exp z: the logits up to one shift per row, which is the
    median of the differences (most logits of the two runs agree exactly).
    """
    if not softmax:
        return float(np.max(np.abs(a - b)))
    tiny = np.finfo(np.float32).tiny
    d = np.log(np.maximum(a.astype(np.float64), tiny)) - np.log(np.maximum(b.astype(np.float64), tiny))
    d = d.reshape(-1, a.shape[-1] if a.ndim else 1)
    return float(np.max(np.abs(d - np.median(d, axis=1, keepdims=True))))


def top1(v):
    return int(np.argmax(v.reshape(-1)))


def check_model(args, onnx, work):
    name = os.path.splitext(os.path.basename(onnx))[0]
    mdir = os.path.join(work, name)
    os.makedirs(mdir, exist_ok=True)
    images = sorted(f for f in glob.glob(os.path.join(args.images, "*"))
                    if f.lower().endswith((".jpg", ".jpeg", ".png", ".bmp")))
    in_dir = os.path.join(mdir, "inputs")
    run([args.kiln, "classify", "-q", onnx, "--top", "1", "--save-inputs", in_dir] + images)
    inputs = [os.path.join(in_dir, os.path.basename(i) + ".npy") for i in images]
    float_kiln = os.path.join(mdir, "float.kiln")
    run([args.kiln, "convert", onnx, float_kiln])
    ref = kiln_outputs(args.kiln, float_kiln, inputs, os.path.join(mdir, "float"))
    rows = []
    for method in args.methods:
        log(f"{name}: {method}")
        q_kiln = os.path.join(mdir, f"{method}.kiln")
        q_onnx = os.path.join(mdir, f"{method}_qdq.onnx")
        report = os.path.join(mdir, f"{method}.json")
        run([args.kiln, "quantize", "-q", onnx, q_kiln, "--calibration", args.images, "--per-channel",
             "--method", method, "--qdq-onnx", q_onnx, "--report", report])
        with open(report) as f:
            out0 = json.load(f)["outputs"][0]
        scale, softmax = out0["scale"], out0["softmax"]
        k = kiln_outputs(args.kiln, q_kiln, inputs, os.path.join(mdir, method))
        k_onnx = kiln_outputs(args.kiln, q_onnx, inputs, os.path.join(mdir, method + "_onnx"))
        o = ort_outputs(args.ort_dir, q_onnx, inputs, os.path.join(mdir, method + "_ort"))
        row = {
            "model": name, "method": method, "photos": len(inputs),
            "kiln_agree": sum(top1(k[x]) == top1(ref[x]) for x in inputs),
            "kiln_onnx_same_bits": all(np.array_equal(k[x], k_onnx[x]) for x in inputs),
            "ort_agree": None, "kiln_vs_ort_steps": None, "kiln_vs_ort_abs": None, "output_scale": scale,
            "steps_of": None if not scale else ("logits (before Softmax)" if softmax else "output"),
        }
        if o is not None:
            row["ort_agree"] = sum(top1(o[x]) == top1(ref[x]) for x in inputs)
            diff = max(output_diff(k[x], o[x].reshape(k[x].shape), softmax) for x in inputs)
            row["kiln_vs_ort_abs"] = diff
            if scale:
                row["kiln_vs_ort_steps"] = diff / scale
        rows.append(row)
    return rows


def print_table(rows):
    head = ["model", "method", "Kiln int8 = float", "ORT QDQ = float", "Kiln .onnx = .kiln", "Kiln vs ORT"]
    lines = [head]
    for r in rows:
        n = r["photos"]
        ort = "n/a (no ORT)" if r["ort_agree"] is None else f"{r['ort_agree']}/{n}"
        if r["kiln_vs_ort_steps"] is not None:
            d = f"{r['kiln_vs_ort_steps']:.2f} steps" + (" of logits" if r["steps_of"].startswith("logits") else "")
        elif r["kiln_vs_ort_abs"] is not None:
            d = f"{r['kiln_vs_ort_abs']:.3g} (float output)"
        else:
            d = "n/a"
        lines.append([r["model"], r["method"], f"{r['kiln_agree']}/{n}", ort,
                      "bitwise" if r["kiln_onnx_same_bits"] else "DIFFERENT", d])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for i, line in enumerate(lines):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main():
    shared = os.environ.get("KILN_SHARED_DIR", os.path.join(os.path.dirname(REPO), "shared"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="*", help="float .onnx (or .kiln) models")
    ap.add_argument("--images", default=os.path.join(shared, "images"))
    ap.add_argument("--methods", default="minmax,entropy", help="comma-separated: minmax, percentile, entropy")
    ap.add_argument("--kiln", default=os.path.join(REPO, "build", "kiln"))
    ap.add_argument("--ort-dir", default=None, help="where onnxruntime-node is installed (ort_run.mjs's default)")
    ap.add_argument("--work", default=None, help="folder for the files made (default: a temporary one)")
    ap.add_argument("--json", default=None, help="write the rows as JSON")
    ap.add_argument("--min-agree", type=int, default=None, help="photos that must keep the float top-1 (default: all but one)")
    args = ap.parse_args()
    args.methods = [m for m in args.methods.split(",") if m]
    if not args.models:
        args.models = [os.path.join(shared, "models", m) for m in DEFAULT_MODELS]
    for m in args.models + [args.kiln, args.images]:
        if not os.path.exists(m):
            log(f"qdq_top1: {m}: no such file or folder")
            return 2
    with tempfile.TemporaryDirectory(prefix="kiln_qdq_top1_") as tmp:
        work = args.work or tmp
        rows = []
        try:
            for m in args.models:
                rows += check_model(args, m, work)
        except CheckError as e:
            log(f"qdq_top1: error: {e}")
            return 1
    print_table(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    ok = True
    for r in rows:
        need = r["photos"] - 1 if args.min_agree is None else args.min_agree
        ok = ok and r["kiln_agree"] >= need and r["kiln_onnx_same_bits"]
        ok = ok and (r["ort_agree"] is None or r["ort_agree"] >= need)
    if not ok:
        return 1
    if any(r["ort_agree"] is None for r in rows):
        log("qdq_top1: onnxruntime-node is not installed; install it with "
            "'npm install --ignore-scripts --prefix ~/.cache/kiln/ort onnxruntime-node'")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
