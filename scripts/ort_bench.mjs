#!/usr/bin/env node
// Times an ONNX model with ONNX Runtime (the onnxruntime-node npm package) the
// way `kiln bench` times a .kiln model, for scripts/bench_vs_ort.py.
//
//   node scripts/ort_bench.mjs MODEL.onnx [--threads N] [--runs R] [--warmup W]
//        [--seed S] [--shape NAME=1x3x224x224 ...] [--ort-dir DIR]
//
// Session: intraOpNumThreads=N, interOpNumThreads=1, graph optimisation 'all',
// sequential execution. Inputs: uniform random values in [-1, 1) from a fixed
// seed, in the model's input shapes (symbolic dimensions become 1 unless
// --shape gives them). Prints one JSON object on stdout: per-run latencies in
// ms, their percentiles, and the peak RSS of this process in KiB.
//
// onnxruntime-node is loaded from DIR/node_modules (default: $KILN_ORT_DIR, else
// ~/.cache/kiln/ort); bench_vs_ort.py installs it there with
// `npm install --ignore-scripts onnxruntime-node`.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function usage(message) {
  process.stderr.write(`ort_bench: ${message}\n` +
    'usage: node ort_bench.mjs MODEL.onnx [--threads N] [--runs R] [--warmup W] [--seed S] ' +
    '[--shape NAME=DxDxD ...] [--ort-dir DIR]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = {
    model: null, threads: 1, runs: 30, warmup: 5, seed: 42, shapes: {},
    ortDir: process.env.KILN_ORT_DIR || path.join(os.homedir(), '.cache', 'kiln', 'ort'),
  };
  const int = (flag, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`${flag} needs an integer >= ${min}, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--threads') a.threads = int(arg, value(), 1);
    else if (arg === '--runs') a.runs = int(arg, value(), 1);
    else if (arg === '--warmup') a.warmup = int(arg, value(), 0);
    else if (arg === '--seed') a.seed = int(arg, value(), 0);
    else if (arg === '--ort-dir') a.ortDir = value();
    else if (arg === '--shape') {
      const spec = value();
      const eq = spec.lastIndexOf('=');
      const dims = (eq < 0 ? spec : spec.slice(eq + 1)).split(/[x,]/).map(Number);
      if (dims.some((d) => !Number.isInteger(d) || d < 1)) usage(`bad --shape '${spec}' (want NAME=1x3x224x224)`);
      a.shapes[eq < 0 ? '' : spec.slice(0, eq)] = dims;
    } else if (arg === '-h' || arg === '--help') usage('help');
    else if (arg.startsWith('-')) usage(`unknown option '${arg}'`);
    else if (a.model === null) a.model = arg;
    else usage(`unexpected argument '${arg}'`);
  }
  if (a.model === null) usage('no model given');
  return a;
}

// mulberry32: a small seeded generator, so every run gets the same input.
function randomFloats(n, seed) {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; ++i) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

// Linear interpolation between the nearest ranks, as `kiln bench` does.
function quantile(sorted, q) {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(args.model)) {
    process.stderr.write(`ort_bench: error: ${args.model}: no such file\n`);
    process.exit(1);
  }
  const baselineRssKib = process.resourceUsage().maxRSS;  // Node.js itself, before ONNX Runtime
  const require = createRequire(path.join(path.resolve(args.ortDir), 'package.json'));
  let ort, version = 'unknown';
  try {
    ort = require('onnxruntime-node');
    version = require('onnxruntime-node/package.json').version;
  } catch (e) {
    process.stderr.write(`ort_bench: error: cannot load onnxruntime-node from ${args.ortDir}/node_modules ` +
      `(${e.message.split('\n')[0]}); install it with ` +
      `'npm install --ignore-scripts --prefix ${args.ortDir} onnxruntime-node' or run scripts/bench_vs_ort.py\n`);
    process.exit(1);
  }

  let t = nowMs();
  const session = await ort.InferenceSession.create(args.model, {
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const sessionMs = nowMs() - t;

  const feeds = {};
  const inputs = [];
  session.inputNames.forEach((name, i) => {
    const meta = session.inputMetadata ? session.inputMetadata[i] : undefined;
    if (meta && meta.isTensor && meta.type !== 'float32')
      throw new Error(`input '${name}' is ${meta.type}; only float32 inputs are supported`);
    let shape = args.shapes[name] || (session.inputNames.length === 1 ? args.shapes[''] : undefined);
    if (!shape) {
      if (!meta || !meta.shape) throw new Error(`input '${name}': no shape known; pass --shape ${name}=DxDxD`);
      shape = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
    }
    const n = shape.reduce((x, y) => x * y, 1);
    feeds[name] = new ort.Tensor('float32', randomFloats(n, args.seed + i), shape);
    inputs.push({ name, shape });
  });

  t = nowMs();
  await session.run(feeds);
  const firstMs = nowMs() - t;
  for (let i = 0; i < args.warmup; ++i) await session.run(feeds);
  const latencies = [];
  for (let i = 0; i < args.runs; ++i) {
    t = nowMs();
    await session.run(feeds);
    latencies.push(nowMs() - t);
  }
  const sorted = [...latencies].sort((x, y) => x - y);
  const mean = latencies.reduce((x, y) => x + y, 0) / latencies.length;
  const result = {
    engine: 'onnxruntime-node',
    version,
    model: args.model,
    threads: args.threads,
    inputs,
    session_ms: sessionMs,
    first_inference_ms: firstMs,
    warmup: args.warmup,
    runs: args.runs,
    latencies_ms: latencies,
    latency_ms: {
      p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99),
      min: sorted[0], max: sorted[sorted.length - 1], mean,
    },
    peak_rss_kib: process.resourceUsage().maxRSS,  // KiB, like getrusage's ru_maxrss
    node_baseline_rss_kib: baselineRssKib,
  };
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort_bench: error: ${e.message}\n`);
  process.exit(1);
});
