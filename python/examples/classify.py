"""Classify a photo from Python: python classify.py MODEL(.onnx|.kiln) PHOTO"""
import sys, numpy as np, kiln
model = kiln.Model.load(sys.argv[1])  # ONNX is converted in memory, as `kiln convert` would
session = kiln.Session(model)  # backend "auto", threads = every core
print(f"{model.metadata['name']} on {session.backend}, {session.threads} threads")
for rank, (label, prob) in enumerate(session.classify(sys.argv[2], top=5), 1):
    print(f"  {rank}. {prob:.4f}  {label}")
try: session.run(np.zeros((1, 224, 224, 3), np.float32))  # NHWC instead of NCHW
except ValueError as e: print("ValueError:", e)
