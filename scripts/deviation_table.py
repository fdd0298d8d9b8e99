#!/usr/bin/python3
"""Runs `kiln compare` on several models and prints the deviation table of the
closing notes (models x varied dimensions -> equivalence classes, largest
relative deviation from the float64 reference, top-1 changes), in Markdown.

  /usr/bin/python3 scripts/deviation_table.py --kiln build/kiln M1.onnx M2.kiln ... \\
      [--variant "isa:--isa all --threads 1"] [--variant ...] [--out table.md]

Each --variant is NAME:FLAGS (flags passed to `kiln compare`); the default set
varies the ISA levels, the thread counts, the algorithms and all three with
and without `--deterministic portable`. Every JSON report is kept beside
--out (or in the current folder) as NAME_MODEL.json.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys

DEFAULT_VARIANTS = [
    "isa:--backends cpu --isa all --threads 1",
    "threads:--backends cpu --threads 1,2",
    "algorithms:--backends cpu --threads 1 --algorithms all",
    "isa x threads x algorithms:--backends cpu --isa all --threads 1,2 --algorithms all",
    "portable, isa x threads:--backends cpu --isa all --threads 1,2 --deterministic portable",
    "backends:--backends all --threads 1",
]


def run(kiln, model, name, flags, folder):
    stem = os.path.splitext(os.path.basename(model))[0]
    out = os.path.join(folder, f"{name.replace(' ', '_').replace(',', '')}_{stem}.json")
    cmd = [kiln, "compare", model, "--json", out, "-q", *shlex.split(flags)]
    print("running:", " ".join(cmd), file=sys.stderr)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()
    with open(out) as f:
        return json.load(f), ""


def cell(report, err):
    if report is None:
        return f"failed: {err[:60]}"
    ok = [c for c in report["configurations"] if c["status"] == "ok"]
    classes = report["classes"]
    worst = max((c.get("vs_reference", {}).get("max_rel", 0) for c in classes), default=0)
    worst = float("inf") if worst == "inf" else worst
    top1 = max((c.get("vs_reference", {}).get("top1_changes", 0) for c in classes), default=0)
    text = f"{len(classes)} / {len(ok)} cfg, max rel {worst:.2g}"
    if top1:
        text += f", top-1 changed {top1}"
    return text


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--kiln", default="build/kiln")
    p.add_argument("--variant", action="append", help="NAME:FLAGS for kiln compare (repeatable)")
    p.add_argument("--out", default=None, help="write the Markdown table here too")
    args = p.parse_args(argv)
    variants = [v.split(":", 1) for v in (args.variant or DEFAULT_VARIANTS)]
    folder = os.path.dirname(os.path.abspath(args.out)) if args.out else os.getcwd()
    lines = ["| model | " + " | ".join(name for name, _ in variants) + " |",
             "|---|" + "---|" * len(variants)]
    for m in args.models:
        cells = [cell(*run(args.kiln, m, name, flags, folder)) for name, flags in variants]
        lines.append(f"| {os.path.basename(m)} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n\nEach cell: equivalence classes / configurations that ran, largest relative " \
                                "deviation of a class from the float64 reference (max|a-b| / max|ref|).\n"
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
