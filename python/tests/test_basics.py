"""What needs no shared data: images, preprocessing, quantize helpers, errors."""
import numpy as np
import pytest

import kiln


def test_backends_and_cores():
    assert "reference" in kiln.available_backends()
    assert kiln.available_cores() >= 1
    assert isinstance(kiln.__version__, str)


def test_missing_files_raise_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        kiln.Model.load(str(tmp_path / "nope.kiln"))
    with pytest.raises(FileNotFoundError):
        kiln.load_image(str(tmp_path / "nope.png"))


def test_garbage_model_raises_kiln_error(tmp_path):
    bad = tmp_path / "bad.kiln"
    bad.write_bytes(b"not a model at all" * 10)
    with pytest.raises((kiln.Error, ValueError, OSError)):
        kiln.Model.load(str(bad))


def test_garbage_image_raises(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises((kiln.Error, ValueError, OSError)):
        kiln.load_image(str(bad))


def test_preprocess_array():
    img = np.full((300, 400, 3), 128, np.uint8)
    x = kiln.preprocess(img, 224)
    assert x.shape == (1, 3, 224, 224) and x.dtype == np.float32
    # imagenet: (128/255 - mean) / std per channel
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x[0, :, 100, 100], (128 / 255 - mean) / std, rtol=1e-5)
    raw = kiln.preprocess(img, 32, preset="raw", resize="square_crop")
    assert raw.shape == (1, 3, 32, 32) and np.all(raw == 128)
    # A transposed (non-contiguous) view works like its copy.
    view = np.ascontiguousarray(img.transpose(1, 0, 2)).transpose(1, 0, 2)
    np.testing.assert_array_equal(kiln.preprocess(view, 64), kiln.preprocess(img, 64))


def test_preprocess_refuses_bad_arguments():
    with pytest.raises(ValueError, match="uint8"):
        kiln.preprocess(np.zeros((10, 10, 3), np.float32), 8)
    with pytest.raises(ValueError):
        kiln.preprocess(np.zeros((10, 10), np.uint8), 8)
    with pytest.raises(ValueError):
        kiln.preprocess(np.zeros((10, 10, 3), np.uint8), 8, preset="nope")
    with pytest.raises(ValueError):
        kiln.preprocess(np.zeros((10, 10, 3), np.uint8), 8, resize="nope")


def test_quantize_round_trip():
    class Info:  # quacks like kiln.TensorInfo
        name, dtype, scale, zero_point = "x", "uint8", 0.5, 10
    q = kiln.quantize(np.array([-100.0, 0.0, 0.25, 0.75, 1.0, 500.0]), Info)
    assert q.dtype == np.uint8
    np.testing.assert_array_equal(q, [0, 10, 10, 12, 12, 255])  # ties to even, saturating
    np.testing.assert_allclose(kiln.dequantize(q, Info), [-5.0, 0.0, 0.0, 1.0, 1.0, 122.5])

