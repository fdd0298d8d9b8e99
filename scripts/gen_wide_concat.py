#!/usr/bin/env python3
"""Writes an ONNX model with one very wide Concat, to measure setup cost.

    x [1,C,H,W] -> branch_i for i < N -> Concat(axis=1) -> y

Each branch ends in a Relu; before it, by --branch:
    add       Add(x, b_i), with its own constant b_i
    identity  Identity(x) (eliminate_identity rewires every branch)
    conv_bn   Conv 1x1 (C -> 1 channel) then BatchNormalization (fold_batchnorm
              makes two new constants per branch)
so the model has N branches feeding a Concat with N inputs: anything in
conversion or session creation that is quadratic in the number of tensors,
nodes or a node's inputs shows up as seconds (N = 20000 is the size that
found Graph::unique_tensor_name). Use C > 1 so that the CPU backend converts
each branch between NCHW and NHWC.

    scripts/gen_wide_concat.py wide.onnx --branches 20000 --channels 3
    time build/kiln convert wide.onnx wide.kiln
    build/kiln bench wide.kiln --backend cpu --runs 1 --warmup 0   # "session" line
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def branch_nodes(kind: str, i: int, channels: int):
    """The nodes and initializers of branch i, ending in tensor r{i}."""
    if kind == "add":
        inits = [numpy_helper.from_array(np.full([1], i % 7 - 3, dtype=np.float32), f"b{i}")]
        nodes = [helper.make_node("Add", ["x", f"b{i}"], [f"s{i}"], name=f"add{i}")]
    elif kind == "identity":
        inits = []
        nodes = [helper.make_node("Identity", ["x"], [f"s{i}"], name=f"identity{i}")]
    else:  # conv_bn
        rng = np.random.default_rng(i)
        inits = [
            numpy_helper.from_array(rng.standard_normal([1, channels, 1, 1]).astype(np.float32), f"w{i}"),
            numpy_helper.from_array(np.ones([1], np.float32), f"gamma{i}"),
            numpy_helper.from_array(np.full([1], 0.5, np.float32), f"beta{i}"),
            numpy_helper.from_array(np.zeros([1], np.float32), f"mean{i}"),
            numpy_helper.from_array(np.ones([1], np.float32), f"var{i}"),
        ]
        nodes = [
            helper.make_node("Conv", ["x", f"w{i}"], [f"c{i}"], name=f"conv{i}"),
            helper.make_node("BatchNormalization", [f"c{i}", f"gamma{i}", f"beta{i}", f"mean{i}", f"var{i}"],
                             [f"s{i}"], name=f"bn{i}"),
        ]
    nodes.append(helper.make_node("Relu", [f"s{i}"], [f"r{i}"], name=f"relu{i}"))
    return nodes, inits


def build(branches: int, channels: int, size: int, kind: str) -> onnx.ModelProto:
    shape = [1, channels, size, size]
    nodes, inits = [], []
    for i in range(branches):
        n, t = branch_nodes(kind, i, channels)
        nodes += n
        inits += t
    nodes.append(helper.make_node("Concat", [f"r{i}" for i in range(branches)], ["y"], name="concat", axis=1))
    out_channels = branches if kind == "conv_bn" else channels * branches
    graph = helper.make_graph(
        nodes,
        f"wide_concat_{kind}_{branches}",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, out_channels, size, size])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="the .onnx file to write")
    parser.add_argument("--branches", type=int, default=20000)
    parser.add_argument("--channels", type=int, default=1, help="channels of the input (and of each branch)")
    parser.add_argument("--size", type=int, default=4, help="height and width of the input")
    parser.add_argument("--branch", choices=["add", "identity", "conv_bn"], default="add",
                        help="what each branch computes before its Relu")
    args = parser.parse_args()
    onnx.save(build(args.branches, args.channels, args.size, args.branch), args.output)


if __name__ == "__main__":
    main()
