#include "kiln/energy.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "engine/runtime/backend_registry.hpp"
#include "kiln/error.hpp"

namespace kiln {

namespace {

// ---- NVML ---------------------------------------------------------------------------
// The few NVML entry points used, declared here so that the build needs no
// NVML header or library.
using NvmlReturn = int;
using NvmlDevice = struct NvmlDeviceOpaque*;

class NvmlMeter final : public EnergyMeter {
 public:
  ~NvmlMeter() override {
    if (shutdown_) shutdown_();
    if (lib_) dlclose(lib_);
  }
  static std::unique_ptr<EnergyMeter> open(int device, const std::string& library, std::string* why) {
    auto m = std::unique_ptr<NvmlMeter>(new NvmlMeter());
    m->lib_ = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!m->lib_) {
      const char* e = dlerror();
      *why = "no NVML (" + library + " cannot be loaded: " + (e ? e : "unknown error") + ")";
      return nullptr;
    }
    auto sym = [&](const char* name) { return dlsym(m->lib_, name); };
    auto init = reinterpret_cast<NvmlReturn (*)()>(sym("nvmlInit_v2"));
    auto by_index = reinterpret_cast<NvmlReturn (*)(unsigned, NvmlDevice*)>(sym("nvmlDeviceGetHandleByIndex_v2"));
    auto get_name = reinterpret_cast<NvmlReturn (*)(NvmlDevice, char*, unsigned)>(sym("nvmlDeviceGetName"));
    m->energy_ = reinterpret_cast<NvmlReturn (*)(NvmlDevice, unsigned long long*)>(sym("nvmlDeviceGetTotalEnergyConsumption"));
    m->error_string_ = reinterpret_cast<const char* (*)(NvmlReturn)>(sym("nvmlErrorString"));
    auto shutdown = reinterpret_cast<NvmlReturn (*)()>(sym("nvmlShutdown"));
    if (!init || !by_index || !m->energy_ || !shutdown) {
      *why = "no NVML (" + library + " lacks nvmlInit_v2, nvmlDeviceGetHandleByIndex_v2 or nvmlDeviceGetTotalEnergyConsumption)";
      return nullptr;
    }
    if (NvmlReturn r = init(); r != 0) {
      *why = "no NVML (nvmlInit failed: " + m->error(r) + ")";
      return nullptr;
    }
    m->shutdown_ = shutdown;
    if (NvmlReturn r = by_index(static_cast<unsigned>(device), &m->device_); r != 0) {
      *why = "no NVML device " + std::to_string(device) + " (" + m->error(r) + ")";
      return nullptr;
    }
    char name[96] = "unknown";
    if (get_name) get_name(m->device_, name, sizeof name);
    m->name_ = "NVML total energy of GPU " + std::to_string(device) + " (" + name + ")";
    unsigned long long mj = 0;
    if (NvmlReturn r = m->energy_(m->device_, &mj); r != 0) {
      *why = "no NVML energy counter on GPU " + std::to_string(device) + " (" + m->error(r) +
             "; it needs a Volta or newer GPU)";
      return nullptr;
    }
    m->start_mj_ = mj;
    return m;
  }
  std::string name() const override { return name_; }
  double joules() override {
    unsigned long long mj = 0;
    if (NvmlReturn r = energy_(device_, &mj); r != 0)
      throw Error(ErrorCode::Io, "nvmlDeviceGetTotalEnergyConsumption failed: " + error(r));
    return static_cast<double>(mj - start_mj_) * 1e-3;  // a 64-bit mJ counter does not wrap
  }

 private:
  NvmlMeter() = default;
  std::string error(NvmlReturn r) const {
    return error_string_ ? std::string(error_string_(r)) : "NVML error " + std::to_string(r);
  }
  void* lib_ = nullptr;
  NvmlDevice device_ = nullptr;
  NvmlReturn (*energy_)(NvmlDevice, unsigned long long*) = nullptr;
  const char* (*error_string_)(NvmlReturn) = nullptr;
  NvmlReturn (*shutdown_)() = nullptr;
  unsigned long long start_mj_ = 0;
  std::string name_;
};

// ---- RAPL powercap ---------------------------------------------------------------------
bool read_u64(const std::filesystem::path& p, unsigned long long* v, std::string* err) {
  std::ifstream in(p);
  if (!in) {
    *err = p.string() + ": " + std::strerror(errno);
    return false;
  }
  if (!(in >> *v)) {
    *err = p.string() + ": not a number";
    return false;
  }
  return true;
}

class RaplMeter final : public EnergyMeter {
 public:
  struct Zone {
    std::filesystem::path energy;
    unsigned long long range = 0;  // counter wraps to 0 after this many µJ
    unsigned long long last = 0;
    double total_uj = 0;
    std::string label;
  };
  static std::unique_ptr<EnergyMeter> open(const std::string& root, std::string* why) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
      *why = "no RAPL powercap (" + root + " does not exist)";
      return nullptr;
    }
    // Top-level zones only ("intel-rapl:0", not the sub-zones "intel-rapl:0:0",
    // which their package already counts).
    std::vector<fs::path> dirs;
    for (const auto& e : fs::directory_iterator(root, ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("intel-rapl:", 0) == 0 && std::count(n.begin(), n.end(), ':') == 1) dirs.push_back(e.path());
    }
    std::sort(dirs.begin(), dirs.end());
    if (dirs.empty()) {
      *why = "no RAPL powercap (no intel-rapl:N zone under " + root + ")";
      return nullptr;
    }
    auto m = std::unique_ptr<RaplMeter>(new RaplMeter());
    std::string labels;
    for (const fs::path& d : dirs) {
      Zone z;
      z.energy = d / "energy_uj";
      std::string err;
      if (!read_u64(z.energy, &z.last, &err)) {
        *why = "no RAPL powercap (" + err + (errno == EACCES ? "; reading it needs root" : "") + ")";
        return nullptr;
      }
      if (!read_u64(d / "max_energy_range_uj", &z.range, &err)) z.range = 0;
      std::ifstream name(d / "name");
      if (!(name >> z.label)) z.label = d.filename().string();
      labels += (labels.empty() ? "" : ", ") + z.label;
      m->zones_.push_back(z);
    }
    m->name_ = "RAPL powercap (" + labels + ")";
    return m;
  }
  std::string name() const override { return name_; }
  double joules() override {
    double total = 0;
    for (Zone& z : zones_) {
      unsigned long long v = 0;
      std::string err;
      if (!read_u64(z.energy, &v, &err)) throw Error(ErrorCode::Io, "reading RAPL: " + err);
      // The counter wraps at max_energy_range_uj; one wrap between reads at most.
      const unsigned long long delta = v >= z.last ? v - z.last : (z.range > z.last ? z.range - z.last : 0) + v;
      z.total_uj += static_cast<double>(delta);
      z.last = v;
      total += z.total_uj;
    }
    return total * 1e-6;
  }

 private:
  RaplMeter() = default;
  std::vector<Zone> zones_;
  std::string name_;
};

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

}  // namespace

std::unique_ptr<EnergyMeter> open_nvml_meter(int device, const std::string& library, std::string* why) {
  return NvmlMeter::open(device, library, why);
}

std::unique_ptr<EnergyMeter> open_rapl_meter(const std::string& powercap_root, std::string* why) {
  return RaplMeter::open(powercap_root, why);
}

std::unique_ptr<EnergyMeter> open_energy_meter(const EnergyMeterOptions& options, std::string* why) {
  bool gpu = false;
  try {
    gpu = BackendRegistry::global().create(options.backend)->energy_source() == Backend::EnergySource::GpuNvml;
  } catch (const Error& e) {  // an unknown backend, or a GPU module that cannot be loaded
    *why = std::string("no energy meter available on this machine for backend ") + options.backend + " (" + e.what() +
           ")";
    return nullptr;
  }
  std::string reason;
  std::unique_ptr<EnergyMeter> m =
      gpu ? open_nvml_meter(options.device, env_or("KILN_NVML_LIBRARY", options.nvml_library), &reason)
          : open_rapl_meter(env_or("KILN_POWERCAP_ROOT", options.powercap_root), &reason);
  if (!m)
    *why = std::string("no energy meter available on this machine for backend ") + options.backend + " (" +
           (gpu ? "GPU energy comes from NVML: " : "CPU energy comes from RAPL powercap: ") + reason + ")";
  return m;
}

}  // namespace kiln
