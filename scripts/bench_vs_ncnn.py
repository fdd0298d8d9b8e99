#!/usr/bin/python3
"""Compares Kiln's CPU latency with Tencent ncnn's (benchncnn) on the same networks.

  /usr/bin/python3 scripts/bench_vs_ncnn.py MODEL.onnx=NCNN.param [...]
      [--kiln-model M.onnx --ncnn-param X.param ...] [--threads 1,2]
      [--rounds 5] [--runs 30] [--warmup 5] [--benchncnn PATH]
      [--kiln-bin build/kiln] [--kiln-args "--isa avx2"] [--ncnn-src DIR]
      [--ncnn-shape 224,224,3] [--json FILE] [--cpu-level avx2]

Each pair is a Kiln model (.onnx or .kiln) and the same network converted to
ncnn (.param). For each pair and thread count the engines take turns for
--rounds rounds (the order flips every round, so a slow spell of a shared
machine hits both): `kiln bench MODEL --threads T --runs R --warmup W --json F -q`
and `benchncnn R T 0 -1 0 param=X.param shape=[W,H,C]` (loop count R, threads
T, powersave 0, no GPU, no cooling down; W,H,C from the 0=/1=/2= shape hints
of the .param's Input layer, or --ncnn-shape). Per round we keep Kiln's p50
(latency_ms.p50 of its JSON) and ncnn's avg and min (benchncnn prints only
min/max/avg); the table shows the median over the rounds of each.

What benchncnn does, so the numbers are read fairly: 8 untimed warmup runs
(fixed), zero weights (it never reads the .bin; timing does not depend on
them), input filled with 0.01, pooled allocators, fp16 storage allowed (on x86
that only stores InnerProduct weights as fp16; convolutions stay fp32).

ncnn is built outside this repository and nothing of it is committed here;
this script only calls its binaries. In brief:
  git clone https://github.com/Tencent/ncnn SRC   (no submodules needed)
  cmake -G Ninja -S SRC -B BUILD -DCMAKE_BUILD_TYPE=Release -DNCNN_VULKAN=OFF \\
        -DNCNN_BUILD_BENCHMARK=ON -DNCNN_BUILD_TOOLS=ON -DNCNN_BUILD_EXAMPLES=OFF \\
        -DNCNN_BUILD_TESTS=OFF && ninja -C BUILD benchncnn ncnnoptimize
  cd SRC/tools/onnx && protoc --cpp_out=. onnx.proto && \\
        g++ -O2 onnx2ncnn.cpp onnx.pb.cc -lprotobuf -o onnx2ncnn
  onnx2ncnn m.onnx m.param m.bin; add `0=224 1=224 2=3` (W H C) to the Input
  line of m.param; ncnnoptimize m.param m.bin m.opt.param m.opt.bin 0
benchncnn is then BUILD/benchmark/benchncnn. x86 builds dispatch at run time
to the best ISA the CPU has (AVX2, AVX-512, ...).

--cpu-level avx2 runs both engines with AVX-512 hidden by CPUID
(scripts/cpuid_mask.c, see bench_vs_ort.py), so that ncnn's run-time dispatch
takes its AVX2 kernels.

Standard library only. Exit status: 0 when every pair was measured, 1 when one
failed (the others are still measured), 2 for bad arguments.
"""
import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from bench_vs_ort import CPU_LEVELS, BenchError, cpu_level_env, log, run  # noqa: E402  (one way to run a tool and report its failure)
NCNN_LINE = re.compile(r"min =\s*([0-9.]+)\s+max =\s*([0-9.]+)\s+avg =\s*([0-9.]+)")


def kiln_round(args, model, threads, json_path):
    """One `kiln bench` process; returns its JSON."""
    cmd = [args.kiln_bin, "bench", model, "--threads", str(threads), "--runs", str(args.runs),
           "--warmup", str(args.warmup), "--json", json_path, "-q"] + shlex.split(args.kiln_args)
    run(cmd, f"kiln bench {os.path.basename(model)}", env=args.env)
    with open(json_path) as f:
        return json.load(f)


def ncnn_round(args, param, threads, shape):
    """One benchncnn process; returns (avg_ms, min_ms)."""
    cmd = [args.benchncnn, str(args.runs), str(threads), "0", "-1", "0",
           f"param={param}", "shape=[" + ",".join(str(d) for d in shape) + "]"]
    _, err = run(cmd, f"benchncnn {os.path.basename(param)}", with_stderr=True, env=args.env)
    m = NCNN_LINE.search(err)
    if m is None:
        tail = err.strip().splitlines()[-3:]
        raise BenchError(f"benchncnn {param}: no 'min = .. max = .. avg = ..' line in its output: "
                         + " | ".join(tail))
    if re.search(r"fopen .* failed|network graph not ready|find_blob_index_by_name .* failed|layer .* not exists",
                 err):
        raise BenchError(f"benchncnn {param}: the model did not load cleanly: "
                         + " | ".join(err.strip().splitlines()[-4:]))
    return float(m.group(3)), float(m.group(1))


def ncnn_shape(args, param):
    """benchncnn's shape=[w,h,c]: --ncnn-shape, else the 0=w 1=h 2=c hints of the .param's Input layer."""
    if args.ncnn_shape:
        return args.ncnn_shape
    with open(param) as f:
        for line in f:
            if line.startswith("Input"):
                hints = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
                dims = [int(hints[k]) for k in ("0", "1", "2") if k in hints]
                if dims:
                    return dims
                break
    raise BenchError(f"{param}: its Input layer has no shape hints (add 0=W 1=H 2=C there, "
                     "or pass --ncnn-shape W,H,C)")


def measure(args, name, model, param, threads, tmp):
    shape = ncnn_shape(args, param)
    kiln_p50, ncnn_avg, ncnn_min = [], [], []
    for i in range(args.rounds):
        log(f"  {name} threads {threads}: round {i + 1}/{args.rounds}")
        for engine in ("kiln", "ncnn") if i % 2 == 0 else ("ncnn", "kiln"):
            if engine == "kiln":
                k = kiln_round(args, model, threads, os.path.join(tmp, "kiln.json"))
                kiln_p50.append(k["latency_ms"]["p50"])
            else:
                avg, mn = ncnn_round(args, param, threads, shape)
                ncnn_avg.append(avg)
                ncnn_min.append(mn)
    k, n = statistics.median(kiln_p50), statistics.median(ncnn_avg)
    return {"model": name, "threads": threads, "kiln_p50_ms": k, "ncnn_avg_ms": n,
            "ncnn_min_ms": statistics.median(ncnn_min), "ratio": k / n if n > 0 else None,
            "ncnn_shape": shape, "kiln_p50_per_round_ms": kiln_p50, "ncnn_avg_per_round_ms": ncnn_avg,
            "ncnn_min_per_round_ms": ncnn_min}


def format_table(rows):
    header = ["model", "threads", "Kiln p50 ms", "ncnn avg ms", "ncnn min ms", "Kiln/ncnn"]
    body = [[r["model"], str(r["threads"]), f"{r['kiln_p50_ms']:.2f}", f"{r['ncnn_avg_ms']:.2f}",
             f"{r['ncnn_min_ms']:.2f}", f"{r['ratio']:.2f}x" if r["ratio"] else "n/a"] for r in rows]
    width = [max(len(x) for x in col) for col in zip(header, *body)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, width))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in width])] + [line(b) for b in body])


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for l in f:
                if l.startswith("model name"):
                    return l.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def ncnn_commit(src):
    try:
        out = subprocess.run(["git", "-C", src, "log", "-1", "--format=%H (%cs)"],
                             capture_output=True, text=True)
        return out.stdout.strip() or f"unknown ({out.stderr.strip()})"
    except OSError as e:
        return f"unknown ({e})"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("pairs", nargs="*", metavar="MODEL=NCNN.param",
                   help="a Kiln model (.onnx or .kiln) and its ncnn conversion, joined by '='")
    p.add_argument("--kiln-model", action="append", default=[], metavar="M.onnx|M.kiln",
                   help="Kiln model; pairs with the --ncnn-param of the same position")
    p.add_argument("--ncnn-param", action="append", default=[], metavar="X.param")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds per model and thread count (default 5)")
    p.add_argument("--runs", type=int, default=30, help="timed runs per engine per round (default 30)")
    p.add_argument("--warmup", type=int, default=5, help="Kiln's untimed runs per round (benchncnn: fixed 8)")
    p.add_argument("--benchncnn", default="/work/ncnn/build/benchmark/benchncnn", help="benchncnn binary")
    p.add_argument("--kiln-bin", default=os.path.join(REPO, "build", "kiln"), help="kiln binary (default build/kiln)")
    p.add_argument("--kiln-args", default="", help="extra flags for kiln bench, e.g. \"--isa avx2\"")
    p.add_argument("--ncnn-src", metavar="DIR", help="ncnn source checkout, to print its git commit")
    p.add_argument("--ncnn-shape", metavar="W,H,C", help="benchncnn input shape (default: the .param's Input hints)")
    p.add_argument("--json", metavar="FILE", help="also write the table (with per-round values) as JSON")
    p.add_argument("--cpu-level", choices=CPU_LEVELS, default="native",
                   help="run both engines as on a CPU with only this level (avx2: AVX-512 hidden by CPUID)")
    args = p.parse_args(argv)
    if len(args.kiln_model) != len(args.ncnn_param):
        p.error(f"--kiln-model given {len(args.kiln_model)} times, --ncnn-param {len(args.ncnn_param)} times")
    args.pair_list = list(zip(args.kiln_model, args.ncnn_param))
    for s in args.pairs:
        model, eq, param = s.rpartition("=")
        if not eq or not model or not param:
            p.error(f"'{s}' is not MODEL=NCNN.param")
        args.pair_list.append((model, param))
    if not args.pair_list:
        p.error("no models: give MODEL=NCNN.param or --kiln-model/--ncnn-param")
    try:
        args.thread_list = [int(t) for t in args.threads.split(",") if t.strip()]
        args.ncnn_shape = [int(d) for d in args.ncnn_shape.split(",")] if args.ncnn_shape else None
    except ValueError:
        p.error("--threads and --ncnn-shape take comma-separated integers")
    if not args.thread_list or min(args.thread_list) < 1:
        p.error("--threads needs thread counts >= 1")
    if args.runs < 1 or args.rounds < 1 or args.warmup < 0:
        p.error("--runs and --rounds must be >= 1, --warmup >= 0")
    return args


def main(argv):
    args = parse_args(argv)
    for path, what in ((args.kiln_bin, "kiln binary (build Kiln, or pass --kiln-bin)"),
                       (args.benchncnn, "benchncnn binary (build ncnn with -DNCNN_BUILD_BENCHMARK=ON "
                                        "outside the repo, see --help, or pass --benchncnn)")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            log(f"bench_vs_ncnn: error: {path}: no {what}")
            return 1
    try:
        args.env = cpu_level_env(args.cpu_level)
    except BenchError as e:
        log(f"bench_vs_ncnn: error: {e}")
        return 1
    rows, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="kiln_vs_ncnn_") as tmp:
        for model, param in args.pair_list:
            name = re.sub(r"(\.opt)?\.param$", "", os.path.basename(param))
            try:
                for f in (model, param):
                    if not os.path.isfile(f):
                        raise BenchError(f"{f}: no such file")
                for threads in args.thread_list:
                    rows.append(measure(args, name, model, param, threads, tmp))
            except BenchError as e:
                log(f"bench_vs_ncnn: error: {e}")
                failed += 1
    if rows:
        print(format_table(rows))
        print(f"\nCPU: {cpu_model()}")
        if args.ncnn_src:
            print(f"ncnn: {ncnn_commit(args.ncnn_src)}")
        if args.cpu_level != "native":
            print(f"Both engines ran with CPUID hiding every level above {args.cpu_level} (scripts/cpuid_mask.c).")
        print(f"Median over {args.rounds} alternating round(s) of {args.runs} runs per engine: Kiln's p50 "
              f"(after {args.warmup} warmup runs{', ' + args.kiln_args if args.kiln_args else ''}), benchncnn's "
              f"avg and min (after its 8 warmup runs). Model names are the .param files'.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"cpu": cpu_model(), "ncnn": ncnn_commit(args.ncnn_src) if args.ncnn_src else None,
                       "runs": args.runs, "rounds": args.rounds, "warmup": args.warmup,
                       "kiln_args": args.kiln_args, "cpu_level": args.cpu_level, "rows": rows}, f, indent=2)
            f.write("\n")
        log(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
