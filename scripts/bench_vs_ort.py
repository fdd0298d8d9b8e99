#!/usr/bin/python3
"""Compares Kiln with ONNX Runtime on the same ONNX models: latency and peak memory.

  /usr/bin/python3 scripts/bench_vs_ort.py MODEL.onnx [MODEL.onnx ...]
      [--threads 1,2] [--runs 30] [--rounds 5] [--warmup 5] [--backend cpu]
      [--kiln M.kiln ...] [--kiln-bin build/kiln] [--kiln-args "--isa avx2"]
      [--json table.json] [--ort-dir DIR] [--ort-version X.Y.Z]
      [--float-model F.onnx ...] [--plot ratios.png] [--cpu-level avx2]

For each model and thread count the two engines take turns: `kiln bench --runs
R/rounds --json` in one process, then scripts/ort_bench.mjs (onnxruntime-node)
with the same count in another, repeated --rounds times, so that a slow spell
of a shared machine hits both. Each process warms up first. The latencies of
all rounds are pooled per engine; the peak RSS is the largest of the engine's
processes (both read getrusage's ru_maxrss; ORT's includes the Node.js runtime,
whose own size is shown below the table).

--float-model gives, per model (same order), the float original of a
quantized model (e.g. mobilenet_v2_1.0_224_dequant.onnx beside the _qdq.onnx):
ONNX Runtime then also runs it in every round, between the two engines' runs
of the quantized file, and the table adds its p50 and Kiln's ratio to it —
the question a user of int8 asks: is it faster than the float model?

--plot FILE.png draws the table (matplotlib, Debian's python3-matplotlib): the
p50 latency of each engine per model and thread count, with the p10–p90 range
as error bars, and Kiln's ratio to each peer (below 1: Kiln is faster).

Each ONNX model is converted with `kiln convert` into a temporary .kiln file,
unless --kiln gives the converted files (one per model, in the same order).
onnxruntime-node is installed from npm into $KILN_ORT_DIR (default
~/.cache/kiln/ort) when it is missing, with --ignore-scripts: its post-install
step downloads optional GPU libraries and fails offline, and the package already
ships the CPU library.

--cpu-level avx2 runs both engines (and Node.js) with scripts/cpuid_mask.c
preloaded: CPUID then hides AVX-512, AVX-VNNI and AMX, so that ONNX Runtime
takes its AVX2 kernels as Kiln does (Kiln's own --isa cannot reach a peer).
It measures an AVX2 machine's code paths on an AVX-512 one, not an AVX2
machine's caches and clocks. The library is compiled with cc into
~/.cache/kiln/cpuid_mask/ and needs CPUID faulting (Linux x86-64; "cpuid_fault"
in /proc/cpuinfo); without it every engine run fails and says so.

Standard library only. Exit status: 0 when every model was measured, 1 when
one failed (the others are still measured), 2 for bad arguments.
"""
import argparse
import hashlib
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORT_BENCH = os.path.join(REPO, "scripts", "ort_bench.mjs")


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def quantile(values, q):
    """Linear interpolation between the nearest ranks (as kiln bench and ort_bench.mjs)."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def mib(kib):
    return "n/a" if kib is None or kib < 0 else f"{kib / 1024:.1f} MiB"


def run(cmd, what, with_stderr=False, env=None):
    """Runs cmd, returning stdout (and stderr with with_stderr); a failure raises BenchError with its stderr."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    except OSError as e:
        raise BenchError(f"{what}: cannot start {cmd[0]}: {e}")
    if p.returncode != 0:
        tail = (p.stderr or p.stdout).strip().splitlines()[-5:]
        raise BenchError(f"{what} failed (exit {p.returncode}): " + " | ".join(tail))
    return (p.stdout, p.stderr) if with_stderr else p.stdout


def ensure_ort(ort_dir, version):
    """Installs onnxruntime-node into ort_dir unless it is there; returns ort_dir."""
    if os.path.exists(os.path.join(ort_dir, "node_modules", "onnxruntime-node", "package.json")):
        return ort_dir
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm not found: install Node.js and npm (Debian: apt-get install nodejs npm)")
    os.makedirs(ort_dir, exist_ok=True)
    package = "onnxruntime-node" + (f"@{version}" if version else "")
    log(f"installing {package} into {ort_dir} (npm install --ignore-scripts)")
    run([npm, "install", "--ignore-scripts", "--no-audit", "--no-fund", "--prefix", ort_dir, package],
        "npm install " + package)
    return ort_dir


CPU_LEVELS = ("native", "avx2")


def cpu_level_env(level):
    """The environment that runs a program at `level`: None for native, else
    os.environ with scripts/cpuid_mask.c (compiled once per source version)
    preloaded."""
    if level == "native":
        return None
    src = os.path.join(REPO, "scripts", "cpuid_mask.c")
    with open(src, "rb") as f:
        digest = hashlib.sha1(f.read()).hexdigest()[:12]
    out_dir = os.path.join(os.path.expanduser("~"), ".cache", "kiln", "cpuid_mask")
    lib = os.path.join(out_dir, f"libcpuid_mask-{digest}.so")
    if not os.path.exists(lib):
        cc = shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            raise BenchError("--cpu-level: no C compiler (cc) to build scripts/cpuid_mask.c")
        os.makedirs(out_dir, exist_ok=True)
        run([cc, "-O2", "-shared", "-fPIC", src, "-o", lib + ".tmp", "-ldl"], "building scripts/cpuid_mask.c")
        os.replace(lib + ".tmp", lib)
    env = dict(os.environ)
    env["LD_PRELOAD"] = lib + (" " + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
    return env


def split_runs(total, rounds):
    """total runs over `rounds` rounds, as evenly as possible, each at least 1."""
    rounds = max(1, min(rounds, total))
    return [total // rounds + (1 if i < total % rounds else 0) for i in range(rounds)]


def kiln_bench(args, kiln_file, threads, runs, json_path):
    cmd = [args.kiln_bin, "bench", kiln_file, "--backend", args.backend, "--threads", str(threads),
           "--runs", str(runs), "--warmup", str(args.warmup), "--json", json_path] + shlex.split(args.kiln_args)
    run(cmd, f"kiln bench {os.path.basename(kiln_file)}", env=args.env)
    with open(json_path) as f:
        return json.load(f)


def ort_bench(args, onnx_file, threads, runs, shapes):
    cmd = [args.node, ORT_BENCH, onnx_file, "--threads", str(threads), "--runs", str(runs),
           "--warmup", str(args.warmup), "--ort-dir", args.ort_dir]
    for name, shape in shapes:
        cmd += ["--shape", f"{name}={'x'.join(str(d) for d in shape)}"]
    return json.loads(run(cmd, f"ort_bench {os.path.basename(onnx_file)}", env=args.env))


def measure(args, name, onnx_file, kiln_file, threads, tmp, float_file=None):
    """Alternates the engines over the rounds; returns one table row."""
    kiln_lat, ort_lat, kiln_rss, ort_rss, node_rss, float_lat = [], [], [], [], [], []
    shapes = None
    ort_version = None
    plan = split_runs(args.runs, args.rounds)
    for i, runs in enumerate(plan):
        log(f"  {name} threads {threads}: round {i + 1}/{len(plan)} ({runs} runs each)")
        k = kiln_bench(args, kiln_file, threads, runs, os.path.join(tmp, "kiln_bench.json"))
        kiln_lat += k["latencies_ms"]
        kiln_rss.append(k["memory"]["peak_rss_kib"])
        if shapes is None:  # ORT gets the very shapes Kiln ran (batch resolved by kiln convert)
            shapes = [(d["name"], d["shape"]) for d in k["inputs"]]
        o = ort_bench(args, onnx_file, threads, runs, shapes)
        ort_lat += o["latencies_ms"]
        ort_rss.append(o["peak_rss_kib"])
        node_rss.append(o["node_baseline_rss_kib"])
        ort_version = o["version"]
        if float_file:
            float_lat += ort_bench(args, float_file, threads, runs, shapes)["latencies_ms"]
    kiln_p50, ort_p50 = quantile(kiln_lat, 0.5), quantile(ort_lat, 0.5)
    float_p50 = quantile(float_lat, 0.5) if float_lat else None
    return {
        "float_model": os.path.basename(float_file) if float_file else None,
        "ort_float_p50_ms": float_p50,
        "ratio_to_float": kiln_p50 / float_p50 if float_p50 else None,
        "ort_float_latencies_ms": float_lat,
        "model": name,
        "threads": threads,
        "backend": args.backend,
        "runs": len(kiln_lat),
        "rounds": len(plan),
        "kiln_p50_ms": kiln_p50,
        "ort_p50_ms": ort_p50,
        "ratio": kiln_p50 / ort_p50 if ort_p50 > 0 else None,
        "kiln_p90_ms": quantile(kiln_lat, 0.9),
        "ort_p90_ms": quantile(ort_lat, 0.9),
        "kiln_peak_rss_kib": max(kiln_rss),
        "ort_peak_rss_kib": max(ort_rss),
        "node_baseline_rss_kib": max(node_rss),
        "ort_version": ort_version,
        "kiln_latencies_ms": kiln_lat,
        "ort_latencies_ms": ort_lat,
    }


def format_table(rows):
    with_float = any(r.get("ort_float_p50_ms") for r in rows)
    header = ["model", "threads", "Kiln p50 ms", "ORT p50 ms", "Kiln/ORT", "Kiln peak RSS", "ORT peak RSS"]
    if with_float:
        header[5:5] = ["ORT float p50 ms", "Kiln/ORT float"]
    body = []
    for r in rows:
        cells = [r["model"], str(r["threads"]), f"{r['kiln_p50_ms']:.2f}", f"{r['ort_p50_ms']:.2f}",
                 f"{r['ratio']:.2f}x" if r["ratio"] is not None else "n/a",
                 mib(r["kiln_peak_rss_kib"]), mib(r["ort_peak_rss_kib"])]
        if with_float:
            fp = r.get("ort_float_p50_ms")
            cells[5:5] = [f"{fp:.2f}" if fp else "-", f"{r['ratio_to_float']:.2f}x" if fp else "-"]
        body.append(cells)
    width = [max(len(x) for x in col) for col in zip(header, *body)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(cells, width))).rstrip()
    out = [line(header), line(["-" * w for w in width])] + [line(b) for b in body]
    return "\n".join(out)


def plot(rows, path):
    """p50 per engine (p10-p90 whiskers) and Kiln's ratios, one group per model and thread count."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def wrapped(name, width=18):
        lines, line = [], ""
        for part in name.split("_"):
            piece = part if not line else "_" + part
            if line and len(line) + len(piece) > width:
                lines.append(line + "_")
                line = part
            else:
                line += piece
        return "\n".join(lines + [line])

    labels = [f"{wrapped(r['model'])}\n{r['threads']} thread{'s' if r['threads'] > 1 else ''}" for r in rows]
    with_float = any(r.get("ort_float_latencies_ms") for r in rows)
    series = [("Kiln", "kiln_latencies_ms", "C0"), ("ONNX Runtime", "ort_latencies_ms", "C1")]
    if with_float:
        series.append(("ONNX Runtime, float model", "ort_float_latencies_ms", "C2"))
    fig, (ax_ms, ax_ratio) = plt.subplots(1, 2, figsize=(max(12, 2.6 * len(rows) + 4), 6))
    width = 0.8 / len(series)
    for k, (name, key, colour) in enumerate(series):
        xs, p50, lo, hi = [], [], [], []
        for i, r in enumerate(rows):
            lat = r.get(key) or []
            if not lat:
                continue
            m = quantile(lat, 0.5)
            xs.append(i + (k - (len(series) - 1) / 2) * width)
            p50.append(m)
            lo.append(m - quantile(lat, 0.1))
            hi.append(quantile(lat, 0.9) - m)
        ax_ms.bar(xs, p50, width, yerr=[lo, hi], capsize=3, color=colour, label=name)
        for x, m, up in zip(xs, p50, hi):
            ax_ms.text(x, m + up, f"{m:.2f}", ha="center", va="bottom", fontsize=7)
    ax_ms.set_xticks(range(len(rows)))
    ax_ms.set_xticklabels(labels, fontsize=8)
    ax_ms.set_ylabel("p50 latency (ms), whiskers p10–p90")
    ax_ms.set_title("latency per inference")
    ax_ms.legend(fontsize=8)

    ratios = [("Kiln / ONNX Runtime", "ratio", "C1")]
    if with_float:
        ratios.append(("Kiln / ONNX Runtime on the float model", "ratio_to_float", "C2"))
    width = 0.8 / len(ratios)
    for k, (name, key, colour) in enumerate(ratios):
        xs = [i + (k - (len(ratios) - 1) / 2) * width for i, r in enumerate(rows) if r.get(key)]
        vs = [r[key] for r in rows if r.get(key)]
        ax_ratio.bar(xs, vs, width, color=colour, label=name)
        for x, v in zip(xs, vs):
            ax_ratio.text(x, v, f"{v:.2f}x", ha="center", va="bottom", fontsize=8)
    ax_ratio.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ax_ratio.set_xticks(range(len(rows)))
    ax_ratio.set_xticklabels(labels, fontsize=8)
    ax_ratio.set_ylabel("Kiln's p50 / peer's p50 (below 1: Kiln faster)")
    ax_ratio.set_title("ratio")
    ax_ratio.legend(fontsize=8)
    r0 = rows[0]
    fig.suptitle(f"Kiln ({r0['backend']}) vs ONNX Runtime {r0.get('ort_version') or ''}: {r0['runs']} runs per engine "
                 f"in {r0['rounds']} alternating rounds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", metavar="MODEL.onnx", help="ONNX model(s) to compare")
    p.add_argument("--kiln", action="append", default=[], metavar="M.kiln",
                   help="already converted .kiln file, one per model in the same order (default: convert)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    p.add_argument("--runs", type=int, default=30, help="timed runs per engine in total (default 30)")
    p.add_argument("--rounds", type=int, default=5, help="rounds the runs are split into (default 5)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs at the start of each process (default 5)")
    p.add_argument("--backend", default="cpu", help="Kiln backend (default cpu)")
    p.add_argument("--kiln-bin", default=os.path.join(REPO, "build", "kiln"), help="kiln binary (default build/kiln)")
    p.add_argument("--kiln-args", default="", help="extra flags for kiln bench, e.g. \"--isa avx2\"")
    p.add_argument("--json", metavar="FILE", help="also write the table (with every latency) as JSON")
    p.add_argument("--ort-dir", default=os.environ.get("KILN_ORT_DIR") or
                   os.path.join(os.path.expanduser("~"), ".cache", "kiln", "ort"),
                   help="where onnxruntime-node is installed (default $KILN_ORT_DIR or ~/.cache/kiln/ort)")
    p.add_argument("--ort-version", default="", help="onnxruntime-node version to install (default: latest)")
    p.add_argument("--node", default="node", help="Node.js binary (default node)")
    p.add_argument("--plot", metavar="FILE.png", help="also draw the table (needs matplotlib)")
    p.add_argument("--cpu-level", choices=CPU_LEVELS, default="native",
                   help="run every engine as on a CPU with only this level (avx2: AVX-512 hidden by CPUID)")
    p.add_argument("--float-model", action="append", default=[], metavar="F.onnx",
                   help="float original of each (quantized) model, same order; ORT runs it in the same rounds")
    args = p.parse_args(argv)
    try:
        args.thread_list = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        p.error(f"--threads: '{args.threads}' is not a comma-separated list of numbers")
    if not args.thread_list or min(args.thread_list) < 1:
        p.error("--threads needs thread counts >= 1")
    if args.runs < 1 or args.rounds < 1 or args.warmup < 0:
        p.error("--runs and --rounds must be >= 1, --warmup >= 0")
    if args.float_model and len(args.float_model) != len(args.models):
        p.error(f"--float-model given {len(args.float_model)} times for {len(args.models)} models (one per model)")
    if args.kiln and len(args.kiln) != len(args.models):
        p.error(f"--kiln given {len(args.kiln)} times for {len(args.models)} models (one per model)")
    return args


def main(argv):
    args = parse_args(argv)
    if not (os.path.isfile(args.kiln_bin) and os.access(args.kiln_bin, os.X_OK)):
        log(f"bench_vs_ort: error: {args.kiln_bin}: no kiln binary there (build it, or pass --kiln-bin)")
        return 1
    try:
        ensure_ort(args.ort_dir, args.ort_version)
        args.env = cpu_level_env(args.cpu_level)
    except BenchError as e:
        log(f"bench_vs_ort: error: {e}")
        return 1

    rows, failed = [], 0
    with tempfile.TemporaryDirectory(prefix="kiln_vs_ort_") as tmp:
        for i, onnx_file in enumerate(args.models):
            name = os.path.splitext(os.path.basename(onnx_file))[0]
            try:
                if not os.path.isfile(onnx_file):
                    raise BenchError(f"{onnx_file}: no such file")
                if args.kiln:
                    kiln_file = args.kiln[i]
                else:
                    kiln_file = os.path.join(tmp, f"{i}_{name}.kiln")
                    log(f"converting {onnx_file}")
                    run([args.kiln_bin, "convert", onnx_file, kiln_file], f"kiln convert {onnx_file}")
                for threads in args.thread_list:
                    float_file = args.float_model[i] if args.float_model else None
                    if float_file and not os.path.isfile(float_file):
                        raise BenchError(f"{float_file}: no such file")
                    rows.append(measure(args, name, onnx_file, kiln_file, threads, tmp, float_file))
            except BenchError as e:
                log(f"bench_vs_ort: error: {e}")
                failed += 1

    if rows:
        print(format_table(rows))
        r0 = rows[0]
        plan = split_runs(args.runs, args.rounds)
        print(f"\nKiln backend '{args.backend}' vs ONNX Runtime {r0['ort_version']} (onnxruntime-node, "
              f"graph optimisation all, sequential, inter-op threads 1).")
        if args.cpu_level != "native":
            print(f"Both engines ran with CPUID hiding every level above {args.cpu_level} (scripts/cpuid_mask.c).")
        rounds = f"{len(plan)} alternating rounds" if len(plan) > 1 else "1 round"
        print(f"p50 over {sum(plan)} runs per engine in {rounds}, each process after "
              f"{args.warmup} warmup runs. Peak RSS: ru_maxrss of each engine's own process; ORT's includes "
              f"the Node.js runtime ({mib(max(r['node_baseline_rss_kib'] for r in rows))} before loading ORT).")
        for r in rows:
            if r.get("float_model") and r["threads"] == rows[0]["threads"]:
                print(f"ORT float: ONNX Runtime on {r['float_model']} (the float original of {r['model']}), "
                      f"in the same rounds.")
    if args.plot and rows:
        try:
            plot(rows, args.plot)
            log(f"wrote {args.plot}")
        except ImportError:
            log("bench_vs_ort: --plot needs matplotlib (Debian: apt-get install python3-matplotlib)")
            failed += 1
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"backend": args.backend, "runs": args.runs, "rounds": args.rounds, "warmup": args.warmup,
                       "rows": rows}, f, indent=2)
            f.write("\n")
        log(f"wrote {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
