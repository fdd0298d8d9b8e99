// `kiln convert | inspect | run | classify | bench` on a real model, as a user runs them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/common/npy.hpp"
#include "kiln/convert.hpp"
#include "tests/cli/process.hpp"
#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class Cli : public ::testing::Test {
 protected:
  // One folder per process: ctest runs each test in its own process, in parallel.
  static fs::path dir() { return fs::temp_directory_path() / ("kiln_cli_models_" + std::to_string(::getpid())); }
  static fs::path mobilenet() { return dir() / "mobilenet_v1_0.25_128.kiln"; }

  static void SetUpTestSuite() {
    fs::create_directories(dir());
    const fs::path onnx = shared_dir() / "models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx";
    if (fs::exists(onnx) && !fs::exists(mobilenet())) {
      const ProcessResult r = run_kiln({"convert", onnx.string(), mobilenet().string()});
      if (r.exit_code != 0) fs::remove(mobilenet());
    }
  }

  static void TearDownTestSuite() {
    std::error_code ignored;
    fs::remove_all(dir(), ignored);
  }

  void SetUp() override {
    if (!fs::exists(mobilenet()))
      GTEST_FAIL() << "could not convert mobilenet_v1_0.25_128 from " << shared_dir() << "/models";
  }
};

TEST_F(Cli, ConvertReportsKnownModelAndPasses) {
  const fs::path onnx = shared_file_or_skip("models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  const fs::path out = dir() / "convert_check.kiln";
  const ProcessResult r = run_kiln({"convert", onnx.string(), out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("known model: mobilenet_v1_0.25_128"));
  EXPECT_THAT(r.out, HasSubstr("fuse_activations"));
  EXPECT_TRUE(fs::exists(out));
  const ProcessResult raw = run_kiln({"convert", onnx.string(), (dir() / "raw.kiln").string(), "--no-optimize"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  EXPECT_THAT(raw.out, HasSubstr("passes: none"));
}

TEST_F(Cli, ConvertBatchOverride) {
  const fs::path onnx = shared_file_or_skip("models/resnet_cifar/resnet20.onnx");
  const fs::path out = dir() / "resnet20_b4.kiln";
  const ProcessResult r = run_kiln({"convert", onnx.string(), out.string(), "--batch", "4"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Model m = Model::load(out.string());
  EXPECT_EQ(m.inputs()[0].shape, (std::vector<int64_t>{4, 3, 32, 32}));
  EXPECT_EQ(m.outputs()[0].shape, (std::vector<int64_t>{4, 10}));
}

TEST_F(Cli, InspectShowsNodesMemoryAndPasses) {
  const ProcessResult r = run_kiln({"inspect", mobilenet().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("input     input [1,3,128,128]"));
  EXPECT_THAT(r.out, HasSubstr("Conv"));
  EXPECT_THAT(r.out, HasSubstr("act=Clip(0,6)"));
  EXPECT_THAT(r.out, HasSubstr("g=32"));  // a depthwise layer
  EXPECT_THAT(r.out, HasSubstr("fold_constants"));
  EXPECT_THAT(r.out, HasSubstr("arena"));
  EXPECT_THAT(r.out, HasSubstr("naive sum"));
  EXPECT_THAT(r.out, HasSubstr("known as  mobilenet_v1_0.25_128"));
  EXPECT_THAT(r.out, HasSubstr("format    1.2, checksums of the graph and weights verified"));
}

TEST_F(Cli, RunWritesOutputsMatchingOpenCv) {
  const fs::path in_pb = shared_file_or_skip("models/mobilenet_v1_0.25_128/opencv_ref_0/input_0.pb");
  const fs::path out_pb = shared_file_or_skip("models/mobilenet_v1_0.25_128/opencv_ref_0/output_0.pb");
  const fs::path out_dir = dir() / "run_out";
  fs::remove_all(out_dir);
  const ProcessResult r = run_kiln({"run", mobilenet().string(), "--input", "input=" + in_pb.string(),
                                    "--output-dir", out_dir.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Tensor got = npy::read((out_dir / "output.npy").string());
  const Tensor want = read_tensor_proto(out_pb.string()).tensor;
  ASSERT_EQ(got.size(), want.size());
  EXPECT_LE(max_abs_error(got.data(), want.data(), static_cast<size_t>(got.size())), 1e-3);

  // The same input as .npy, given without a name (single-input model).
  const fs::path in_npy = dir() / "input.npy";
  npy::write(in_npy.string(), read_tensor_proto(in_pb.string()).tensor);
  const ProcessResult r2 = run_kiln({"run", mobilenet().string(), "-i", in_npy.string(), "-o", out_dir.string()});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  const Tensor got2 = npy::read((out_dir / "output.npy").string());
  EXPECT_EQ(max_abs_error(got.data(), got2.data(), static_cast<size_t>(got.size())), 0.0);
}

TEST_F(Cli, ClassifyPrintsTopKWithLabels) {
  const fs::path parrot = shared_file_or_skip("images/parrot.jpg");
  const fs::path dog = shared_file_or_skip("images/wml_dog.jpg");
  const ProcessResult r = run_kiln({"classify", mobilenet().string(), parrot.string(), dog.string(), "--top", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1. 0."));
  EXPECT_THAT(r.out, HasSubstr("macaw (88)"));
  EXPECT_THAT(r.out, HasSubstr("golden retriever (207)"));
  EXPECT_THAT(r.out, ::testing::Not(HasSubstr("  4. ")));
}

TEST_F(Cli, ClassifyWithExplicitPresetAndLabels) {
  const fs::path onnx = shared_file_or_skip("models/squeezenet1.1/squeezenet1.1.onnx");
  const fs::path labels = shared_file_or_skip("models/imagenet_labels.txt");
  const fs::path hotdog = shared_file_or_skip("images/hot_dog.jpg");
  const fs::path out = dir() / "squeezenet.kiln";
  ASSERT_EQ(run_kiln({"convert", onnx.string(), out.string()}).exit_code, 0);
  const ProcessResult r = run_kiln({"classify", out.string(), hotdog.string(), "--preprocess", "imagenet",
                                    "--labels", labels.string(), "--top", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1. 0.9"));
  EXPECT_THAT(r.out, HasSubstr("hotdog (934)"));
}

TEST_F(Cli, BenchReportsTimesMemoryAndLayers) {
  const fs::path json_path = dir() / "bench.json";
  const ProcessResult r = run_kiln({"bench", mobilenet().string(), "--backend", "reference", "--runs", "3",
                                    "--warmup", "1", "--json", json_path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* field : {"load ", "Model::load", "Session creation", "first run", "p50 ", "p90 ", "p99 ", "min ",
                            "mean ", "throughput", "inferences/s (batch 1)", "peak RSS", "ru_maxrss", "VmHWM",
                            "per layer", "GFLOP/s", "share", "slowest 5 layers", "Conv_0"})
    EXPECT_THAT(r.out, HasSubstr(field));

  std::ifstream in(json_path);
  ASSERT_TRUE(in) << "no JSON written at " << json_path;
  const nlohmann::json j = nlohmann::json::parse(in);  // throws (fails the test) if it is not JSON
  EXPECT_EQ(j["session"]["backend"], "reference");
  EXPECT_EQ(j["runs"], 3);
  EXPECT_EQ(j["warmup"], 1);
  EXPECT_EQ(j["batch"], 1);
  EXPECT_EQ(j["inputs"][0]["shape"], (std::vector<int64_t>{1, 3, 128, 128}));
  EXPECT_GE(j["load_ms"].get<double>(), 0.0);
  EXPECT_GE(j["session_ms"].get<double>(), 0.0);
  EXPECT_GT(j["first_inference_ms"].get<double>(), 0.0);
  const auto& lat = j["latency_ms"];
  EXPECT_GT(lat["p50"].get<double>(), 0.0);
  EXPECT_LE(lat["min"].get<double>(), lat["p50"].get<double>());
  EXPECT_LE(lat["p50"].get<double>(), lat["p90"].get<double>());
  EXPECT_LE(lat["p90"].get<double>(), lat["p99"].get<double>());
  EXPECT_LE(lat["p99"].get<double>(), lat["max"].get<double>());
  EXPECT_EQ(j["latencies_ms"].size(), 3u);
  EXPECT_GT(j["throughput_per_s"].get<double>(), 0.0);
  EXPECT_GT(j["flops"].get<int64_t>(), 0);
  EXPECT_GT(j["memory"]["peak_rss_kib"].get<int64_t>(), 1000);  // at least the weights (1.8 MiB) are resident
  EXPECT_GT(j["memory"]["vm_hwm_kib"].get<int64_t>(), 1000);

  const Model model = Model::load(mobilenet().string());
  const auto nodes = model.nodes();
  const auto& layers = j["layers"];
  ASSERT_EQ(layers.size(), nodes.size());
  double share_sum = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    EXPECT_EQ(layers[i]["index"], i);
    EXPECT_EQ(layers[i]["name"], nodes[i].name);
    EXPECT_EQ(layers[i]["op"], nodes[i].op);
    EXPECT_GE(layers[i]["median_ms"].get<double>(), 0.0);
    EXPECT_GE(layers[i]["share"].get<double>(), 0.0);
    share_sum += layers[i]["share"].get<double>();
  }
  EXPECT_NEAR(share_sum, 1.0, 1e-6);
  ASSERT_EQ(j["slowest_layers"].size(), 5u);
  for (size_t k = 1; k < 5; ++k)
    EXPECT_GE(layers[j["slowest_layers"][k - 1].get<size_t>()]["median_ms"].get<double>(),
              layers[j["slowest_layers"][k].get<size_t>()]["median_ms"].get<double>());
}

// `kiln bench --energy`: a fake RAPL powercap tree (KILN_POWERCAP_ROOT) is
// read for CPU backends; without a meter the report says so plainly; the
// cuda backend without NVML or a device fails before measuring anything.
TEST_F(Cli, BenchEnergy) {
  const fs::path rapl = dir() / "powercap" / "intel-rapl:0";
  fs::create_directories(rapl);
  std::ofstream(rapl / "energy_uj") << "123456\n";
  std::ofstream(rapl / "max_energy_range_uj") << "262143328850\n";
  std::ofstream(rapl / "name") << "package-0\n";
  const fs::path json_path = dir() / "energy.json";
  setenv("KILN_POWERCAP_ROOT", (dir() / "powercap").c_str(), 1);
  const ProcessResult r = run_kiln({"bench", mobilenet().string(), "--backend", "reference", "--runs", "1",
                                    "--warmup", "0", "--energy", "--json", json_path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The fake counter stands still: 0 J over at least one second of runs.
  EXPECT_THAT(r.out, HasSubstr("energy       0.0000 J/inference"));
  EXPECT_THAT(r.out, HasSubstr("RAPL powercap (package-0)"));
  std::ifstream in(json_path);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["energy"]["available"], true);
  EXPECT_GE(j["energy"]["seconds"].get<double>(), 1.0);
  EXPECT_GE(j["energy"]["runs"].get<int>(), 1);

  setenv("KILN_POWERCAP_ROOT", (dir() / "no_powercap").c_str(), 1);
  const ProcessResult none = run_kiln({"bench", mobilenet().string(), "--runs", "1", "--warmup", "0", "--energy"});
  unsetenv("KILN_POWERCAP_ROOT");
  ASSERT_EQ(none.exit_code, 0) << none.err;
  // The default backend (auto) is named as resolved, the one the meter was asked about.
  const auto names = available_backends();
  const std::string resolved = std::find(names.begin(), names.end(), "cpu") != names.end() ? "cpu" : "reference";
  EXPECT_THAT(none.out, HasSubstr("energy       no energy meter available on this machine for backend " + resolved));
}

// With no flags, an ONNX file is converted in memory (saying so on stderr),
// gets its known-model metadata, and runs on the auto backend with every core:
// the same top-5 as the converted .kiln file.
TEST_F(Cli, ClassifyOnnxWithNoFlagsMatchesTheKilnFile) {
  const fs::path onnx = shared_file_or_skip("models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  const fs::path parrot = shared_file_or_skip("images/parrot.jpg");
  const fs::path dog = shared_file_or_skip("images/wml_dog.jpg");
  if (HasFailure()) return;
  const ProcessResult from_onnx = run_kiln({"classify", onnx.string(), parrot.string(), dog.string()});
  ASSERT_EQ(from_onnx.exit_code, 0) << from_onnx.err;
  const ProcessResult from_kiln = run_kiln({"classify", mobilenet().string(), parrot.string(), dog.string()});
  ASSERT_EQ(from_kiln.exit_code, 0) << from_kiln.err;
  EXPECT_EQ(from_onnx.out, from_kiln.out);
  EXPECT_THAT(from_onnx.out, HasSubstr("  5. "));
  EXPECT_THAT(from_onnx.out, HasSubstr("macaw (88)"));
  EXPECT_THAT(from_onnx.err, HasSubstr("kiln: converted " + onnx.string() + " in memory in "));
  EXPECT_THAT(from_onnx.err, HasSubstr("kiln convert writes a .kiln"));
  EXPECT_THAT(from_kiln.err, ::testing::Not(HasSubstr("converted")));
  const auto names = available_backends();
  if (std::find(names.begin(), names.end(), "cpu") != names.end()) {
    EXPECT_THAT(from_onnx.err, HasSubstr("kiln: session cpu (auto: "));
  }
  EXPECT_THAT(from_onnx.err, HasSubstr("threads " + std::to_string(available_cores()) + " (every core)"));
}

// --save-inputs writes the tensor classify fed the model: kiln run on it
// gives the same top-1 (macaw: class 88, output index 89 after the background).
TEST_F(Cli, ClassifySaveInputsWritesWhatTheModelWasFed) {
  const fs::path parrot = shared_file_or_skip("images/parrot.jpg");
  if (HasFailure()) return;
  const fs::path inputs = dir() / "saved_inputs";
  const ProcessResult r =
      run_kiln({"classify", "-q", mobilenet().string(), "--top", "1", "--save-inputs", inputs.string(),
                parrot.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("macaw (88)"));
  const fs::path saved = inputs / "parrot.jpg.npy";
  const Tensor x = npy::read(saved.string());
  EXPECT_EQ(x.shape(), (std::vector<int64_t>{1, 3, 128, 128}));
  const fs::path out = dir() / "saved_inputs_out";
  const ProcessResult run =
      run_kiln({"run", "-q", mobilenet().string(), "--input", saved.string(), "-o", out.string()});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const Tensor y = npy::read(fs::directory_iterator(out)->path().string());
  EXPECT_EQ(std::max_element(y.data(), y.data() + y.size()) - y.data(), 89);
}

TEST_F(Cli, InspectAndBenchOnnxSayWhichBackendWasPicked) {
  const fs::path onnx = shared_file_or_skip("models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  if (HasFailure()) return;
  const auto names = available_backends();
  const std::string resolved = std::find(names.begin(), names.end(), "cpu") != names.end() ? "cpu" : "reference";
  const ProcessResult r = run_kiln({"inspect", onnx.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("known as  mobilenet_v1_0.25_128"));
  EXPECT_THAT(r.out, HasSubstr("session   " + resolved + " (auto: "));
  EXPECT_THAT(r.out, HasSubstr("threads " + std::to_string(available_cores()) + " (every core), algorithm heuristic"));
  EXPECT_THAT(r.out, HasSubstr("on backend '" + resolved + "'"));
  EXPECT_THAT(r.err, HasSubstr("converted"));

  const ProcessResult named = run_kiln({"inspect", mobilenet().string(), "--backend", "reference", "--threads", "1"});
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_THAT(named.out, HasSubstr("session   reference (asked for), threads 1, algorithm heuristic"));

  const fs::path json_path = dir() / "bench_onnx.json";
  const ProcessResult b =
      run_kiln({"bench", onnx.string(), "--runs", "2", "--warmup", "0", "--json", json_path.string()});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_THAT(b.out, HasSubstr("options      " + resolved + " (auto: "));
  std::ifstream in(json_path);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["backend"], resolved);
  EXPECT_THAT(j["backend_choice"].get<std::string>(), HasSubstr("auto"));
  EXPECT_EQ(j["threads"], available_cores());
  EXPECT_EQ(j["session"]["backend"], "auto");
  EXPECT_EQ(j["session"]["threads"], 0);
}

// Progress lines are for terminals only: with stderr captured (as here, and
// in CI logs) nothing with a carriage return is written, even for tuning and
// runs long enough to get one; --quiet is accepted and drops the notes too.
TEST_F(Cli, NoProgressWhenStderrIsNotATerminalAndQuietIsAccepted) {
  const fs::path cache = dir() / "progress_tuning.tsv";
  const ProcessResult tune = run_kiln({"bench", mobilenet().string(), "--algorithm", "tune", "--tuning-cache",
                                       cache.string(), "--runs", "3", "--warmup", "0"});
  ASSERT_EQ(tune.exit_code, 0) << tune.err;
  EXPECT_EQ(tune.err.find('\r'), std::string::npos) << tune.err;
  EXPECT_THAT(tune.err, ::testing::Not(HasSubstr("kiln: tuning convolution layers")));
  EXPECT_THAT(tune.err, ::testing::Not(HasSubstr("kiln: bench run")));

  const fs::path onnx = shared_file_or_skip("models/mobilenet_v1_0.25_128/mobilenet_v1_0.25_128_dequant.onnx");
  const fs::path parrot = shared_file_or_skip("images/parrot.jpg");
  if (HasFailure()) return;
  const ProcessResult quiet = run_kiln({"classify", "--quiet", onnx.string(), parrot.string()});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_THAT(quiet.out, HasSubstr("macaw (88)"));
  EXPECT_EQ(quiet.err, "");
  for (const char* command : {"inspect", "bench"}) {
    std::vector<std::string> args{command, "-q", mobilenet().string()};
    if (std::string(command) == "bench") args.insert(args.end(), {"--runs", "1", "--warmup", "0"});
    const ProcessResult r = run_kiln(args);
    EXPECT_EQ(r.exit_code, 0) << command << ": " << r.err;
    EXPECT_EQ(r.err, "") << command;
  }
}

TEST_F(Cli, BenchErrors) {
  // Usage errors: exit 2.
  for (const auto& extra : std::vector<std::vector<std::string>>{{"--runs", "0"},
                                                                  {"--runs", "many"},
                                                                  {"--warmup", "-1"},
                                                                  {"--threads", "-1"},
                                                                  {"--algorithm", "fastest"},
                                                                  {"--algorithm", "fixed:"},
                                                                  {"--no-such-flag"}}) {
    std::vector<std::string> args{"bench", mobilenet().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const ProcessResult r = run_kiln(args);
    EXPECT_FALSE(r.signaled);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << "\n" << r.err;
    EXPECT_FALSE(r.err.empty());
  }
  EXPECT_EQ(run_kiln({"bench"}).exit_code, 2);

  // A missing model and an unknown backend: exit 1 with a message naming them.
  const ProcessResult missing = run_kiln({"bench", (dir() / "no_such_model.kiln").string(), "--runs", "1"});
  EXPECT_FALSE(missing.signaled);
  EXPECT_EQ(missing.exit_code, 1) << missing.err;
  EXPECT_THAT(missing.err, HasSubstr("no_such_model.kiln"));
  const ProcessResult backend = run_kiln({"bench", mobilenet().string(), "--backend", "no_such_backend"});
  EXPECT_EQ(backend.exit_code, 1) << backend.err;
  EXPECT_THAT(backend.err, HasSubstr("unknown backend 'no_such_backend'"));
  EXPECT_THAT(backend.err, HasSubstr("reference"));  // the list of available backends
}

// --fp16-storage is a Vulkan option: the host backends refuse it (exit 1, a
// message saying why) instead of silently running float32.
TEST_F(Cli, Fp16StorageOnAHostBackendIsAClearError) {
  for (const char* backend : {"cpu", "reference"}) {
    const ProcessResult r = run_kiln({"bench", mobilenet().string(), "--backend", backend, "--fp16-storage", "--runs", "1"});
    EXPECT_FALSE(r.signaled);
    EXPECT_EQ(r.exit_code, 1) << backend << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("--fp16-storage is a Vulkan option; backend '" + std::string(backend) + "' stores float32"));
  }
}

// --reference-precision f64: the reference backend runs it; another backend
// refuses it (exit 1, saying why); a value other than f32/f64 is a usage error.
TEST_F(Cli, ReferencePrecision) {
  const ProcessResult ok = run_kiln(
      {"bench", mobilenet().string(), "--backend", "reference", "--reference-precision", "f64", "--runs", "1"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  if (std::ranges::count(available_backends(), std::string("cpu"))) {
    const ProcessResult cpu =
        run_kiln({"bench", mobilenet().string(), "--backend", "cpu", "--reference-precision", "f64", "--runs", "1"});
    EXPECT_EQ(cpu.exit_code, 1) << cpu.err;
    EXPECT_THAT(cpu.err, HasSubstr("reference-backend setting; backend 'cpu'"));
  }
  const ProcessResult bad = run_kiln({"bench", mobilenet().string(), "--reference-precision", "f16", "--runs", "1"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("'f16' is not f32 or f64"));
}

TEST_F(Cli, EveryCommandTakesTheSessionFlags) {
  const std::vector<std::string> flags{"--backend",   "reference", "--threads",   "2",          "--algorithm",
                                       "heuristic",   "--isa",     "generic",     "--deterministic"};
  auto with_flags = [&](std::vector<std::string> args) {
    args.insert(args.end(), flags.begin(), flags.end());
    return args;
  };
  EXPECT_EQ(run_kiln(with_flags({"inspect", mobilenet().string()})).exit_code, 0);
  EXPECT_EQ(run_kiln(with_flags({"bench", mobilenet().string(), "--runs", "1", "--warmup", "0"})).exit_code, 0);
  const fs::path in_npy = dir() / "flags_input.npy";
  npy::write(in_npy.string(), Tensor({1, 3, 128, 128}));
  EXPECT_EQ(run_kiln(with_flags({"run", mobilenet().string(), "-i", in_npy.string(), "-o",
                                 (dir() / "flags_out").string()}))
                .exit_code,
            0);
  if (fs::exists(shared_dir() / "images/parrot.jpg")) {
    EXPECT_EQ(run_kiln(with_flags({"classify", mobilenet().string(), (shared_dir() / "images/parrot.jpg").string()}))
                  .exit_code,
              0);
  }
  // Otherwise complete command lines: only --algorithm is wrong.
  const std::string m = mobilenet().string();
  for (const auto& args : std::vector<std::vector<std::string>>{{"inspect", m},
                                                                 {"run", m, "-i", in_npy.string(), "-o", "out"},
                                                                 {"classify", m, "a.jpg"},
                                                                 {"bench", m}}) {
    std::vector<std::string> bad = args;
    bad.insert(bad.end(), {"--algorithm", "bogus"});
    const ProcessResult r = run_kiln(bad);
    EXPECT_EQ(r.exit_code, 2) << args[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("--algorithm")) << args[0];
  }
}

// --deterministic takes an optional level: alone it means threads; portable
// reaches the session (and bench's JSON); an unknown level is a usage error
// naming the levels.
TEST_F(Cli, DeterministicLevels) {
  const std::string m = mobilenet().string();
  const fs::path json_path = dir() / "bench_portable.json";
  for (const auto& [args, level] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--deterministic"}, "threads"},
           {{"--deterministic", "portable"}, "portable"},
           {{"--deterministic=threads"}, "threads"},
           {{"--deterministic", "off"}, "off"},
           {{}, "off"}}) {
    std::vector<std::string> cmd{"bench", m, "--backend", "cpu", "--runs", "1", "--warmup", "0", "--json",
                                 json_path.string()};
    cmd.insert(cmd.end(), args.begin(), args.end());
    const ProcessResult r = run_kiln(cmd);
    ASSERT_EQ(r.exit_code, 0) << level << ": " << r.err;
    std::ifstream in(json_path);
    const nlohmann::json j = nlohmann::json::parse(in);
    EXPECT_EQ(j["session"]["deterministic"], level);
  }
  const ProcessResult bad = run_kiln({"bench", m, "--deterministic", "bitwise"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_THAT(bad.err, HasSubstr("unknown determinism level 'bitwise' (expected off, threads or portable)"));
  const ProcessResult inspect = run_kiln({"inspect", m, "--backend", "cpu", "--deterministic", "portable"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_THAT(inspect.out, HasSubstr("deterministic portable"));
}

TEST(CliUsage, UsageErrorsExitWithTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{{}, {"bogus"}, {"convert"}, {"run", "x.kiln"},
                                                                 {"classify", "m.kiln", "a.jpg", "--top", "zero"}}) {
    const ProcessResult r = run_kiln(args);
    EXPECT_FALSE(r.signaled);
    EXPECT_EQ(r.exit_code, 2) << ::testing::PrintToString(args) << "\n" << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

TEST(CliUsage, DevicesListsEveryBackendOfTheBuild) {
  const ProcessResult r = run_kiln({"devices"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& name : available_backends()) EXPECT_THAT(r.out, HasSubstr(name + ":")) << r.out;
  EXPECT_THAT(r.out, HasSubstr("reference: runs on the host CPU"));
  const ProcessResult bad = run_kiln({"devices", "--backend", "nonesuch"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_THAT(bad.err, HasSubstr("unknown backend 'nonesuch'"));
}

TEST(CliUsage, HelpAndVersionSucceed) {
  EXPECT_EQ(run_kiln({"--help"}).exit_code, 0);
  EXPECT_THAT(run_kiln({"--version"}).out, HasSubstr("kiln"));
}

}  // namespace
}  // namespace kiln::test
