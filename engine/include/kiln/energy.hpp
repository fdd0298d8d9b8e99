#pragma once
// Energy meters behind one interface (the runtime's profiler side): NVIDIA's
// NVML total-energy counter for GPU backends, loaded at run time with dlopen
// (no build dependency on the driver), and Linux RAPL powercap counters for
// host backends. Where neither is available, opening a meter says so plainly.
#include <memory>
#include <string>

namespace kiln {

class EnergyMeter {
 public:
  virtual ~EnergyMeter() = default;
  // What is measured, e.g. "NVML total energy of GPU 0 (NVIDIA H100 80GB HBM3)".
  virtual std::string name() const = 0;
  // Joules consumed since the meter was opened; monotonic (counter
  // wrap-around is handled). Throws kiln::Error if a counter cannot be read.
  virtual double joules() = 0;
};

struct EnergyMeterOptions {
  std::string backend = "cpu";  // backends with a GPU device use NVML, host backends RAPL (Backend::energy_source)
  int device = 0;               // NVML device index (NVML counts in PCI bus order)
  // Overridable for tests; the environment variables KILN_POWERCAP_ROOT and
  // KILN_NVML_LIBRARY override these defaults too.
  std::string powercap_root = "/sys/class/powercap";
  std::string nvml_library = "libnvidia-ml.so.1";
};

// The meter for `options.backend`, or null with `why` saying, in one line,
// that no energy meter is available and what was tried.
std::unique_ptr<EnergyMeter> open_energy_meter(const EnergyMeterOptions& options, std::string* why);

// The two meters on their own (null + reason when unavailable).
std::unique_ptr<EnergyMeter> open_nvml_meter(int device, const std::string& library, std::string* why);
std::unique_ptr<EnergyMeter> open_rapl_meter(const std::string& powercap_root, std::string* why);

}  // namespace kiln
