// The names of the determinism levels (kiln/kiln.hpp), shared by the CLI and
// the Python module; in the core library, as backend modules name them too.
#include <string>

#include "kiln/kiln.hpp"

namespace kiln {

const char* determinism_name(Determinism d) {
  switch (d) {
    case Determinism::Off: return "off";
    case Determinism::Threads: return "threads";
    case Determinism::Portable: return "portable";
  }
  return "?";
}

Determinism parse_determinism(std::string_view text) {
  // A bare --deterministic kept its old meaning when the levels were added:
  // the same bits for any thread count.
  if (text.empty() || text == "threads") return Determinism::Threads;
  if (text == "off") return Determinism::Off;
  if (text == "portable") return Determinism::Portable;
  std::string what = "unknown determinism level '";
  what += text;
  what += "' (expected off, threads or portable)";
  throw Error(ErrorCode::InvalidArgument, what);
}

}  // namespace kiln
