"""Kiln: a CNN inference engine (C++), from Python.

    import kiln
    model = kiln.Model.load("mobilenet_v2.onnx")        # .kiln or ONNX
    session = kiln.Session(model)                       # backend "auto", every core
    print(session.classify("photo.jpg", top=5))         # [(label, probability), ...]
    outputs = session.run({"input": x})                 # dict name -> numpy array

See python/README.md for the whole API.
"""
import numpy as _np

from ._kiln import (  # noqa: F401
    HAVE_CONVERTER,
    Error,
    Model,
    Session,
    TensorInfo,
    __version__,
    available_backends,
    available_cores,
    load_image,
    preprocess,
)

if HAVE_CONVERTER:
    from ._kiln import convert  # noqa: F401

__all__ = [
    "Error", "Model", "Session", "TensorInfo", "available_backends", "available_cores",
    "convert", "dequantize", "load_image", "preprocess", "quantize",
]


def quantize(x, info):
    """Real values -> the uint8/int8 values of a quantized input `info` (a TensorInfo):
    q = clamp(round_half_even(x / scale) + zero_point), as `kiln classify` does."""
    if info.dtype not in ("uint8", "int8"):
        raise ValueError(f"{info.name!r} is {info.dtype}, not a quantized tensor")
    lo, hi = (-128, 127) if info.dtype == "int8" else (0, 255)
    x = _np.asarray(x, dtype=_np.float32)
    q = _np.rint(x / _np.float32(info.scale)) + _np.float32(info.zero_point)
    return _np.clip(q, lo, hi).astype(info.dtype)


def dequantize(q, info):
    """The real values of a quantized output or input: scale * (q - zero_point), as float32."""
    if info.dtype not in ("uint8", "int8"):
        raise ValueError(f"{info.name!r} is {info.dtype}, not a quantized tensor")
    q = _np.asarray(q)
    return (_np.float32(info.scale) * (q.astype(_np.int32) - info.zero_point).astype(_np.float32)).astype(_np.float32)
