#include "models/manifest.hpp"

#include <openssl/evp.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

namespace kiln::embedded {
extern const std::array<std::pair<std::string_view, std::string_view>, KILN_MANIFEST_COUNT> manifests;
}

namespace kiln::models {

namespace fs = std::filesystem;

fb::Preprocess parse_preprocess(const std::string& name) {
  if (name == "imagenet") return fb::Preprocess::Imagenet;
  if (name == "inception") return fb::Preprocess::Inception;
  if (name == "caffe") return fb::Preprocess::Caffe;
  if (name == "raw") return fb::Preprocess::Raw;
  if (name == "centered128") return fb::Preprocess::Centered128;
  throw Error(ErrorCode::InvalidArgument,
              "unknown preprocessing preset '" + name + "' (known: imagenet, inception, caffe, raw, centered128)");
}

const char* preprocess_name(fb::Preprocess p) {
  switch (p) {
    case fb::Preprocess::Imagenet: return "imagenet";
    case fb::Preprocess::Inception: return "inception";
    case fb::Preprocess::Caffe: return "caffe";
    case fb::Preprocess::Raw: return "raw";
    case fb::Preprocess::Centered128: return "centered128";
    case fb::Preprocess::Unknown: break;
  }
  return "unknown";
}

namespace {

Manifest parse_manifest(std::string_view file, std::string_view text) {
  try {
    const auto j = nlohmann::json::parse(text);
    Manifest m;
    m.name = j.at("name");
    m.file = j.at("file");
    m.sha256 = j.at("sha256");
    m.source_url = j.at("source_url");
    m.description = j.value("description", "");
    m.input_size = j.at("input_size");
    m.preprocess = parse_preprocess(j.at("preprocess"));
    const std::string resize = j.value("resize", "shorter_side");
    if (resize == "shorter_side") m.resize = fb::ResizePolicy::ShorterSide;
    else if (resize == "square_crop") m.resize = fb::ResizePolicy::SquareCrop;
    else throw Error(ErrorCode::InvalidModel, "unknown resize policy '" + resize + "'");
    const std::string filter = j.value("resize_filter", "bilinear");
    if (filter == "bilinear") m.resize_filter = fb::ResizeFilter::Bilinear;
    else if (filter == "antialiased_bilinear") m.resize_filter = fb::ResizeFilter::AntialiasedBilinear;
    else throw Error(ErrorCode::InvalidModel, "unknown resize filter '" + filter + "'");
    const std::string output = j.at("output");
    if (output == "logits") m.output = fb::OutputKind::Logits;
    else if (output == "probabilities") m.output = fb::OutputKind::Probabilities;
    else throw Error(ErrorCode::InvalidModel, "unknown output kind '" + output + "'");
    m.labels_file = j.value("labels", "");
    m.class_offset = j.value("class_offset", 0);
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::Internal, "embedded manifest " + std::string(file) + ": " + e.what());
  }
}

}  // namespace

const std::vector<Manifest>& known_models() {
  static const std::vector<Manifest> all = [] {
    std::vector<Manifest> v;
    for (const auto& [file, text] : embedded::manifests) v.push_back(parse_manifest(file, text));
    return v;
  }();
  return all;
}

const Manifest* find_by_sha256(const std::string& sha256) {
  for (const auto& m : known_models())
    if (m.sha256 == sha256) return &m;
  return nullptr;
}

const Manifest* find_by_name(const std::string& name) {
  for (const auto& m : known_models())
    if (m.name == name) return &m;
  return nullptr;
}

std::string sha256_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::Io, path + ": cannot open");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::vector<std::string> read_labels(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::Io, path + ": cannot open labels file");
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    labels.push_back(line);
  }
  while (!labels.empty() && labels.back().empty()) labels.pop_back();
  return labels;
}

std::string attach_model_metadata(Graph& graph, const std::string& onnx_path,
                                  const std::vector<std::string>& label_dirs, std::vector<std::string>& warnings) {
  const Manifest* m = find_by_sha256(sha256_file(onnx_path));
  if (!m) return "";
  fb::ModelInfoT& info = graph.info;
  info.name = m->name;
  info.source_url = m->source_url;
  info.source_sha256 = m->sha256;
  info.preprocess = m->preprocess;
  info.resize = m->resize;
  info.resize_filter = m->resize_filter;
  info.output_kind = m->output;
  info.class_offset = m->class_offset;
  if (!m->labels_file.empty()) {
    std::vector<fs::path> candidates;
    for (const auto& d : label_dirs) candidates.push_back(fs::path(d) / m->labels_file);
    fs::path dir = fs::absolute(onnx_path).parent_path();
    for (int up = 0; up < 3 && !dir.empty(); ++up, dir = dir.parent_path()) candidates.push_back(dir / m->labels_file);
    bool found = false;
    for (const auto& c : candidates)
      if (fs::exists(c)) {
        info.labels = read_labels(c.string());
        found = true;
        break;
      }
    if (!found)
      warnings.push_back("labels file '" + m->labels_file + "' for " + m->name +
                         " not found beside the model; pass --labels when classifying");
  }
  return m->name;
}

}  // namespace kiln::models
