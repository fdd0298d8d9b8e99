"""A model whose input and output are uint8 (built with the onnx package):
run() takes and returns the quantized values, refuses floats, and
kiln.quantize/dequantize use the TensorInfo's scale and zero point."""
import numpy as np
import pytest

import kiln

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    if not kiln.HAVE_CONVERTER:
        pytest.skip("this build has no ONNX converter")
    consts = [numpy_helper.from_array(np.array(v), n) for n, v in
              [("xs", np.float32(0.5)), ("xz", np.uint8(10)), ("ys", np.float32(0.25)), ("yz", np.uint8(0))]]
    graph = helper.make_graph(
        [helper.make_node("DequantizeLinear", ["x", "xs", "xz"], ["xf"]),
         helper.make_node("Relu", ["xf"], ["r"]),
         helper.make_node("QuantizeLinear", ["r", "ys", "yz"], ["y"])],
        "q", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 2, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 2, 2, 2])], consts)
    path = tmp_path_factory.mktemp("q") / "q.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return kiln.Session(kiln.Model.load(str(path)), backend="reference")


def test_uint8_in_and_out(session):
    (x_info,), (y_info,) = session.inputs, session.outputs
    assert (x_info.dtype, x_info.scale, x_info.zero_point) == ("uint8", 0.5, 10)
    assert (y_info.dtype, y_info.scale, y_info.zero_point) == ("uint8", 0.25, 0)
    x = (np.arange(8, dtype=np.uint8) * 3).reshape(1, 2, 2, 2)
    y = session.run({"x": x})["y"]
    assert y.dtype == np.uint8
    np.testing.assert_array_equal(y.ravel(), [0, 0, 0, 0, 4, 10, 16, 22])
    real = kiln.dequantize(x, x_info)
    np.testing.assert_array_equal(session.run(kiln.quantize(real, x_info))["y"], y)
    np.testing.assert_allclose(kiln.dequantize(y, y_info), np.maximum(real, 0))


def test_quantized_input_refuses_other_dtypes(session):
    for dtype in (np.float32, np.int8, np.int64):
        with pytest.raises(ValueError, match="'x' is quantized"):
            session.run(np.zeros((1, 2, 2, 2), dtype))
