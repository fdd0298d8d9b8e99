#!/usr/bin/env python3
"""PyTorch eager with cuDNN on the GPU: the baseline of scripts/cuda_check.sh.

Times torchvision's mobilenet_v2, resnet18 and resnet50 (random weights, eval
mode, float32) at the given batch sizes, the same way `kiln bench` reports
device time: CUDA events around each forward pass, median over the runs after
a warm-up. TF32 is switched off (torch.backends.cudnn.allow_tf32 = False,
torch.backends.cuda.matmul.allow_tf32 = False) so that both engines do float32
math; cudnn.benchmark is on (PyTorch's fastest cuDNN algorithms).

Prints one JSON object per line: {"model", "batch", "median_ms", "min_ms", ...}.
Exits 2 with a message when this PyTorch has no CUDA support or sees no GPU
(Debian's python3-torch is CPU-only: point PYTHON at a CUDA build of PyTorch).
"""
import argparse
import json
import sys

import torch
import torchvision


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=["mobilenet_v2", "resnet18", "resnet50"])
    p.add_argument("--batches", nargs="*", type=int, default=[1, 32])
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--warmup", type=int, default=30)
    a = p.parse_args()
    if torch.version.cuda is None:
        print(f"bench_torch_cuda: this PyTorch ({torch.__version__}) has no CUDA support; "
              "set PYTHON to a CUDA-enabled PyTorch", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("bench_torch_cuda: PyTorch sees no CUDA device", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    for name in a.models:
        model = getattr(torchvision.models, name)().eval().to(dev)
        for batch in a.batches:
            x = torch.randn(batch, 3, 224, 224, device=dev)
            times = []
            with torch.no_grad():
                for i in range(a.warmup + a.runs):
                    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    start.record()
                    model(x)
                    stop.record()
                    torch.cuda.synchronize()
                    if i >= a.warmup:
                        times.append(start.elapsed_time(stop))
            times.sort()
            print(json.dumps({"engine": "pytorch-eager", "model": name, "batch": batch,
                              "median_ms": times[len(times) // 2], "min_ms": times[0],
                              "torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                              "device": torch.cuda.get_device_name(0)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
