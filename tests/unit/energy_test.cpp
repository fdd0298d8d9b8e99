// Energy meters (kiln/energy.hpp): the RAPL powercap reader on a fake sysfs
// tree (top-level zones only, counter wrap-around), NVML that cannot be
// loaded, and the plain "no energy meter" message. No GPU or root needed.
#include "kiln/energy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/common/test_util.hpp"

namespace kiln::test {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << text << "\n";
}

// A powercap tree with two packages and a sub-zone (which must not be added).
struct FakePowercap {
  TempPath dir{"powercap", ""};
  fs::path root() const { return dir.str(); }
  void zone(const std::string& name, const std::string& label, unsigned long long uj, unsigned long long range) {
    write(root() / name / "energy_uj", std::to_string(uj));
    write(root() / name / "max_energy_range_uj", std::to_string(range));
    write(root() / name / "name", label);
  }
  void set(const std::string& name, unsigned long long uj) { write(root() / name / "energy_uj", std::to_string(uj)); }
};

TEST(EnergyRapl, SumsTopLevelZonesAndHandlesWrapAround) {
  FakePowercap pc;
  pc.zone("intel-rapl:0", "package-0", 1'000'000, 10'000'000);
  pc.zone("intel-rapl:1", "package-1", 500, 10'000'000);
  pc.zone("intel-rapl:0:0", "core", 7, 10'000'000);
  std::string why;
  auto meter = open_rapl_meter(pc.root().string(), &why);
  ASSERT_TRUE(meter) << why;
  EXPECT_EQ(meter->name(), "RAPL powercap (package-0, package-1)");
  EXPECT_DOUBLE_EQ(meter->joules(), 0.0);
  pc.set("intel-rapl:0", 3'000'000);      // +2 J
  pc.set("intel-rapl:1", 1'000'500);      // +1 J
  pc.set("intel-rapl:0:0", 9'000'000);    // a sub-zone: ignored
  EXPECT_NEAR(meter->joules(), 3.0, 1e-9);
  pc.set("intel-rapl:0", 500'000);        // wrapped: 7 J to the top, then 0.5 J
  EXPECT_NEAR(meter->joules(), 3.0 + 7.5, 1e-9);
}

TEST(EnergyRapl, SaysWhatIsMissing) {
  FakePowercap pc;
  fs::create_directories(pc.root());
  std::string why;
  EXPECT_FALSE(open_rapl_meter(pc.root().string(), &why));
  EXPECT_NE(why.find("no intel-rapl:N zone"), std::string::npos) << why;
  EXPECT_FALSE(open_rapl_meter((pc.root() / "absent").string(), &why));
  EXPECT_NE(why.find("does not exist"), std::string::npos) << why;
}

TEST(EnergyNvml, AMissingLibraryIsReportedNotFatal) {
  std::string why;
  EXPECT_FALSE(open_nvml_meter(0, "libkiln-no-such-nvml.so.1", &why));
  EXPECT_NE(why.find("no NVML"), std::string::npos) << why;
  EXPECT_NE(why.find("libkiln-no-such-nvml.so.1"), std::string::npos) << why;
}

TEST(EnergyMeter, NoMeterMessageNamesWhatWasTried) {
  FakePowercap pc;
  EnergyMeterOptions o;
  o.backend = "cpu";
  o.powercap_root = (pc.root() / "absent").string();
  std::string why;
  EXPECT_FALSE(open_energy_meter(o, &why));
  EXPECT_EQ(why.rfind("no energy meter available on this machine for backend cpu", 0), 0u) << why;
  EXPECT_NE(why.find("RAPL powercap"), std::string::npos) << why;
  // The NVML half needs the cuda backend in this build (the sanitizer builds leave it out).
  const std::vector<std::string> backends = available_backends();
  if (std::find(backends.begin(), backends.end(), "cuda") == backends.end()) return;
  o.backend = "cuda";
  o.nvml_library = "libkiln-no-such-nvml.so.1";
  EXPECT_FALSE(open_energy_meter(o, &why));
  EXPECT_NE(why.find("NVML"), std::string::npos) << why;
}

TEST(EnergyMeter, ThisMachinesRaplEitherReadsOrSaysWhy) {
  // /sys/class/powercap exists on some machines (readable by root only on
  // recent kernels); the meter either works or explains itself.
  std::string why;
  auto meter = open_rapl_meter("/sys/class/powercap", &why);
  if (meter) {
    EXPECT_GE(meter->joules(), 0.0);
    EXPECT_EQ(meter->name().rfind("RAPL powercap (", 0), 0u);
  } else {
    EXPECT_EQ(why.rfind("no RAPL powercap (", 0), 0u) << why;
  }
}

}  // namespace
}  // namespace kiln::test
