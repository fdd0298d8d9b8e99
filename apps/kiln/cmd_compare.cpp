// `kiln compare`: the numerical-deviation report (apps/common/compare.hpp).
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "apps/common/compare.hpp"
#include "apps/common/tensor_files.hpp"
#include "apps/kiln/commands.hpp"
#include "apps/kiln/console.hpp"
#include "apps/kiln/table.hpp"
#include "kiln/kiln.hpp"
#include "kiln/vision.hpp"

namespace kiln::cli {

namespace {

std::string sci(double x) { return std::isfinite(x) ? fmt::format("{:.3g}", x) : "inf"; }

std::string node_text(const std::optional<compare::NodeDeviation>& n) {
  if (!n) return "-";
  return fmt::format("#{} {} ({})", n->node_index, n->node, n->op);
}

std::string algorithms_text(const std::map<std::string, int>& m) {
  std::string s;
  for (const auto& [name, count] : m) {
    if (!s.empty()) s += ' ';
    s += fmt::format("{}×{}", name, count);
  }
  return s;
}

void print_report(const compare::Report& rep) {
  Table configs({"#", "configuration", "class", "first run ms", "convolutions"});
  for (size_t i = 0; i < rep.configurations.size(); ++i) {
    const auto& r = rep.configurations[i];
    std::string cls = r.cls >= 0 ? fmt::format("{}", r.cls) : r.status + ": " + r.error;
    if (!r.runs_agree) cls += " (repeated runs differ!)";
    configs.add({std::to_string(i + 1), r.config.label(), cls, r.cls >= 0 ? fmt::format("{:.1f}", r.ms_per_run) : "",
                 algorithms_text(r.conv_algorithms)});
  }
  fmt::print("{}\n", configs.str());
  for (const auto& u : rep.unusable) fmt::print("not compared: {}: {}\n", u.backend, u.reason);

  fmt::print("{} equivalence class{} (bitwise-identical outputs); deviation from the {}:\n", rep.classes.size(),
             rep.classes.size() == 1 ? "" : "es", rep.reference);
  Table classes({"class", "hash", "configs", "max rel", "max abs", "max ULP", "top-1 changed", "top-5 changed",
                 "first differing node", "first rel > 1e-6"});
  for (size_t k = 0; k < rep.classes.size(); ++k) {
    const auto& c = rep.classes[k];
    const auto& d = c.vs_reference;
    std::string first = c.baseline ? "(baseline)" : node_text(c.first_differing);
    if (!c.trace_error.empty()) first = "trace failed: " + c.trace_error;
    else if (c.traced && !c.trace_matches_run) first += " [traced run differs]";
    classes.add({std::to_string(k), c.hash.substr(0, 8), std::to_string(c.members.size()),
                 rep.reference_ok ? sci(d.max_rel) : "-", rep.reference_ok ? sci(d.max_abs) : "-",
                 rep.reference_ok ? std::to_string(d.max_ulp) : "-",
                 d.classifier ? fmt::format("{}/{}", d.top1_changes, d.rows) : "-",
                 d.classifier ? fmt::format("{}/{}", d.top5_changes, d.rows) : "-", first,
                 c.baseline ? "" : node_text(c.first_over_1e6)});
  }
  fmt::print("{}\n", classes.str());
  if (rep.propagation_classes) {
    const auto [a, b] = *rep.propagation_classes;
    double worst = 0;
    size_t first_diff = rep.propagation.size();
    for (size_t i = 0; i < rep.propagation.size(); ++i) {
      worst = std::max(worst, rep.propagation[i].rel);
      if (first_diff == rep.propagation.size() && !rep.propagation[i].bitwise_equal) first_diff = i;
    }
    fmt::print("propagation, class {} against class {} (the two furthest apart): {} of {} node outputs differ, "
               "largest relative deviation {}, at the graph's end {} (--json has it per node)\n",
               a, b,
               std::count_if(rep.propagation.begin(), rep.propagation.end(),
                             [](const compare::NodeDeviation& n) { return !n.bitwise_equal; }),
               rep.propagation.size(), sci(worst), rep.propagation.empty() ? "-" : sci(rep.propagation.back().rel));
  }
  fmt::print("compared {} configuration{} in {:.1f} s\n", rep.configurations.size(),
             rep.configurations.size() == 1 ? "" : "s", rep.seconds);
}

// The plotting script: beside the sources this binary was built from, or installed.
std::string plot_script() {
  for (const std::filesystem::path& p :
       {std::filesystem::path(KILN_SOURCE_DIR) / "scripts/plot_bench.py",
        std::filesystem::path(KILN_INSTALL_DATADIR) / "plot_bench.py"})
    if (std::filesystem::exists(p)) return p.string();
  return {};
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  q += '\'';
  return q;
}

}  // namespace

Command add_compare(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "compare",
      "Run a model under many configurations (backends, ISA levels, threads, algorithms, determinism) and report "
      "which give bitwise-identical outputs, how far each group is from a float64 reference, and where they diverge");
  struct Args {
    std::string model, json, plot, preprocess, reference_precision = "f64";
    std::vector<std::string> inputs, images;
    uint64_t seed = 1;
    compare::Plan plan;
    LoadOptions load;
  };
  auto args = std::make_shared<Args>();
  auto& p = args->plan;
  cmd->add_option("model", args->model, "Kiln model (.kiln) or ONNX model (.onnx)")->required();
  cmd->add_option("--input,-i", args->inputs, "NAME=FILE (.npy or .pb); FILE alone for a single-input model");
  cmd->add_option("--images", args->images, "Images, run with the model's preprocessing (one run per batch)");
  cmd->add_option("--preprocess", args->preprocess, "imagenet | inception | caffe | raw | centered128 (for --images)");
  cmd->add_option("--seed", args->seed, "Seed of the random input used when neither --input nor --images is given")
      ->capture_default_str();
  cmd->add_option("--backends", p.backends, "Backends to compare, comma-separated, or all (default: all built in)")
      ->delimiter(',');
  cmd->add_option("--isa", p.isas, "CPU instruction-set levels, or all (default: the best this CPU has)")
      ->delimiter(',');
  cmd->add_option("--threads", p.threads, "CPU thread counts, or all = 1..cores (default: 1,2)")->delimiter(',');
  cmd->add_option("--algorithms", p.algorithms,
                  "heuristic, tune, fixed:NAME, or all = every algorithm of each backend (default: heuristic)")
      ->delimiter(',');
  cmd->add_option("--deterministic", p.deterministic, "off, threads, portable, or all (default: off)")->delimiter(',');
  cmd->add_option("--fp16-storage", p.fp16_storage, "off, on, or all (backends that support it; default: off)")
      ->delimiter(',');
  cmd->add_option("--reference-precision", args->reference_precision,
                  "Accumulation of the reference run every class is measured against: f64 or f32")
      ->check(CLI::IsMember({"f32", "f64"}))
      ->capture_default_str();
  cmd->add_option("--repeats", p.repeats, "Runs per configuration; runs that differ are flagged")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--tuning-cache", p.base.tuning_cache, "Where --algorithms tune keeps its measurements");
  cmd->add_option("--device", p.base.gpu.device, "Device index for GPU backends");
  cmd->add_option("--json", args->json, "Write the report as JSON (configurations, classes, propagation CSV)");
  cmd->add_option("--plot", args->plot, "Draw the propagation profile (needs python3 with matplotlib)");
  add_load_flags(cmd, args->load);
  add_quiet_flag(cmd);
  return [args] {
    if (!args->inputs.empty() && !args->images.empty())
      throw Error(ErrorCode::InvalidArgument, "give --input or --images, not both");
    const Model model = load_model_file(args->model, args->load);
    args->plan.reference_f64 = args->reference_precision == "f64";

    std::vector<compare::InputSet> sets;
    const std::vector<TensorDesc> descs = model.inputs();
    if (!args->images.empty()) {
      ModelMetadata meta = model.metadata();
      if (!args->preprocess.empty()) meta.preprocess = parse_preprocess_name(args->preprocess);
      sets = compare::image_inputs(descs, meta, args->images);
    } else if (!args->inputs.empty()) {
      compare::InputSet set;
      set.tensors.resize(descs.size());
      std::vector<char> given(descs.size(), 0);
      for (const std::string& spec : args->inputs) {
        const size_t eq = spec.find('=');
        if (eq == std::string::npos && descs.size() != 1)
          throw Error(ErrorCode::InvalidArgument,
                      "the model has " + std::to_string(descs.size()) + " inputs: name each as --input NAME=FILE");
        const std::string name = eq == std::string::npos ? descs[0].name : spec.substr(0, eq);
        const std::string file = eq == std::string::npos ? spec : spec.substr(eq + 1);
        size_t i = descs.size();
        for (size_t k = 0; k < descs.size(); ++k)
          if (descs[k].name == name) i = k;
        if (i == descs.size()) throw Error(ErrorCode::InvalidArgument, "the model has no input '" + name + "'");
        Tensor t = read_tensor_file(file);
        if (t.shape() != descs[i].shape || t.type() != descs[i].type)
          throw Error(ErrorCode::InvalidArgument, file + ": holds " + element_type_name(t.type()) + " " +
                                                      shape_str(t.shape()) + " but input '" + name + "' takes " +
                                                      element_type_name(descs[i].type) + " " + shape_str(descs[i].shape));
        set.tensors[i] = std::move(t);
        given[i] = 1;
        if (!set.what.empty()) set.what += ", ";
        set.what += name + "=" + file;
      }
      for (size_t i = 0; i < descs.size(); ++i)
        if (!given[i]) throw Error(ErrorCode::InvalidArgument, "no file given for input '" + descs[i].name + "'");
      sets.push_back(std::move(set));
    } else {
      sets.push_back(compare::random_inputs(descs, args->seed));
    }

    const compare::Report rep = compare::run(model, args->model, sets, args->plan, [](const std::string& line) {
      if (!quiet()) fmt::print(stderr, "kiln compare: {}\n", line);
    });
    print_report(rep);

    std::string json_path = args->json;
    if (json_path.empty() && !args->plot.empty())
      json_path = (std::filesystem::temp_directory_path() / fmt::format("kiln-compare-{}.json", getpid())).string();
    if (!json_path.empty()) {
      std::ofstream f(json_path);
      f << compare::to_json(rep).dump(1) << "\n";
      if (!f) throw Error(ErrorCode::Io, "cannot write " + json_path);
    }
    if (!args->plot.empty()) {
      const std::string script = plot_script();
      if (script.empty()) {
        fmt::print(stderr, "kiln compare: no plot: scripts/plot_bench.py is not installed here\n");
      } else if (!rep.propagation_classes) {
        fmt::print(stderr, "kiln compare: no plot: every configuration gave the same bits, nothing propagates\n");
      } else {
        // The system's Python first: the one with Debian's matplotlib, whatever comes first on PATH.
        std::string command = std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3 " : "python3 ";
        command += shell_quote(script);
        command += " --deviation " + shell_quote(json_path) + " " + shell_quote(args->plot);
        if (std::system(command.c_str()) != 0)
          fmt::print(stderr, "kiln compare: the plot was not drawn (python3 with matplotlib needed); the JSON has "
                             "the profile\n");
      }
      if (args->json.empty()) std::filesystem::remove(json_path);
    }
    return 0;
  };
}

}  // namespace kiln::cli
