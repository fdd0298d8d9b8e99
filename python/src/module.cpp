// kiln._kiln: the Python binding of Kiln's C++ API (pybind11). The package
// python/kiln re-exports it; python/README.md documents the API.
//
// Errors: kiln::Error InvalidArgument -> ValueError, Io -> OSError (a missing
// file -> FileNotFoundError), anything else -> kiln.Error (a RuntimeError).
// Session.run, classify and bench release the GIL while the model runs. A
// Session may run on many Python threads at once (the C++ Session gives each
// concurrent run its own context); bench takes a session to itself, so that
// its per-node times are its own.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "apps/common/bench.hpp"
#include "apps/common/classify.hpp"
#include "kiln/kiln.hpp"
#include "kiln/vision.hpp"
#ifdef KILN_PY_HAVE_CONVERTER
#include "kiln/convert.hpp"
#endif

namespace py = pybind11;
using namespace kiln;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

[[noreturn]] void throw_py(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

void require_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw_py(PyExc_FileNotFoundError, path + ": no such file");
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

py::dtype dtype_of(ElementType t) {
  switch (t) {
    case ElementType::UInt8: return py::dtype::of<uint8_t>();
    case ElementType::Int8: return py::dtype::of<int8_t>();
    case ElementType::Float32: break;
  }
  return py::dtype::of<float>();
}

std::vector<py::ssize_t> py_shape(const std::vector<int64_t>& shape) {
  return {shape.begin(), shape.end()};
}

py::tuple shape_tuple(const std::vector<int64_t>& shape) {
  py::tuple t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) t[i] = py::int_(shape[i]);
  return t;
}

const char* resize_name(ResizePolicy p) { return p == ResizePolicy::SquareCrop ? "square_crop" : "shorter_side"; }
ResizePolicy parse_resize(const std::string& s) {
  if (s == "shorter_side") return ResizePolicy::ShorterSide;
  if (s == "square_crop") return ResizePolicy::SquareCrop;
  throw_py(PyExc_ValueError, "resize '" + s + "' is not shorter_side or square_crop");
}
const char* filter_name(ResizeFilter f) {
  return f == ResizeFilter::AntialiasedBilinear ? "antialiased_bilinear" : "bilinear";
}
ResizeFilter parse_filter(const std::string& s) {
  if (s == "bilinear") return ResizeFilter::Bilinear;
  if (s == "antialiased_bilinear") return ResizeFilter::AntialiasedBilinear;
  throw_py(PyExc_ValueError, "filter '" + s + "' is not bilinear or antialiased_bilinear");
}
const char* output_kind_name(OutputKind k) {
  switch (k) {
    case OutputKind::Logits: return "logits";
    case OutputKind::Probabilities: return "probabilities";
    case OutputKind::Unknown: break;
  }
  return "unknown";
}
Preprocess parse_preset(const std::string& s) {
  const Preprocess p = parse_preprocess_name(s);  // throws kiln::Error (ValueError) for an unknown name
  if (p == Preprocess::Unknown) throw_py(PyExc_ValueError, "unknown preprocessing preset '" + s + "'");
  return p;
}

// ---- Model

struct PyModel {
  Model model;
  std::string path;
  double load_ms = 0;
  std::optional<py::dict> report;  // ConvertReport of an ONNX file
};

#ifdef KILN_PY_HAVE_CONVERTER
py::dict report_dict(const ConvertReport& r) {
  py::dict d;
  d["opset"] = r.opset;
  d["onnx_producer"] = r.onnx_producer;
  d["onnx_nodes"] = r.onnx_nodes;
  d["folded_by_importer"] = r.folded_by_importer;
  d["kiln_nodes"] = r.kiln_nodes;
  d["passes"] = r.passes;
  d["known_model"] = r.known_model;
  d["warnings"] = r.warnings;
  return d;
}
#endif

std::shared_ptr<PyModel> load_model_py(const std::string& path, std::optional<int64_t> batch, bool optimize,
                                       bool verify) {
  require_file(path);
  LoadOptions lo;
  lo.verify_checksums = verify;
  auto m = std::make_shared<PyModel>(PyModel{Model(nullptr), path, 0, std::nullopt});
  const Clock::time_point t = Clock::now();
#ifdef KILN_PY_HAVE_CONVERTER
  ConvertOptions options;
  options.batch = batch;
  options.optimize = optimize;
  ConvertReport report;
  bool onnx = false;
  {
    py::gil_scoped_release release;
    onnx = !is_kiln_file(path);
    m->model = onnx ? load_model(path, options, &report) : Model::load(path, lo);
  }
  if (onnx) m->report = report_dict(report);
#else
  if (batch || !optimize)
    throw_py(PyExc_ValueError, "batch and optimize apply to ONNX files, which this build (without the converter) cannot load");
  {
    py::gil_scoped_release release;
    m->model = Model::load(path, lo);
  }
#endif
  m->load_ms = ms_since(t);
  for (const std::string& note : m->model.file_info().notes)
    if (PyErr_WarnEx(PyExc_UserWarning, note.c_str(), 1) != 0) throw py::error_already_set();
  return m;
}

py::dict metadata_dict(const ModelMetadata& meta) {
  py::dict d;
  d["name"] = meta.name;
  d["source_url"] = meta.source_url;
  d["source_sha256"] = meta.source_sha256;
  d["preprocess"] = meta.preprocess == Preprocess::Unknown ? py::object(py::none())
                                                           : py::object(py::str(preprocess_name(meta.preprocess)));
  d["resize"] = resize_name(meta.resize);
  d["resize_filter"] = filter_name(meta.resize_filter);
  d["output_kind"] = output_kind_name(meta.output_kind);
  d["class_offset"] = meta.class_offset;
  d["num_labels"] = meta.labels.size();
  d["labels"] = meta.labels;
  return d;
}

// ---- Session

struct PySession {
  std::shared_ptr<PyModel> model;
  SessionOptions options;
  std::unique_ptr<Session> session;
  double session_ms = 0;
  std::mutex bench_mutex;  // one bench at a time per session
};

// deterministic=False | True (the same bits for any thread count) | "off" | "threads" | "portable".
Determinism determinism_of(const py::object& v) {
  if (py::isinstance<py::bool_>(v)) return v.cast<bool>() ? Determinism::Threads : Determinism::Off;
  if (py::isinstance<py::str>(v)) {
    const std::string level = v.cast<std::string>();
    if (level.empty()) throw_py(PyExc_ValueError, "deterministic must be False, True, 'off', 'threads' or 'portable'");
    return parse_determinism(level);
  }
  throw_py(PyExc_TypeError, "deterministic must be False, True, 'off', 'threads' or 'portable'");
}

std::shared_ptr<PySession> make_session(std::shared_ptr<PyModel> model, const std::string& backend,
                                        std::optional<int> threads, const std::string& algorithm, const py::object& deterministic,
                                        std::optional<std::string> isa, int device, std::optional<std::string> tuning_cache,
                                        bool fp16_storage, const std::string& reference_precision,
                                        bool keep_intermediates) {
  if (!model) throw_py(PyExc_TypeError, "Session needs a kiln.Model");
  if (threads && *threads < 0) throw_py(PyExc_ValueError, "threads must be None (every core) or a positive number");
  if (device < 0) throw_py(PyExc_ValueError, "device must not be negative");
  if (reference_precision != "f32" && reference_precision != "f64")
    throw_py(PyExc_ValueError, "reference_precision must be \"f32\" or \"f64\"");
  auto s = std::make_shared<PySession>();
  s->model = model;
  s->options.backend = backend;
  s->options.threads = threads.value_or(0);
  s->options.algorithm = algorithm;
  s->options.deterministic = determinism_of(deterministic);
  s->options.cpu.isa = isa.value_or("");
  s->options.gpu.device = device;
  s->options.gpu.fp16_storage = fp16_storage;
  s->options.reference.accumulation =
      reference_precision == "f64" ? ReferencePrecision::Float64 : ReferencePrecision::Float32;
  s->options.tuning_cache = tuning_cache.value_or("");
  s->options.keep_intermediates = keep_intermediates;
  const Clock::time_point t = Clock::now();
  {
    py::gil_scoped_release release;
    s->session = std::make_unique<Session>(model->model, s->options);
  }
  s->session_ms = ms_since(t);
  for (const std::string& w : s->session->warnings())
    if (PyErr_WarnEx(PyExc_RuntimeWarning, w.c_str(), 1) != 0) throw py::error_already_set();
  return s;
}

std::string input_names(const std::vector<TensorDesc>& descs) {
  std::string s;
  for (const auto& d : descs) s += (s.empty() ? "'" : ", '") + d.name + "'";
  return s;
}

// One input as a C-contiguous, aligned array of the input's dtype and shape,
// or ValueError naming the input. Float32 inputs accept any floating array
// (float16/64 are cast); integer, bool and other arrays are refused, since
// raw pixels need the model's normalisation first. Quantized inputs take
// exactly their dtype (uint8 or int8).
py::array prepare_input(py::handle obj, const TensorDesc& d) {
  const std::string what = "input '" + d.name + "'";
  py::array arr;
  if (py::isinstance<py::array>(obj)) {
    arr = py::reinterpret_borrow<py::array>(obj);
  } else {
    try {
      arr = py::module_::import("numpy").attr("asarray")(obj);
    } catch (py::error_already_set&) {
      throw_py(PyExc_ValueError, what + ": expected a numpy array, got " + std::string(py::str(obj.get_type().attr("__name__"))));
    }
  }
  const py::dtype dt = arr.dtype();
  const std::string got = dt.attr("name").cast<std::string>();
  if (d.type == ElementType::Float32) {
    if (dt.kind() != 'f')
      throw_py(PyExc_ValueError, what + " takes float32 values, got " + got +
                                     " (floating arrays are cast to float32; other dtypes are refused: convert "
                                     "and normalise them as the model expects, e.g. with kiln.preprocess)");
    arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(arr);
  } else {
    if (!dt.equal(dtype_of(d.type)))
      throw_py(PyExc_ValueError, what + " is quantized and takes " + element_type_name(d.type) + " values (scale " +
                                     std::to_string(d.scale) + ", zero point " + std::to_string(d.zero_point) +
                                     "), got " + got + "; quantize real values with kiln.quantize(x, info)");
    arr = py::array::ensure(arr, py::array::c_style);
  }
  if (!arr) throw py::error_already_set();
  std::vector<int64_t> shape(arr.shape(), arr.shape() + arr.ndim());
  if (shape != d.shape)
    throw_py(PyExc_ValueError, what + " expects shape " + shape_string(d.shape) + ", got " + shape_string(shape));
  // Kernels may read the data with vector loads: keep it 16-byte aligned like numpy's own allocations.
  if (reinterpret_cast<uintptr_t>(arr.data()) % 16 != 0) {
    py::array copy(arr.dtype(), py_shape(d.shape));
    std::memcpy(copy.mutable_data(), arr.data(), static_cast<size_t>(arr.nbytes()));
    arr = copy;
  }
  return arr;
}

// The arrays for every input, in the model's order, from a dict (name ->
// array), a list or tuple (in order) or one array (single-input models).
std::vector<py::array> gather_inputs(const Session& session, py::handle inputs) {
  const auto& descs = session.inputs();
  std::vector<py::array> arrays(descs.size());
  if (py::isinstance<py::dict>(inputs)) {
    std::vector<bool> given(descs.size(), false);
    for (auto item : py::reinterpret_borrow<py::dict>(inputs)) {
      if (!py::isinstance<py::str>(item.first))
        throw_py(PyExc_ValueError, "input names must be strings, got " + std::string(py::str(py::repr(item.first))));
      const std::string name = py::str(item.first);
      size_t i = 0;
      while (i < descs.size() && descs[i].name != name) ++i;
      if (i == descs.size())
        throw_py(PyExc_ValueError, "unknown input '" + name + "'; the model's inputs are " + input_names(descs));
      arrays[i] = prepare_input(item.second, descs[i]);
      given[i] = true;
    }
    for (size_t i = 0; i < descs.size(); ++i)
      if (!given[i]) throw_py(PyExc_ValueError, "missing input '" + descs[i].name + "' " + shape_string(descs[i].shape));
  } else if (py::isinstance<py::list>(inputs) || py::isinstance<py::tuple>(inputs)) {
    const auto seq = py::reinterpret_borrow<py::sequence>(inputs);
    if (seq.size() != descs.size())
      throw_py(PyExc_ValueError, "the model has " + std::to_string(descs.size()) + " inputs (" + input_names(descs) +
                                     "), got a sequence of " + std::to_string(seq.size()));
    for (size_t i = 0; i < descs.size(); ++i) arrays[i] = prepare_input(seq[i], descs[i]);
  } else {
    if (descs.size() != 1)
      throw_py(PyExc_ValueError, "the model has " + std::to_string(descs.size()) + " inputs (" + input_names(descs) +
                                     "); pass a dict name -> array or a list in that order");
    arrays[0] = prepare_input(inputs, descs[0]);
  }
  return arrays;
}

py::dict run_py(PySession& s, py::handle inputs) {
  Session& session = *s.session;
  std::vector<py::array> arrays = gather_inputs(session, inputs);
  std::vector<Tensor> in;
  for (size_t i = 0; i < arrays.size(); ++i)
    in.push_back(Tensor::wrap(const_cast<void*>(arrays[i].data()), session.inputs()[i].shape, session.inputs()[i].type));
  std::vector<py::array> results;
  std::vector<Tensor> out;
  for (const auto& d : session.outputs()) {
    results.emplace_back(dtype_of(d.type), py_shape(d.shape));
    out.push_back(Tensor::wrap(results.back().mutable_data(), d.shape, d.type));
  }
  {
    py::gil_scoped_release release;
    session.run(in, out);
  }
  py::dict d;
  for (size_t i = 0; i < results.size(); ++i) d[py::str(session.outputs()[i].name)] = results[i];
  return d;
}

// Every node output of one run (Session::run_all), in node order.
py::list run_all_py(PySession& s, py::handle inputs) {
  Session& session = *s.session;
  if (!s.options.keep_intermediates)
    throw_py(PyExc_ValueError, "run_all needs a session made with keep_intermediates=True");
  std::vector<py::array> arrays = gather_inputs(session, inputs);
  std::vector<Tensor> in;
  for (size_t i = 0; i < arrays.size(); ++i)
    in.push_back(Tensor::wrap(const_cast<void*>(arrays[i].data()), session.inputs()[i].shape, session.inputs()[i].type));
  std::vector<NodeOutput> all;
  {
    py::gil_scoped_release release;
    all = session.run_all(in);
  }
  py::list l;
  for (const NodeOutput& o : all) {
    py::array value(dtype_of(o.desc.type), py_shape(o.desc.shape));
    std::memcpy(value.mutable_data(), o.value.raw(), o.value.size_bytes());
    py::dict d;
    d["node"] = o.node;
    d["op"] = o.op;
    d["node_index"] = o.node_index;
    d["name"] = o.desc.name;
    d["graph_output"] = o.graph_output;
    d["value"] = value;
    l.append(d);
  }
  return l;
}

using Ranked = std::vector<std::pair<std::string, float>>;

py::object classify_py(PySession& s, py::object images, int top, std::optional<std::string> preprocess) {
  if (top < 1) throw_py(PyExc_ValueError, "top must be at least 1");
  const bool single = py::isinstance<py::str>(images) || py::hasattr(images, "__fspath__");
  std::vector<std::string> paths;
  auto fspath = py::module_::import("os").attr("fspath");
  if (single) {
    paths.push_back(py::str(fspath(images)));
  } else {
    for (auto p : images) paths.push_back(py::str(fspath(p)));
  }
  for (const auto& p : paths) require_file(p);

  const Model& model = s.model->model;
  ModelMetadata meta = model.metadata();
  if (preprocess) meta.preprocess = parse_preset(*preprocess);
  if (meta.preprocess == Preprocess::Unknown)
    throw_py(PyExc_ValueError, s.model->path + ": the model carries no preprocessing preset; pass "
                                               "preprocess='imagenet'|'inception'|'caffe'|'raw'|'centered128'");
  std::vector<Ranked> ranked;
  {
    py::gil_scoped_release release;
    // As `kiln classify`: the same preprocessing, quantization and ranking (apps/common/classify.hpp).
    classify::Classifier classifier(*s.session, meta, s.model->path);
    for (const classify::ImageResult& r : classifier.run(paths, top)) {
      if (!r.error.empty()) throw Error(ErrorCode::InvalidArgument, r.error);
      Ranked out;
      for (const Prediction& p : r.top)
        out.emplace_back(p.label.empty() ? (p.class_index >= 0 ? "class " + std::to_string(p.class_index) : "background")
                                         : p.label,
                         p.probability);
      ranked.push_back(std::move(out));
    }
  }
  if (single) return py::cast(ranked.front());
  return py::cast(ranked);
}

py::dict bench_py(PySession& s, int runs, int warmup, uint32_t seed, bool energy, double energy_seconds) {
  if (runs < 1) throw_py(PyExc_ValueError, "runs must be at least 1");
  if (warmup < 0) throw_py(PyExc_ValueError, "warmup must not be negative");
  if (energy_seconds <= 0) throw_py(PyExc_ValueError, "energy_seconds must be positive");
  bench::Options options;
  options.runs = runs;
  options.warmup = warmup;
  options.seed = seed;
  options.energy = energy;
  options.energy_seconds = energy_seconds;
  std::string text;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(s.bench_mutex);
    bench::Result r = bench::run(*s.session, s.options, options);
    r.model = s.model->path;
    r.load_ms = s.model->load_ms;
    r.session_ms = s.session_ms;
    text = bench::to_json(r).dump();
  }
  return py::module_::import("json").attr("loads")(text);
}

// ---- Images

py::array image_array(const Image& img) {
  py::array_t<uint8_t> a({static_cast<py::ssize_t>(img.height), static_cast<py::ssize_t>(img.width), py::ssize_t{3}});
  std::memcpy(a.mutable_data(), img.rgb.data(), img.rgb.size());
  return a;
}

Image image_from(py::handle obj) {
  if (py::isinstance<py::str>(obj) || py::hasattr(obj, "__fspath__")) {
    const std::string path = py::str(py::module_::import("os").attr("fspath")(obj));
    require_file(path);
    py::gil_scoped_release release;
    return load_image(path);
  }
  py::array arr = py::reinterpret_borrow<py::object>(obj);
  if (!arr.dtype().equal(py::dtype::of<uint8_t>()) || arr.ndim() != 3 || arr.shape(2) != 3)
    throw_py(PyExc_ValueError, "image must be a path or an HxWx3 uint8 RGB array (kiln.load_image), got " +
                                   arr.dtype().attr("name").cast<std::string>() + " of shape " +
                                   shape_string(std::vector<int64_t>(arr.shape(), arr.shape() + arr.ndim())));
  arr = py::array::ensure(arr, py::array::c_style);
  Image img;
  img.height = static_cast<int>(arr.shape(0));
  img.width = static_cast<int>(arr.shape(1));
  img.rgb.assign(static_cast<const uint8_t*>(arr.data()), static_cast<const uint8_t*>(arr.data()) + arr.nbytes());
  return img;
}

py::array preprocess_py(py::handle image, int size, const std::string& preset, const std::string& resize,
                        const std::string& filter) {
  if (size < 1) throw_py(PyExc_ValueError, "size must be positive");
  const Image img = image_from(image);
  const Preprocess p = parse_preset(preset);
  const ResizePolicy policy = parse_resize(resize);
  const ResizeFilter f = parse_filter(filter);
  py::array_t<float> out({py::ssize_t{1}, py::ssize_t{3}, static_cast<py::ssize_t>(size), static_cast<py::ssize_t>(size)});
  float* data = out.mutable_data();
  {
    py::gil_scoped_release release;
    preprocess_image_into(img, size, p, policy, f, data);
  }
  return out;
}

py::dict options_dict(const SessionOptions& o) {
  py::dict d;
  d["backend"] = o.backend;
  d["threads"] = o.threads;
  d["algorithm"] = o.algorithm;
  d["deterministic"] = determinism_name(o.deterministic);
  d["isa"] = o.cpu.isa;
  d["device"] = o.gpu.device;
  d["fp16_storage"] = o.gpu.fp16_storage;
  d["reference_precision"] = o.reference.accumulation == ReferencePrecision::Float64 ? "f64" : "f32";
  d["keep_intermediates"] = o.keep_intermediates;
  d["tuning_cache"] = o.tuning_cache;
  return d;
}

}  // namespace

PYBIND11_MODULE(_kiln, m) {
  m.doc() = "Kiln CNN inference engine (C++ core); see the kiln package";
  m.attr("__version__") = KILN_VERSION;
#ifdef KILN_PY_HAVE_CONVERTER
  m.attr("HAVE_CONVERTER") = true;
#else
  m.attr("HAVE_CONVERTER") = false;
#endif

  static py::exception<Error> kiln_error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      switch (e.code()) {
        case ErrorCode::InvalidArgument: PyErr_SetString(PyExc_ValueError, e.what()); return;
        case ErrorCode::Io: PyErr_SetString(PyExc_OSError, e.what()); return;
        default: kiln_error(e.what()); return;
      }
    }
  });

  py::class_<TensorDesc>(m, "TensorInfo", "A model input or output: name, shape, dtype and, for uint8/int8, "
                                          "scale and zero_point (real = scale * (q - zero_point))")
      .def_readonly("name", &TensorDesc::name)
      .def_property_readonly("shape", [](const TensorDesc& d) { return shape_tuple(d.shape); })
      .def_property_readonly("dtype", [](const TensorDesc& d) { return std::string(element_type_name(d.type)); })
      .def_readonly("scale", &TensorDesc::scale)
      .def_readonly("zero_point", &TensorDesc::zero_point)
      .def("to_dict",
           [](const TensorDesc& d) {
             py::dict r;
             r["name"] = d.name;
             r["shape"] = shape_tuple(d.shape);
             r["dtype"] = element_type_name(d.type);
             r["scale"] = d.scale;
             r["zero_point"] = d.zero_point;
             return r;
           })
      .def("__repr__", [](const TensorDesc& d) {
        std::string s = "TensorInfo(name='" + d.name + "', shape=" + std::string(py::str(shape_tuple(d.shape))) +
                        ", dtype='" + element_type_name(d.type) + "'";
        if (d.type != ElementType::Float32)
          s += ", scale=" + std::string(py::str(py::float_(d.scale))) + ", zero_point=" + std::to_string(d.zero_point);
        return s + ")";
      });

  py::class_<PyModel, std::shared_ptr<PyModel>>(m, "Model", "A loaded model (.kiln, or ONNX converted in memory)")
      .def_static("load", &load_model_py, py::arg("path"), py::arg("batch") = py::none(), py::arg("optimize") = true,
                  py::arg("verify") = true,
                  "Loads a .kiln file, or an ONNX file (told by its contents), converting it in memory as "
                  "`kiln convert` would; batch and optimize apply to ONNX files; verify=False skips the .kiln "
                  "checksums (for files you trust)")
      .def_property_readonly("file_info",
                             [](const PyModel& m) {
                               const ModelFileInfo& f = m.model.file_info();
                               py::dict d;
                               d["format"] = std::to_string(f.format_major) + "." + std::to_string(f.format_minor);
                               d["has_checksums"] = f.has_checksums;
                               d["checksums_verified"] = f.checksums_verified;
                               d["notes"] = f.notes;
                               return d;
                             })
      .def_readonly("path", &PyModel::path)
      .def_readonly("load_ms", &PyModel::load_ms)
      .def_property_readonly("convert_report",
                             [](const PyModel& m) { return m.report ? py::object(*m.report) : py::object(py::none()); })
      .def_property_readonly("inputs", [](const PyModel& m) { return m.model.inputs(); })
      .def_property_readonly("outputs", [](const PyModel& m) { return m.model.outputs(); })
      .def_property_readonly("metadata", [](const PyModel& m) { return metadata_dict(m.model.metadata()); })
      .def_property_readonly("producer", [](const PyModel& m) { return m.model.producer(); })
      .def_property_readonly("passes_applied", [](const PyModel& m) { return m.model.passes_applied(); })
      .def_property_readonly("nodes",
                             [](const PyModel& m) {
                               py::list l;
                               for (const NodeInfo& n : m.model.nodes()) {
                                 py::dict d;
                                 d["name"] = n.name;
                                 d["op"] = n.op;
                                 d["attributes"] = n.attributes;
                                 d["inputs"] = n.inputs;
                                 d["outputs"] = n.outputs;
                                 d["output_shapes"] = n.output_shapes;
                                 d["dtype"] = n.dtype;
                                 d["params"] = n.params;
                                 d["flops"] = n.flops;
                                 l.append(d);
                               }
                               return l;
                             })
      .def("__repr__", [](const PyModel& m) {
        const ModelMetadata meta = m.model.metadata();
        return "<kiln.Model '" + m.path + "'" + (meta.name.empty() ? "" : " (" + meta.name + ")") + ">";
      });

  py::class_<PySession, std::shared_ptr<PySession>>(m, "Session", "A model compiled for one backend, ready to run")
      .def(py::init(&make_session), py::arg("model"), py::kw_only(), py::arg("backend") = "auto",
           py::arg("threads") = py::none(), py::arg("algorithm") = "heuristic", py::arg("deterministic") = false,
           py::arg("isa") = py::none(), py::arg("device") = 0, py::arg("tuning_cache") = py::none(),
           py::arg("fp16_storage") = false, py::arg("reference_precision") = "f32",
           py::arg("keep_intermediates") = false)
      .def_property_readonly("model", [](const PySession& s) { return s.model; })
      .def_property_readonly("backend", [](const PySession& s) { return s.session->backend(); })
      .def_property_readonly("backend_choice", [](const PySession& s) { return s.session->backend_choice(); })
      .def_property_readonly("threads", [](const PySession& s) { return s.session->threads(); })
      .def_property_readonly(
          "warnings", [](const PySession& s) { return s.session->warnings(); },
          "What was adjusted when the session was created (e.g. threads capped at the usable cores)")
      .def_property_readonly("options", [](const PySession& s) { return options_dict(s.options); })
      .def_readonly("session_ms", &PySession::session_ms)
      .def_property_readonly("inputs", [](const PySession& s) { return s.session->inputs(); })
      .def_property_readonly("outputs", [](const PySession& s) { return s.session->outputs(); })
      .def("run", &run_py, py::arg("inputs"),
           "Runs the model: inputs as a dict name -> array, a list in input order, or one array for a "
           "single-input model; returns a dict output name -> numpy array")
      .def("run_all", &run_all_py, py::arg("inputs"),
           "With keep_intermediates=True: runs the model and returns every node's output in node order, as a list "
           "of dicts (node, op, node_index, name, graph_output, value)")
      .def("classify", &classify_py, py::arg("images"), py::arg("top") = 5, py::arg("preprocess") = py::none(),
           "Top classes of an image file (list of (label, probability)) or of a list of files (a list of those), "
           "preprocessed as the model's metadata says, as `kiln classify` does")
      .def("bench", &bench_py, py::arg("runs") = 50, py::arg("warmup") = 5, py::arg("seed") = 42,
           py::arg("energy") = false, py::arg("energy_seconds") = 1.0,
           "Benchmarks the session on random inputs; returns the dict `kiln bench --json` writes")
      .def("profile",
           [](const PySession& s) {
             py::list l;
             for (const NodeProfile& p : s.session->profile()) {
               py::dict d;
               d["name"] = p.name;
               d["op"] = p.op;
               d["detail"] = p.detail;
               d["output_shape"] = p.output_shape;
               d["flops"] = p.flops;
               d["ms"] = p.ms;
               l.append(d);
             }
             return l;
           })
      .def("memory",
           [](const PySession& s) {
             const MemoryReport r = s.session->memory();
             py::dict d;
             d["arena_bytes"] = r.arena_bytes;
             d["naive_bytes"] = r.naive_bytes;
             d["weights_bytes"] = r.weights_bytes;
             return d;
           })
      .def("__repr__", [](const PySession& s) {
        return "<kiln.Session '" + s.model->path + "' on " + s.session->backend() + ", threads " +
               std::to_string(s.session->threads()) + ">";
      });

#ifdef KILN_PY_HAVE_CONVERTER
  m.def(
      "convert",
      [](const std::string& onnx_path, const std::string& kiln_path, std::optional<int64_t> batch, bool optimize) {
        require_file(onnx_path);
        ConvertOptions options;
        options.batch = batch;
        options.optimize = optimize;
        ConvertReport report;
        {
          py::gil_scoped_release release;
          report = convert_onnx_file(onnx_path, kiln_path, options);
        }
        return report_dict(report);
      },
      py::arg("onnx_path"), py::arg("kiln_path"), py::arg("batch") = py::none(), py::arg("optimize") = true,
      "Converts an ONNX file to a .kiln file as `kiln convert` does; returns the conversion report");
#endif
  m.def(
      "load_image",
      [](const std::string& path) {
        require_file(path);
        Image img;
        {
          py::gil_scoped_release release;
          img = load_image(path);
        }
        return image_array(img);
      },
      py::arg("path"), "Decodes a JPEG, PNG or BMP file into an HxWx3 uint8 RGB array");
  m.def("preprocess", &preprocess_py, py::arg("image"), py::arg("size"), py::arg("preset") = "imagenet",
        py::arg("resize") = "shorter_side", py::arg("filter") = "bilinear",
        "Resizes, crops and normalises an image (path or HxWx3 uint8 array) into a float32 [1,3,size,size] array");
  m.def("available_backends", &available_backends);
  m.def("available_cores", &available_cores);
}
