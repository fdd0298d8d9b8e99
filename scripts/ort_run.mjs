#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (onnxruntime-node) on .npy inputs and
// saves its first output as .npy, the way `kiln run` does, so that the two
// engines can be compared on the same tensors (scripts/qdq_top1.py).
//
//   node scripts/ort_run.mjs MODEL.onnx --output-dir DIR X.npy [Y.npy ...]
//        [--threads N] [--ort-dir DIR]
//
// The model has one input; each X.npy (float32, uint8 or int8, C order) is
// one run, and its first output is written as DIR/<X's file name> (float32).
// One line per input on stdout: "X.npy ARGMAX" (of the output's last axis,
// first row). Preprocessing is not done here: `kiln classify --save-inputs`
// writes the tensors Kiln feeds its own runs.
//
// onnxruntime-node is loaded from DIR/node_modules (default: $KILN_ORT_DIR, else
// ~/.cache/kiln/ort), as for ort_bench.mjs. Exit status 3 when it is not
// installed (callers skip), 2 for bad arguments, 1 for other errors.
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function usage(message) {
  process.stderr.write(`ort_run: ${message}\n` +
    'usage: node ort_run.mjs MODEL.onnx --output-dir DIR X.npy [Y.npy ...] [--threads N] [--ort-dir DIR]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const a = {
    model: null, outputDir: null, inputs: [], threads: 1,
    ortDir: process.env.KILN_ORT_DIR || path.join(os.homedir(), '.cache', 'kiln', 'ort'),
  };
  for (let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--output-dir' || arg === '-o') a.outputDir = value();
    else if (arg === '--ort-dir') a.ortDir = value();
    else if (arg === '--threads') {
      a.threads = Number(value());
      if (!Number.isInteger(a.threads) || a.threads < 1) usage('--threads needs an integer >= 1');
    } else if (arg === '-h' || arg === '--help') usage('help');
    else if (arg.startsWith('-')) usage(`unknown option '${arg}'`);
    else if (a.model === null) a.model = arg;
    else a.inputs.push(arg);
  }
  if (a.model === null) usage('no model given');
  if (a.outputDir === null) usage('say where to write: --output-dir DIR');
  if (a.inputs.length === 0) usage('no .npy input given');
  return a;
}

const NPY_TYPES = {
  '<f4': ['float32', Float32Array], '|u1': ['uint8', Uint8Array], '|i1': ['int8', Int8Array],
};

// A .npy file (format 1.0 to 3.0, C order) as {type, data, shape}.
function readNpy(file) {
  const b = readFileSync(file);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = b[6];
  const headerLen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = b.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) throw new Error(`${file}: unsupported .npy header ${header.trim()}`);
  const kind = NPY_TYPES[descr[1]];
  if (!kind) throw new Error(`${file}: dtype ${descr[1]} (want float32, uint8 or int8)`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const n = dims.reduce((x, y) => x * y, 1);
  const bytes = b.subarray(start, start + n * kind[1].BYTES_PER_ELEMENT);
  if (bytes.length !== n * kind[1].BYTES_PER_ELEMENT) throw new Error(`${file}: holds fewer values than its shape says`);
  // Copied so that the typed array starts on an aligned offset.
  const data = new kind[1](new Uint8Array(bytes).buffer);
  return { type: kind[0], data, shape: dims };
}

function writeNpyFloat32(file, data, shape) {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(args.model)) {
    process.stderr.write(`ort_run: error: ${args.model}: no such file\n`);
    process.exit(1);
  }
  const require = createRequire(path.join(path.resolve(args.ortDir), 'package.json'));
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    process.stderr.write(`ort_run: onnxruntime-node is not installed in ${args.ortDir}/node_modules ` +
      `(${e.message.split('\n')[0]}); install it with ` +
      `'npm install --ignore-scripts --prefix ${args.ortDir} onnxruntime-node'\n`);
    process.exit(3);
  }
  const session = await ort.InferenceSession.create(args.model, {
    intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
  });
  if (session.inputNames.length !== 1) throw new Error(`the model has ${session.inputNames.length} inputs; ort_run takes one`);
  mkdirSync(args.outputDir, { recursive: true });
  for (const file of args.inputs) {
    const x = readNpy(file);
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor(x.type, x.data, x.shape) });
    const y = out[session.outputNames[0]];
    if (y.type !== 'float32') throw new Error(`output '${session.outputNames[0]}' is ${y.type}, not float32`);
    writeNpyFloat32(path.join(args.outputDir, path.basename(file)), y.data, y.dims);
    const cols = y.dims.length ? y.dims[y.dims.length - 1] : 1;
    let best = 0;
    for (let i = 1; i < cols; ++i) if (y.data[i] > y.data[best]) best = i;
    process.stdout.write(`${file} ${best}\n`);
  }
}

main().catch((e) => {
  process.stderr.write(`ort_run: error: ${e.message}\n`);
  process.exit(1);
});
