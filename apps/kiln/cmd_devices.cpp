// `kiln devices`: the backends of this build and the devices each can run on.
#include <fmt/format.h>

#include <algorithm>

#include "apps/kiln/commands.hpp"
#include "kiln/kiln.hpp"

namespace kiln::cli {

Command add_devices(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "List the backends of this build and the devices each can use "
                                            "(select one with --backend NAME --device N)");
  auto backend = std::make_shared<std::string>();
  cmd->add_option("--backend", *backend, "Only this backend");
  return [backend] {
    std::vector<std::string> names = available_backends();
    if (!backend->empty()) {
      if (std::find(names.begin(), names.end(), *backend) == names.end())
        throw Error(ErrorCode::InvalidArgument, "unknown backend '" + *backend + "'");
      names = {*backend};
    }
    int failures = 0;
    for (const std::string& name : names) {
      try {
        const std::vector<DeviceDesc> devices = list_devices(name);
        if (devices.empty()) {
          fmt::print("{}: runs on the host CPU\n", name);
          continue;
        }
        fmt::print("{}:\n", name);
        for (const DeviceDesc& d : devices)
          fmt::print("  --device {}  {}{}{}\n", d.index, d.name, d.detail.empty() ? "" : "  ", d.detail);
      } catch (const Error& e) {
        // A GPU backend without a driver or device is not an error of the
        // listing: say why it cannot run and go on with the others.
        fmt::print("{}: no usable device: {}\n", name, e.what());
        ++failures;
      }
    }
    // Asked for one backend that has no device: that is a failure to report.
    return (!backend->empty() && failures > 0) ? 1 : 0;
  };
}

}  // namespace kiln::cli
