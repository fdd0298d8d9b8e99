#!/usr/bin/python3
"""Draws a `kiln bench --json` result: the latency distribution and where the time goes.

  /usr/bin/python3 scripts/plot_bench.py bench.json out.png [--top 20] [--title TEXT]
  /usr/bin/python3 scripts/plot_bench.py a.json b.json ... out.png     # several runs side by side
  /usr/bin/python3 scripts/plot_bench.py --deviation compare.json out.png  # a `kiln compare --json` report

Left: a histogram of every timed run's latency with the p50, p90 and p99
marked (several files: one outline per file, same bins). Right: the `--top`
layers by median time, as horizontal bars coloured by what ran them (the
algorithm or kernel from the backend detail: winograd, im2col, fused chain,
int8 gemm, ...), labelled with their share of the summed layer times and their
GFLOP/s. With --deviation: the propagation profile of a `kiln compare`
report — the relative deviation of every node output between the two classes
furthest apart, along the graph, on a log scale, nodes whose outputs are
bitwise equal drawn at the bottom. Needs matplotlib (Debian: python3-matplotlib); exits 2 with a message
when it is missing or an input is not a `kiln bench --json` file.
"""
import argparse
import json
import os
import sys


def kind_of(detail):
    """The algorithm or kernel named by a layer's backend detail, for colouring."""
    d = (detail or "").strip()
    if not d:
        return "other"
    if d.startswith("fused"):
        return "fused chain"
    for stop in (" [", " (", " +"):
        if stop in d:
            d = d.split(stop)[0]
    return d


def load(path):
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"plot_bench: {path}: {e}")
    if "latencies_ms" not in data or "layers" not in data:
        raise SystemExit(f"plot_bench: {path}: not a `kiln bench --json` file (no latencies_ms / layers)")
    return data


def label_of(path, data):
    # The resolved backend and threads when the file has them ("auto" and 0 otherwise).
    s = data.get("session", {})
    threads = data.get("threads", s.get("threads"))
    threads = "all cores" if threads == 0 else f"{threads} thread{'s' if threads != 1 else ''}"
    return f"{os.path.basename(data.get('model', path))} · {data.get('backend', s.get('backend', '?'))} · {threads}"


def percentile(values, q):
    v = sorted(values)
    pos = q * (len(v) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def plot_deviation(path, output, title, plt):
    """The propagation profile of a `kiln compare --json` report."""
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"plot_bench: {path}: {e}")
    prop = data.get("propagation")
    if "classes" not in data or "configurations" not in data:
        raise SystemExit(f"plot_bench: {path} is not a `kiln compare --json` report")
    if not prop:
        raise SystemExit(f"plot_bench: {path}: one class only, nothing propagates")
    rows = [line.split(",") for line in prop["csv"].strip().split("\n")[1:]]
    # node_index,node,op,tensor,bitwise_equal,max_abs,rel (names carry no commas in practice; take fields from the ends)
    rel = [float(r[-1]) if r[-1] not in ("inf", "nan") else float("nan") for r in rows]
    equal = [r[-3] == "1" for r in rows]
    ops = [r[2] for r in rows]
    floor = min([v for v, e in zip(rel, equal) if not e and v > 0] or [1e-9]) / 10
    fig, ax = plt.subplots(figsize=(max(8, 0.12 * len(rows) + 3), 5))
    xs = list(range(len(rows)))
    ys = [floor if e or not v > 0 else v for v, e in zip(rel, equal)]
    ax.plot(xs, ys, color="C0", linewidth=1)
    kinds = sorted(set(ops))
    for i, k in enumerate(kinds):
        pts = [(x, y) for x, y, o in zip(xs, ys, ops) if o == k]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=14, color=f"C{(i + 1) % 10}", label=k, zorder=3)
    ax.axhline(1e-6, color="grey", linestyle="--", linewidth=0.8)
    ax.set_yscale("log")
    ax.set_xlabel("node output, in graph order")
    ax.set_ylabel("relative deviation max|a-b| / max|b|  (bitwise equal: bottom)")
    a, b = prop["classes"]
    def members(k):
        labels = data["classes"][k]["configurations"]
        return labels[0] + (f" (+{len(labels) - 1})" if len(labels) > 1 else "")
    ax.set_title(title or f"{os.path.basename(data.get('model', ''))}: class {a} [{members(a)}]\nvs class {b} [{members(b)}]",
                 fontsize=9)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    print(f"wrote {output}")
    return 0


def main(argv):
    if argv and argv[0] == "--deviation":
        p = argparse.ArgumentParser(description="Draws a `kiln compare --json` propagation profile")
        p.add_argument("report", metavar="compare.json")
        p.add_argument("output", metavar="out.png")
        p.add_argument("--title", default=None)
        args = p.parse_args(argv[1:])
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("plot_bench: matplotlib is missing (Debian: apt-get install python3-matplotlib)", file=sys.stderr)
            return 2
        return plot_deviation(args.report, args.output, args.title, plt)
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="bench.json", help="kiln bench --json output(s)")
    p.add_argument("output", metavar="out.png", help="picture to write (.png, .svg or .pdf)")
    p.add_argument("--top", type=int, default=20, help="layers to draw (default 20)")
    p.add_argument("--title", default=None, help="title (default: the model and session)")
    args = p.parse_args(argv)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_bench: matplotlib is missing (Debian: apt-get install python3-matplotlib)", file=sys.stderr)
        return 2
    runs = [(path, load(path)) for path in args.inputs]

    fig, (ax_lat, ax_layers) = plt.subplots(1, 2, figsize=(15, max(5.5, 0.32 * args.top + 1.5)),
                                            gridspec_kw={"width_ratios": [1, 1.5]})
    # ---- latency distribution
    all_lat = [x for _, d in runs for x in d["latencies_ms"]]
    lo, hi = min(all_lat), max(all_lat)
    # Long tails (a loaded machine) would squash the body: cut the axis at the p99 of all runs, say so.
    cut = percentile(all_lat, 0.99)
    bins = [lo + (min(hi, cut * 1.02) - lo) * i / 40 for i in range(41)]
    for i, (path, d) in enumerate(runs):
        lat = d["latencies_ms"]
        colour = f"C{i}"
        ax_lat.hist([min(x, bins[-1]) for x in lat], bins=bins, histtype="step" if len(runs) > 1 else "stepfilled",
                    alpha=0.9 if len(runs) > 1 else 0.6, color=colour, linewidth=1.6, label=label_of(path, d))
        for q, style in ((0.5, "-"), (0.9, "--"), (0.99, ":")):
            v = percentile(lat, q)
            ax_lat.axvline(min(v, bins[-1]), color=colour, linestyle=style, linewidth=1.2)
            if len(runs) == 1:
                ax_lat.text(min(v, bins[-1]), ax_lat.get_ylim()[1] * (0.95 - 0.08 * [0.5, 0.9, 0.99].index(q)),
                            f" p{int(q * 100)} {v:.2f} ms", color=colour, fontsize=9, va="top")
    ax_lat.set_xlabel("latency per inference (ms)" + (" — runs beyond the p99 of all runs drawn at the edge"
                                                      if hi > bins[-1] else ""))
    if bins[-1] > 8 * bins[0] > 0:
        ax_lat.set_xscale("log")  # a loaded machine's tail spans decades
    ax_lat.set_ylabel("runs")
    ax_lat.set_title("latency distribution (— p50, -- p90, ··· p99)")
    ax_lat.legend(fontsize=8, loc="upper right")

    # ---- per-layer time (the first file)
    path, d = runs[0]
    layers = sorted(d["layers"], key=lambda l: -l["median_ms"])[: args.top]
    layers.reverse()
    kinds = []
    for l in layers:
        k = kind_of(l.get("detail"))
        if k not in kinds:
            kinds.append(k)
    colours = {k: f"C{i % 10}" for i, k in enumerate(sorted(kinds))}
    y = range(len(layers))
    ax_layers.barh(list(y), [l["median_ms"] for l in layers], color=[colours[kind_of(l.get("detail"))] for l in layers])
    ax_layers.set_yticks(list(y))
    ax_layers.set_yticklabels([f"{l['name']} {'x'.join(str(v) for v in l.get('output_shape', [])[1:])}"
                               for l in layers], fontsize=8)
    top = max(l["median_ms"] for l in layers) if layers else 1
    for yi, l in zip(y, layers):
        ax_layers.text(l["median_ms"] + top * 0.01, yi,
                       f"{100 * l.get('share', 0):.1f}%  {l.get('gflops', 0):.0f} GFLOP/s", va="center", fontsize=7)
    ax_layers.set_xlim(0, top * 1.3)
    ax_layers.set_xlabel("median time per run (ms)")
    ax_layers.set_title(f"top {len(layers)} layers of {d.get('layer_sum_ms', 0):.2f} ms (summed layer medians)")
    from matplotlib.patches import Patch
    ax_layers.legend(handles=[Patch(color=colours[k], label=k) for k in sorted(kinds)], fontsize=8,
                     loc="lower right", title="ran as", title_fontsize=8)
    fig.suptitle(args.title or label_of(path, d) + f" — p50 {d['latency_ms']['p50']:.2f} ms over {len(d['latencies_ms'])} runs")
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
