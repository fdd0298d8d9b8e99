// `kiln quantize`: post-training int8 quantization (apps/common/quantize.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "apps/common/quantize.hpp"
#include "apps/common/tensor_files.hpp"
#include "apps/kiln/commands.hpp"
#include "apps/kiln/console.hpp"
#include "apps/kiln/session_flags.hpp"
#include "apps/kiln/table.hpp"
#include "engine/format/kiln_file.hpp"
#include "kiln/convert.hpp"
#include "kiln/vision.hpp"

namespace kiln::cli {

namespace {

namespace fs = std::filesystem;

bool has_extension(const fs::path& p, std::initializer_list<const char*> exts) {
  std::string e = p.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::any_of(exts.begin(), exts.end(), [&](const char* x) { return e == x; });
}

bool is_image(const fs::path& p) { return has_extension(p, {".jpg", ".jpeg", ".png", ".bmp"}); }

// Folders become their images (sorted, so runs are repeatable); files stay as given.
std::vector<std::string> expand(const std::vector<std::string>& args, const std::string& flag) {
  std::vector<std::string> files;
  for (const std::string& a : args) {
    if (fs::is_directory(a)) {
      std::vector<std::string> found;
      for (const auto& e : fs::directory_iterator(a))
        if (e.is_regular_file() && is_image(e.path())) found.push_back(e.path().string());
      if (found.empty())
        throw Error(ErrorCode::InvalidArgument, flag + " " + a + ": the folder holds no .jpg, .jpeg, .png or .bmp file");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (!fs::exists(a)) {
      throw Error(ErrorCode::InvalidArgument, flag + " " + a + ": no such file or folder");
    } else {
      files.push_back(a);
    }
  }
  return files;
}

// Image files with the model's preprocessing, or .npy inputs of a one-input model.
std::vector<ptq::InputSet> input_sets(const std::vector<std::string>& files, const std::string& flag,
                                      const Model& model, const std::string& preprocess) {
  const std::vector<TensorDesc> descs = model.inputs();
  const auto npy_count =
      std::count_if(files.begin(), files.end(), [](const std::string& f) { return has_extension(f, {".npy"}); });
  if (npy_count == 0) {
    for (const std::string& f : files)
      if (!is_image(f))
        throw Error(ErrorCode::InvalidArgument,
                    flag + " " + f + ": not an image (.jpg, .jpeg, .png, .bmp), a .npy file or a folder");
    // Checked here so that the message names this command's flag.
    if (descs.size() != 1 || descs[0].shape.size() != 4 || descs[0].shape[1] != 3 ||
        descs[0].shape[2] != descs[0].shape[3])
      throw Error(ErrorCode::InvalidArgument,
                  flag + " with images needs a model with one image input [N,3,S,S]; give .npy files instead");
    ModelMetadata meta = model.metadata();
    if (!preprocess.empty()) meta.preprocess = parse_preprocess_name(preprocess);
    return compare::image_inputs(descs, meta, files);
  }
  if (npy_count != static_cast<long>(files.size()))
    throw Error(ErrorCode::InvalidArgument, flag + ": give images or .npy files, not both");
  if (descs.size() != 1)
    throw Error(ErrorCode::InvalidArgument, flag + ": .npy inputs need a model with one input; this one has " +
                                                std::to_string(descs.size()));
  std::vector<ptq::InputSet> sets;
  for (const std::string& f : files) {
    Tensor t = read_tensor_file(f);
    if (t.shape() != descs[0].shape || t.type() != descs[0].type)
      throw Error(ErrorCode::InvalidArgument, flag + " " + f + ": holds " + element_type_name(t.type()) + " " +
                                                  shape_str(t.shape()) + " but input '" + descs[0].name + "' takes " +
                                                  element_type_name(descs[0].type) + " " + shape_str(descs[0].shape));
    ptq::InputSet set;
    set.what = f;
    set.tensors.push_back(std::move(t));
    sets.push_back(std::move(set));
  }
  return sets;
}

std::string db(double x) { return std::isfinite(x) ? fmt::format("{:.1f} dB", x) : "inf (exact)"; }

void print_summary(const ptq::Report& rep, const ptq::Options& o, const std::string& in, size_t float_nodes) {
  fmt::print("quantized {}: {} of {} nodes int8 (activations uint8 per tensor, weights int8 {}, method {}{}, "
             "{} calibration input set{})\n",
             in, rep.result.quantized.size(), float_nodes,
             o.graph.weights == quantize::WeightGranularity::PerChannel ? "per channel" : "per tensor",
             quantize::method_name(o.method),
             o.method == quantize::Method::Percentile ? fmt::format(" {}%", o.percentile) : std::string(),
             rep.calibration_sets, rep.calibration_sets == 1 ? "" : "s");
  // Kept float, grouped by reason.
  std::map<std::string, std::vector<std::string>> why;
  for (const auto& f : rep.result.plan.kept_float) why[f.reason].push_back(f.node);
  fmt::print("kept float: {} node{}\n", rep.result.plan.kept_float.size(),
             rep.result.plan.kept_float.size() == 1 ? "" : "s");
  for (const auto& [reason, nodes] : why) {
    std::string list;
    for (size_t i = 0; i < nodes.size() && i < 6; ++i) {
      if (i) list += ", ";
      list += nodes[i];
    }
    if (nodes.size() > 6) list += fmt::format(", … ({} more)", nodes.size() - 6);
    fmt::print("  {}: {}\n", reason, list);
  }
  if (!rep.layers.empty()) {
    std::vector<double> v;
    for (const auto& l : rep.layers) v.push_back(l.sqnr_db);
    const auto worst = std::min_element(rep.layers.begin(), rep.layers.end(),
                                        [](const auto& a, const auto& b) { return a.sqnr_db < b.sqnr_db; });
    std::nth_element(v.begin(), v.begin() + static_cast<long>(v.size() / 2), v.end());
    fmt::print("per-layer SQNR (int8 output vs float, calibration set, {} layers): min {} ({} {}), median {}\n",
               rep.layers.size(), db(worst->sqnr_db), worst->op, worst->node, db(v[v.size() / 2]));
  }
  if (o.min_sqnr_db) {
    fmt::print("below --min-sqnr {} dB, back to float: {}\n", *o.min_sqnr_db,
               rep.fell_back.empty() ? std::string("none") : fmt::format("{} layer{}", rep.fell_back.size(),
                                                                          rep.fell_back.size() == 1 ? "" : "s"));
    for (const auto& b : rep.fell_back) fmt::print("  {} ({}): {} (round {})\n", b.node, b.op, db(b.sqnr_db), b.round);
  }
  if (rep.top1)
    fmt::print("top-1 agreement int8 vs float on --eval: {} of {}\n", rep.top1->agree, rep.top1->total);
}

}  // namespace

Command add_quantize(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "quantize",
      "Quantize a float model to int8 after training: calibrate activation ranges on sample inputs, weights int8 per "
      "output channel, layers with too much error kept float");
  struct Args {
    std::string model, output, preprocess, method = "minmax", report, qdq_onnx;
    std::vector<std::string> calibration, eval, keep_float;
    bool per_channel = false, per_tensor = false;
    double percentile = 99.99;
    std::optional<double> min_sqnr;
    int random_sets = 8;
    SessionOptions session;
    LoadOptions load;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("model", args->model, "Float model (.onnx or .kiln)")->required();
  cmd->add_option("output", args->output, "Quantized model to write (.kiln)")->required();
  cmd->add_option("--calibration", args->calibration,
                  "Calibration inputs: image folders, images (with the model's preprocessing) or .npy files; "
                  "'random' for random inputs (ranges then mean little)")
      ->required();
  cmd->add_option("--preprocess", args->preprocess, "imagenet | inception | caffe | raw | centered128 (for images)");
  cmd->add_option("--method", args->method,
                  "Activation ranges: minmax, percentile, or entropy (the clipping with the least KL divergence)")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy"}))
      ->capture_default_str();
  cmd->add_option("--percentile", args->percentile, "Share of values (top and bottom) the percentile method keeps")
      ->check(CLI::Range(50.000001, 100.0))
      ->capture_default_str();
  auto* pc = cmd->add_flag("--per-channel", args->per_channel, "Weight scales per output channel (the default)");
  auto* pt = cmd->add_flag("--per-tensor", args->per_tensor, "One weight scale per tensor");
  pc->excludes(pt);
  cmd->add_option("--keep-float", args->keep_float, "Nodes to keep float32, comma-separated")->delimiter(',');
  cmd->add_option("--min-sqnr", args->min_sqnr,
                  "Layers whose int8 output has a lower SQNR (dB) against float go back to float32");
  cmd->add_option("--report", args->report, "Write the report as JSON");
  cmd->add_option("--qdq-onnx", args->qdq_onnx,
                  "Also write the quantized model as an ONNX QDQ file (the same scales, zero points, int8 weights and "
                  "float layers), for ONNX Runtime");
  cmd->add_option("--eval", args->eval, "Images or folders on which to count top-1 agreement int8 vs float");
  cmd->add_option("--random-sets", args->random_sets, "Input sets for --calibration random")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_session_flags(cmd, args->session);
  add_load_flags(cmd, args->load);  // --quiet comes with the session flags
  return [args] {
    const Model model = ptq::prepared_float_model(load_model_file(args->model, args->load));
    std::vector<ptq::InputSet> calibration;
    if (args->calibration.size() == 1 && args->calibration[0] == "random") {
      fmt::print(stderr,
                 "kiln quantize: warning: calibrating on random inputs; activation ranges of real data differ, so "
                 "expect a poor int8 model (give images or .npy files)\n");
      for (int i = 0; i < args->random_sets; ++i)
        calibration.push_back(compare::random_inputs(model.inputs(), static_cast<uint64_t>(i + 1)));
    } else {
      calibration = input_sets(expand(args->calibration, "--calibration"), "--calibration", model, args->preprocess);
    }
    std::vector<ptq::InputSet> eval;
    if (!args->eval.empty()) eval = input_sets(expand(args->eval, "--eval"), "--eval", model, args->preprocess);

    ptq::Options o;
    o.graph.weights = args->per_tensor ? quantize::WeightGranularity::PerTensor : quantize::WeightGranularity::PerChannel;
    o.graph.keep_float.insert(args->keep_float.begin(), args->keep_float.end());
    o.method = quantize::parse_method(args->method);
    o.percentile = args->percentile;
    o.min_sqnr_db = args->min_sqnr;
    o.session = args->session;

    // Calibration is the long part and runs once per input: one line per input
    // even in logs (unless --quiet); the later stages only on a terminal.
    ProgressLine line;
    const ptq::Report rep = ptq::run(model, calibration, eval, o, [&](const ptq::Progress& p) {
      if (p.stage != ptq::Progress::Stage::Calibrating) {
        line.update(ptq::describe(p));
      } else if (!quiet()) {
        line.clear();
        fmt::print(stderr, "kiln: {}\n", ptq::describe(p));
      }
    });
    line.clear();
    // The ONNX file first: a graph it cannot say fails the command before any file is written.
    if (!args->qdq_onnx.empty()) export_onnx(rep.result.qdq, args->qdq_onnx);
    save_graph(rep.result.graph, args->output);
    print_summary(rep, o, args->model, model.graph().nodes.size());
    if (!args->report.empty()) {
      std::ofstream f(args->report);
      f << ptq::to_json(rep, o).dump(2) << "\n";
      if (!f) throw Error(ErrorCode::Io, "cannot write " + args->report);
    }
    fmt::print("wrote {}\n", args->output);
    if (!args->qdq_onnx.empty()) fmt::print("wrote {} (the same quantization as ONNX QDQ)\n", args->qdq_onnx);
    return 0;
  };
}

}  // namespace kiln::cli
