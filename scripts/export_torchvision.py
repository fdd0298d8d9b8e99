#!/usr/bin/env python3
"""Exports torchvision architectures to ONNX with PyTorch's own outputs, for
Kiln's end-to-end tests.

Each model gets fixed-seed random weights and random BatchNorm statistics (so
that folding BatchNorm is tested on non-trivial values), is exported at opset 13
with a static 1x3x224x224 input and BatchNormalization kept in the graph, and is
run once by PyTorch on a fixed-seed input:

  OUT/<name>.onnx  OUT/<name>.input.npy  OUT/<name>.output.npy

Runs with Debian's python3-torch / python3-torchvision (/usr/bin/python3), or
any PyTorch 2.x: where torch.onnx.export takes `dynamo` (2.5 and later; its
default is True since 2.9, which writes external .onnx.data files and bakes
the batch into Reshape), dynamo=False keeps the TorchScript exporter, so the
exports are the same everywhere.
Already exported models are skipped unless --force is given.
"""
import argparse
import inspect
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision

DEFAULT_MODELS = [
    "resnet18",
    "resnet50",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "shufflenet_v2_x1_0",
    "densenet121",
]


def randomise_batchnorm(model, generator):
    """Random affine parameters and running statistics for every BatchNorm."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=generator))
                m.bias.copy_(torch.empty(c).normal_(0.0, 0.1, generator=generator))
                m.running_mean.copy_(torch.empty(c).normal_(0.0, 0.1, generator=generator))
                m.running_var.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=generator))


def exporter_kwargs():
    """dynamo=False where torch.onnx.export has that argument (absent in torch 1.x)."""
    try:
        params = inspect.signature(torch.onnx.export).parameters
    except (TypeError, ValueError):
        return {}
    return {"dynamo": False} if "dynamo" in params else {}


def export(name, out_dir, seed, force):
    paths = {k: os.path.join(out_dir, f"{name}.{k}") for k in ("onnx", "input.npy", "output.npy")}
    if not force and all(os.path.exists(p) for p in paths.values()):
        print(f"{name}: already exported")
        return
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = getattr(torchvision.models, name)(weights=None)
    randomise_batchnorm(model, generator)
    model.eval()
    x = torch.empty(1, 3, 224, 224).normal_(0.0, 1.0, generator=generator)
    start = time.time()
    with torch.no_grad():
        y = model(x)
        torch.onnx.export(
            model, x, paths["onnx"], opset_version=13, input_names=["input"], output_names=["output"],
            training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True, **exporter_kwargs())
    np.save(paths["input.npy"], x.numpy().astype(np.float32))
    np.save(paths["output.npy"], y.numpy().astype(np.float32))
    print(f"{name}: exported in {time.time() - start:.1f} s, output {tuple(y.shape)}, |y|max {y.abs().max():.3g}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--models", nargs="*", default=DEFAULT_MODELS)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for i, name in enumerate(args.models):
        export(name, args.out, args.seed + i, args.force)
    with open(os.path.join(args.out, "models.json"), "w") as f:
        json.dump({"models": args.models, "seed": args.seed, "torch": torch.__version__,
                   "torchvision": torchvision.__version__}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
