"""MobileNetV2 (float and quantized) from the shared data: loading, running,
classifying as `kiln classify` does, input checking, the GIL, bench."""
import json
import threading
import time

import numpy as np
import pytest

import kiln
from conftest import parse_classify, run_cli


def test_model_description(mnv2):
    (inp,) = mnv2.inputs
    assert inp.shape == (1, 3, 224, 224) and inp.dtype == "float32"
    assert inp.to_dict()["name"] == inp.name
    assert len(mnv2.outputs) == 1
    meta = mnv2.metadata
    assert meta["preprocess"] == "inception"
    assert meta["num_labels"] == len(meta["labels"]) > 0
    assert meta["class_offset"] in (0, 1)
    report = mnv2.convert_report
    assert report is not None and report["kiln_nodes"] > 0


def test_session_properties(mnv2_session):
    s = mnv2_session
    assert s.backend in kiln.available_backends() and s.backend != "auto"
    assert s.threads == kiln.available_cores()  # threads=None: every core
    assert s.backend_choice
    assert s.options["backend"] == "auto"


def test_run_forms_agree(mnv2_session):
    s = mnv2_session
    name = s.inputs[0].name
    out_name = s.outputs[0].name
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    a = s.run({name: x})
    assert list(a) == [out_name] and a[out_name].dtype == np.float32
    b = s.run([x])
    c = s.run(x)
    d = s.run(x.astype(np.float64))  # floating arrays are cast to float32
    # A non-contiguous array is copied to C order first.
    f = s.run(np.asfortranarray(x))
    for r in (b, c, d, f):
        np.testing.assert_array_equal(r[out_name], a[out_name])


def test_bad_inputs_raise_value_error(mnv2_session):
    s = mnv2_session
    name = s.inputs[0].name
    good = np.zeros((1, 3, 224, 224), np.float32)
    with pytest.raises(ValueError, match=f"'{name}'.*shape"):
        s.run({name: np.zeros((1, 224, 224, 3), np.float32)})
    with pytest.raises(ValueError, match=f"'{name}'.*shape"):
        s.run(np.zeros((3, 224, 224), np.float32))
    with pytest.raises(ValueError, match=f"'{name}'.*float32"):
        s.run({name: good.astype(np.uint8)})
    with pytest.raises(ValueError, match=f"'{name}'.*float32"):
        s.run({name: good.astype(np.int64)})
    with pytest.raises(ValueError, match="unknown input 'nope'"):
        s.run({"nope": good})
    with pytest.raises(ValueError, match=f"missing input '{name}'"):
        s.run({})
    with pytest.raises(ValueError, match="1 inputs"):
        s.run([good, good])
    with pytest.raises(ValueError):
        s.run("not an array")


def test_classify_matches_cli(tmp_path, mnv2, mnv2_onnx, mnv2_session, photo, cli):
    kiln_file = tmp_path / "mnv2.kiln"
    report = kiln.convert(str(mnv2_onnx), str(kiln_file))
    assert report["kiln_nodes"] > 0 and kiln_file.exists()
    expected = parse_classify(run_cli(cli, "classify", kiln_file, photo))[str(photo)]
    got = mnv2_session.classify(str(photo), top=5)
    assert [label for label, _ in got] == [label for label, _ in expected]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in expected], atol=1.5e-4)
    assert {got[0][0], got[1][0]} == {"mortarboard", "military uniform"}
    # The converted file gives the same answer as the ONNX converted in memory.
    from_file = kiln.Session(kiln.Model.load(str(kiln_file))).classify(photo, top=5)
    assert from_file == got
    # A list of paths gives one list per image.
    assert mnv2_session.classify([photo, photo], top=2) == [got[:2], got[:2]]


def test_classify_equals_manual_pipeline(mnv2, mnv2_session, photo):
    """load_image + preprocess + run + softmax gives classify's top-1 probability."""
    x = kiln.preprocess(kiln.load_image(str(photo)), 224, preset=mnv2.metadata["preprocess"])
    scores = mnv2_session.run(x)[mnv2_session.outputs[0].name][0].astype(np.float64)
    if mnv2.metadata["output_kind"] != "probabilities":
        scores = np.exp(scores - scores.max())
        scores /= scores.sum()
    (label, prob), = mnv2_session.classify(photo, top=1)
    assert abs(prob - scores.max()) < 1e-4


def test_quantized_model(tmp_path, mnv2_qdq, mnv2_qdq_onnx, mnv2_session, photo, cli):
    s = kiln.Session(mnv2_qdq)
    got = s.classify(str(photo), top=5)
    assert got[0][0] == mnv2_session.classify(photo, top=1)[0][0]
    kiln_file = tmp_path / "mnv2_qdq.kiln"
    kiln.convert(str(mnv2_qdq_onnx), str(kiln_file))
    expected = parse_classify(run_cli(cli, "classify", kiln_file, photo))[str(photo)]
    assert [label for label, _ in got] == [label for label, _ in expected]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in expected], atol=1.5e-4)
    # run() takes the input's own dtype: quantized values for a uint8/int8 input.
    inp = s.inputs[0]
    x = kiln.preprocess(photo, 224, preset=mnv2_qdq.metadata["preprocess"])
    if inp.dtype == "float32":
        out = s.run(x)
    else:
        with pytest.raises(ValueError, match="quantized"):
            s.run(x)
        out = s.run(kiln.quantize(x, inp))
    (y,) = out.values()
    assert y.dtype == np.dtype(s.outputs[0].dtype)


def test_run_releases_the_gil(mnv2_session):
    x = np.zeros((1, 3, 224, 224), np.float32)
    state = {"entered": False, "done": False}

    def work():
        state["entered"] = True
        mnv2_session.bench(runs=15, warmup=0)  # one long C++ call
        state["done"] = True

    t = threading.Thread(target=work)
    t.start()
    while not state["entered"]:
        time.sleep(0.0005)
    ticks = 0
    while not state["done"]:
        ticks += 1
        time.sleep(0.0005)
    t.join()
    assert ticks >= 5, "the main thread did not run while the session was busy: the GIL was held"
    mnv2_session.run(x)


def test_threads_run_sessions_concurrently(mnv2):
    x = np.random.default_rng(1).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    sessions = [kiln.Session(mnv2, threads=1, deterministic=True) for _ in range(2)]
    expected = sessions[0].run(x)
    results, errors = [], []

    def work(s):
        try:
            for _ in range(3):
                results.append(s.run(x))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    # Two sessions, plus two threads sharing one session (concurrent runs, each with its own context).
    threads = [threading.Thread(target=work, args=(s,)) for s in sessions + sessions[:1]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(results) == 9
    for r in results:
        np.testing.assert_array_equal(r[sessions[0].outputs[0].name], expected[sessions[0].outputs[0].name])


def test_one_session_shared_by_threads_gives_each_input_its_own_result(mnv2):
    rng = np.random.default_rng(7)
    xs = [rng.uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32) for _ in range(3)]
    s = kiln.Session(mnv2, threads=1)
    name = s.outputs[0].name
    expected = [s.run(x)[name] for x in xs]
    mismatches, errors = [], []

    def work(k):
        try:
            for r in range(4):
                i = (k + r) % len(xs)
                if not np.array_equal(s.run(xs[i])[name], expected[i]):
                    mismatches.append(i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and not mismatches


def test_threads_beyond_the_cores_are_capped_with_a_warning(mnv2):
    with pytest.warns(RuntimeWarning, match="capped"):
        s = kiln.Session(mnv2, threads=kiln.available_cores() + 64)
    assert s.threads == kiln.available_cores()
    assert any("capped" in w for w in s.warnings)


def test_damaged_kiln_file_is_refused_unless_verify_is_off(tmp_path, mnv2_onnx):
    good = tmp_path / "m.kiln"
    kiln.convert(str(mnv2_onnx), str(good))
    info = kiln.Model.load(str(good)).file_info
    assert info["has_checksums"] and info["checksums_verified"]
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0x40  # inside the weights, most of the file
    bad = tmp_path / "bad.kiln"
    bad.write_bytes(bytes(data))
    with pytest.raises(kiln.Error, match="checksum mismatch in weights"):
        kiln.Model.load(str(bad))
    assert kiln.Model.load(str(bad), verify=False).file_info["checksums_verified"] is False


BENCH_KEYS = {"model", "session", "inputs", "batch", "seed", "load_ms", "session_ms", "first_inference_ms", "warmup",
              "runs", "latency_ms", "latencies_ms", "throughput_per_s", "flops", "memory", "layers", "layer_sum_ms",
              "slowest_layers"}


def test_bench_has_the_cli_fields(tmp_path, mnv2_session, mnv2_onnx, cli):
    r = mnv2_session.bench(runs=3, warmup=1)
    assert BENCH_KEYS <= set(r)
    assert r["runs"] == 3 and len(r["latencies_ms"]) == 3
    assert set(r["latency_ms"]) == {"p50", "p90", "p99", "min", "max", "mean", "stddev"}
    assert r["model"] == str(mnv2_onnx) and r["load_ms"] > 0 and r["session_ms"] > 0
    assert r["layers"] and r["flops"] > 0 and r["throughput_per_s"] > 0
    # Same fields as `kiln bench --json`.
    kiln_file = tmp_path / "mnv2.kiln"
    kiln.convert(str(mnv2_onnx), str(kiln_file))
    out = tmp_path / "bench.json"
    run_cli(cli, "bench", kiln_file, "--runs", 2, "--warmup", 0, "--json", out)
    cli_json = json.loads(out.read_text())
    assert set(cli_json) == set(r)
    assert set(cli_json["session"]) == set(r["session"])
    assert set(cli_json["layers"][0]) == set(r["layers"][0])
    with pytest.raises(ValueError):
        mnv2_session.bench(runs=0)


def test_reference_precision_f64(mnv2):
    x = np.random.default_rng(3).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    f32 = kiln.Session(mnv2, backend="reference")
    f64 = kiln.Session(mnv2, backend="reference", reference_precision="f64")
    assert f32.options["reference_precision"] == "f32" and f64.options["reference_precision"] == "f64"
    a, b = f32.run(x), f64.run(x)
    for name in a:
        # The same model up to float32 rounding, which float64 accumulation does not repeat.
        scale = np.abs(b[name]).max()
        assert np.abs(a[name] - b[name]).max() <= 1e-4 * scale
        assert not np.array_equal(a[name], b[name])
    with pytest.raises(ValueError, match="f32"):
        kiln.Session(mnv2, backend="reference", reference_precision="f16")
    if "cpu" in kiln.available_backends():
        with pytest.raises(ValueError, match="reference-backend setting; backend 'cpu'"):
            kiln.Session(mnv2, backend="cpu", reference_precision="f64")


def test_run_all_keeps_every_node_output(mnv2):
    x = np.random.default_rng(5).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    s = kiln.Session(mnv2, backend="reference", keep_intermediates=True)
    assert s.options["keep_intermediates"] is True
    kept = s.run_all(x)
    nodes = mnv2.nodes
    assert len(kept) == sum(len(n["outputs"]) for n in nodes)
    assert [k["node_index"] for k in kept] == sorted(k["node_index"] for k in kept)
    for k in kept:
        assert k["name"] in nodes[k["node_index"]]["outputs"]
        assert k["op"] == nodes[k["node_index"]]["op"]
    # The kept graph outputs are the outputs of a plain run, bit for bit.
    plain = s.run(x)
    outs = [k for k in kept if k["graph_output"]]
    assert len(outs) == len(plain)
    for k in outs:
        assert np.array_equal(k["value"], plain[k["name"]])
    with pytest.raises(ValueError, match="keep_intermediates=True"):
        kiln.Session(mnv2, backend="reference").run_all(x)


def test_portable_determinism_same_bits_at_every_isa(mnv2):
    x = np.random.default_rng(2).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)
    first = None
    for isa in ("generic", "avx2", "avx512", "avx512_vnni"):
        for threads in (1, 2):
            try:
                s = kiln.Session(mnv2, backend="cpu", threads=threads, isa=isa, deterministic="portable")
            except Exception as e:  # a CPU or build without this level
                if "isa" in str(e):
                    continue
                raise
            assert s.options["deterministic"] == "portable"
            out = s.run(x)
            if first is None:
                first = out
            else:
                assert out.keys() == first.keys()
                for name in out:
                    assert out[name].tobytes() == first[name].tobytes(), (isa, threads, name)
    assert first is not None


def test_deterministic_levels_are_checked(mnv2):
    assert kiln.Session(mnv2, threads=1, deterministic=True).options["deterministic"] == "threads"
    assert kiln.Session(mnv2, threads=1).options["deterministic"] == "off"
    with pytest.raises(Exception, match="unknown determinism level 'bitwise'"):
        kiln.Session(mnv2, threads=1, deterministic="bitwise")
    with pytest.raises(TypeError):
        kiln.Session(mnv2, threads=1, deterministic=3)
