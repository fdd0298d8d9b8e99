#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz), one folder each:

  onnx_import/   tiny ONNX models made here, and ONNX's own node-test models
                 (Debian's libonnx-testdata) for the ops Kiln imports
  kiln_model/    those models converted by `kiln convert` (with --kiln)
  tensor_proto/  TensorProto (.pb) files: the node tests' inputs and some made here
  npy/           .npy files of every dtype and header version Kiln reads, and some it refuses
  image/         tiny PNG, JPEG and BMP images in their common variants

Seeds are small on purpose (libFuzzer mutates small inputs faster) and are
made at CI time rather than committed.

  /usr/bin/python3 scripts/fuzz_corpus.py OUT_DIR [--kiln build-asan/kiln]
"""
import argparse
import io
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TESTDATA = "/usr/share/libonnx-testdata/data/node"
# Node tests of ops Kiln imports; a few tests per op family is enough to give
# the fuzzer each importer's structure to mutate.
NODE_TESTS = re.compile(
    r"^test_(conv|maxpool|averagepool|globalaveragepool|globalmaxpool|relu|leakyrelu|prelu|sigmoid|"
    r"hardsigmoid|hardswish|clip|tanh|gemm|matmul|add|sub|mul|div|concat|reshape|flatten|transpose|"
    r"squeeze|unsqueeze|softmax|batchnorm|quantizelinear|dequantizelinear|qlinearconv|qlinearmatmul|"
    r"slice|pad|split|reduce_mean|shape|gather|constant|identity|resize)")
MAX_PER_OP = 4
MAX_SEED_BYTES = 32 * 1024


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def tiny_onnx_models():
    """A few small models with the structures real CNN exports have."""
    rng = np.random.default_rng(0)
    init = lambda name, shape: numpy_helper.from_array(rng.uniform(-1, 1, shape).astype(np.float32), name)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    models = {}

    # Conv, BatchNorm, Relu, MaxPool, depthwise Conv, residual Add, global pool, Gemm, Softmax.
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "w2"], ["c2"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Add", ["c2", "p1"], ["a"]),
        helper.make_node("GlobalAveragePool", ["a"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["f"]),
        helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    inits = [init("w1", [4, 3, 3, 3]), init("b1", [4]), init("g", [4]), init("beta", [4]), init("mean", [4]),
             numpy_helper.from_array(np.full([4], 0.5, np.float32), "var"), init("w2", [4, 1, 3, 3]),
             init("wf", [5, 4]), init("bf", [5])]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])
    models["cnn"] = helper.make_graph(nodes, "cnn", [x], [y], inits)

    # A shape sub-graph folded at import (Shape -> Gather -> Unsqueeze -> Concat -> Reshape),
    # Concat, Transpose, AveragePool with padding, Clip.
    nodes = [
        helper.make_node("AveragePool", ["x"], ["ap"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Concat", ["ap", "ap"], ["cat"], axis=1),
        helper.make_node("Shape", ["cat"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["cat", "target"], ["flat"]),
        helper.make_node("Clip", ["flat", "lo", "hi"], ["clipped"]),
        helper.make_node("Transpose", ["clipped"], ["y"], perm=[1, 0]),
    ]
    inits = [numpy_helper.from_array(np.array(0, np.int64), "zero"),
             numpy_helper.from_array(np.array([0], np.int64), "axes0"),
             numpy_helper.from_array(np.array([-1], np.int64), "minus1"),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [96, 1])
    models["shapes"] = helper.make_graph(nodes, "shapes", [x], [y], inits)

    # QDQ: DequantizeLinear -> Conv -> QuantizeLinear around a uint8 activation,
    # per-channel int8 weights (what the fold_qdq pass turns into a quantized Conv).
    w = rng.integers(-127, 128, [4, 3, 3, 3]).astype(np.int8)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0),
        helper.make_node("Conv", ["xd", "wd"], ["c"], kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("QuantizeLinear", ["r", "ys", "yz"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(0.02, np.float32), "xs"),
             numpy_helper.from_array(np.array(128, np.uint8), "xz"),
             numpy_helper.from_array(w, "wq"),
             numpy_helper.from_array(rng.uniform(0.001, 0.01, [4]).astype(np.float32), "ws"),
             numpy_helper.from_array(np.zeros([4], np.int8), "wz"),
             numpy_helper.from_array(np.array(0.05, np.float32), "ys"),
             numpy_helper.from_array(np.array(0, np.uint8), "yz")]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 3, 3])
    models["qdq"] = helper.make_graph(nodes, "qdq", [x], [y], inits)

    # Quantized pooling, Add, Gemm and activation between QDQ pairs, Slice and
    # Pad with constant parameters.
    def qdq(t, scale, zp, suffix):
        return [helper.make_node("QuantizeLinear", [t, scale, zp], [t + "_q" + suffix]),
                helper.make_node("DequantizeLinear", [t + "_q" + suffix, scale, zp], [t + "_d" + suffix])]
    nodes = (qdq("x", "s", "z", "") + [
        helper.make_node("MaxPool", ["x_d"], ["mp"], kernel_shape=[2, 2], strides=[2, 2])] + qdq("mp", "s", "z", "") + [
        helper.make_node("AveragePool", ["mp_d"], ["ap"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])] +
        qdq("ap", "s", "z", "") + [
        helper.make_node("Add", ["ap_d", "mp_d"], ["sum"])] + qdq("sum", "s", "z", "") + [
        helper.make_node("Sigmoid", ["sum_d"], ["sg"])] + qdq("sg", "s", "z", "") + [
        helper.make_node("Slice", ["sg_d", "starts", "ends", "axes"], ["sl"]),
        helper.make_node("Pad", ["sl", "pads"], ["pd"]),
        helper.make_node("Flatten", ["pd"], ["f"])] + qdq("f", "s", "z", "") + [
        helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"]),
        helper.make_node("Gemm", ["f_d", "wd"], ["y"], transB=1)])
    inits = [numpy_helper.from_array(np.array(0.03, np.float32), "s"),
             numpy_helper.from_array(np.array(100, np.uint8), "z"),
             numpy_helper.from_array(np.array([1, 0], np.int64), "starts"),
             numpy_helper.from_array(np.array([3, 3], np.int64), "ends"),
             numpy_helper.from_array(np.array([1, 2], np.int64), "axes"),
             numpy_helper.from_array(np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64), "pads"),
             numpy_helper.from_array(rng.integers(0, 256, [3, 40]).astype(np.uint8), "wq"),
             numpy_helper.from_array(np.array(0.01, np.float32), "ws"),
             numpy_helper.from_array(np.array(128, np.uint8), "wz")]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    models["qdq_ops"] = helper.make_graph(nodes, "qdq_ops", [x], [y], inits)

    out = {}
    for name, graph in models.items():
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="fuzz_corpus")
        model.ir_version = 7
        out[name] = model.SerializeToString()
    return out


def node_tests():
    """(name, model bytes, input .pb bytes or None) of the chosen ONNX node tests."""
    if not os.path.isdir(TESTDATA):
        print(f"fuzz_corpus: {TESTDATA} missing (libonnx-testdata); using the made-up models only", file=sys.stderr)
        return []
    per_op, chosen = {}, []
    for name in sorted(os.listdir(TESTDATA)):
        m = NODE_TESTS.match(name)
        model = os.path.join(TESTDATA, name, "model.onnx")
        if not m or not os.path.isfile(model) or os.path.getsize(model) > MAX_SEED_BYTES:
            continue
        if per_op.get(m.group(1), 0) >= MAX_PER_OP:
            continue
        per_op[m.group(1)] = per_op.get(m.group(1), 0) + 1
        # The first input of the test's first data set, if small: many
        # shapes and dtypes, each in the form exporters write.
        pb = os.path.join(TESTDATA, name, "test_data_set_0", "input_0.pb")
        pb_bytes = open(pb, "rb").read() if os.path.isfile(pb) and os.path.getsize(pb) <= 4096 else None
        chosen.append((name, open(model, "rb").read(), pb_bytes))
    return chosen


def tensor_protos():
    """TensorProtos in each encoding the reader decodes: raw and typed data, every dtype it takes."""
    rng = np.random.default_rng(1)
    arrays = {
        "f32": rng.standard_normal([1, 3, 4, 4]).astype(np.float32),
        "f64": rng.standard_normal([2, 3]),
        "f16": rng.standard_normal([5]).astype(np.float16),
        "u8": rng.integers(0, 256, [1, 3, 2, 2]).astype(np.uint8),
        "i8": rng.integers(-128, 128, [7]).astype(np.int8),
        "i64": np.array([1, -1, 3], np.int64),  # refused: not a tensor type Kiln reads
        "scalar": np.array(2.5, np.float32),
        "empty": np.zeros([0, 3], np.float32),
    }
    out = {}
    for name, a in arrays.items():
        t = numpy_helper.from_array(a, name)
        out[name + "_raw"] = t.SerializeToString()
        typed = helper.make_tensor(name, t.data_type, a.shape, a.flatten().tolist() if a.dtype != np.float16 else
                                   a.view(np.uint16).flatten().tolist())
        out[name + "_typed"] = typed.SerializeToString()
    return out


def npy_files():
    rng = np.random.default_rng(2)
    out = {}

    def save(name, a, version=None):
        buf = io.BytesIO()
        if version is None:
            np.save(buf, a)
        else:
            np.lib.format.write_array(buf, a, version=version)
        out[name] = buf.getvalue()

    save("f32", rng.standard_normal([1, 3, 4, 4]).astype(np.float32))
    save("f64", rng.standard_normal([2, 5]))
    save("u8", rng.integers(0, 256, [1, 3, 2, 2]).astype(np.uint8))
    save("i8", rng.integers(-128, 128, [9]).astype(np.int8))
    save("scalar", np.array(1.5, np.float32))
    save("empty", np.zeros([0, 4], np.float32))
    save("v2", rng.standard_normal([3]).astype(np.float32), version=(2, 0))
    save("v3", rng.standard_normal([2, 2]).astype(np.float32), version=(3, 0))
    # Refused ones: Fortran order, big-endian, an integer dtype.
    save("fortran", np.asfortranarray(rng.standard_normal([3, 2]).astype(np.float32)))
    save("big_endian", rng.standard_normal([4]).astype(">f4"))
    save("i32", np.arange(6, dtype=np.int32).reshape(2, 3))
    return out


def images():
    from PIL import Image

    def pattern(w, h, mode):
        img = Image.new("RGB", (w, h))
        img.putdata([((x * 37) % 256, (y * 59) % 256, ((x + y) * 17) % 256) for y in range(h) for x in range(w)])
        return img.convert(mode)

    out = {}

    def save(name, img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        out[name] = buf.getvalue()

    save("rgb_1x1.png", pattern(1, 1, "RGB"), "PNG")
    save("rgba_7x5.png", pattern(7, 5, "RGBA"), "PNG")
    save("grey_16x3.png", pattern(16, 3, "L"), "PNG")
    save("palette_9x9.png", pattern(9, 9, "P"), "PNG")
    save("grey16_5x4.png", Image.fromarray((np.arange(20, dtype=np.uint16) * 3001).reshape(4, 5)), "PNG")
    save("baseline_8x8.jpg", pattern(8, 8, "RGB"), "JPEG", quality=90)
    save("progressive_17x9.jpg", pattern(17, 9, "RGB"), "JPEG", progressive=True, quality=50)
    save("grey_13x7.jpg", pattern(13, 7, "L"), "JPEG")
    save("444_6x10.jpg", pattern(6, 10, "RGB"), "JPEG", subsampling=0, quality=10)
    save("420_33x17.jpg", pattern(33, 17, "RGB"), "JPEG", subsampling=2, optimize=True)
    save("rgb_5x3.bmp", pattern(5, 3, "RGB"), "BMP")
    save("rgba_4x4.bmp", pattern(4, 4, "RGBA"), "BMP")
    save("palette_6x2.bmp", pattern(6, 2, "P"), "BMP")
    save("mono_9x3.bmp", pattern(9, 3, "1"), "BMP")
    return out


def convert_to_kiln(kiln, onnx_dir, kiln_dir):
    """`kiln convert` each ONNX seed; those that convert (and are small) become .kiln seeds."""
    def one(name):
        dst = os.path.join(kiln_dir, name[:-len(".onnx")] + ".kiln")
        r = subprocess.run([kiln, "convert", os.path.join(onnx_dir, name), dst],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode != 0 or os.path.getsize(dst) > MAX_SEED_BYTES:
            if os.path.exists(dst):
                os.remove(dst)
            return 0
        return 1

    names = sorted(n for n in os.listdir(onnx_dir) if n.endswith(".onnx"))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return sum(pool.map(one, names))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--kiln", help="the kiln tool, to make the .kiln seeds")
    args = ap.parse_args()

    dirs = {t: os.path.join(args.out, t) for t in ("onnx_import", "kiln_model", "tensor_proto", "npy", "image")}
    for d in dirs.values():
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    for name, data in tiny_onnx_models().items():
        write(os.path.join(dirs["onnx_import"], name + ".onnx"), data)
    for name, model, pb in node_tests():
        write(os.path.join(dirs["onnx_import"], name + ".onnx"), model)
        if pb:
            write(os.path.join(dirs["tensor_proto"], name + ".pb"), pb)
    for name, data in tensor_protos().items():
        write(os.path.join(dirs["tensor_proto"], name + ".pb"), data)
    for name, data in npy_files().items():
        write(os.path.join(dirs["npy"], name + ".npy"), data)
    for name, data in images().items():
        write(os.path.join(dirs["image"], name), data)
    if args.kiln:
        convert_to_kiln(args.kiln, dirs["onnx_import"], dirs["kiln_model"])

    for target, d in dirs.items():
        print(f"fuzz_corpus: {target}: {len(os.listdir(d))} seeds")
    if not os.listdir(dirs["kiln_model"]) and args.kiln:
        sys.exit("fuzz_corpus: no ONNX seed converted to .kiln: is the kiln tool working?")


if __name__ == "__main__":
    main()
