#include "apps/kiln/console.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <thread>

#include "apps/kiln/session_flags.hpp"
#include "kiln/convert.hpp"

namespace kiln::cli {

namespace {
bool g_quiet = false;
using Clock = std::chrono::steady_clock;
}  // namespace

void add_quiet_flag(CLI::App* cmd) {
  cmd->add_flag("--quiet,-q", g_quiet, "No progress lines or notes on stderr (errors and warnings still shown)");
}

bool quiet() { return g_quiet; }

bool progress_enabled() { return !g_quiet && ::isatty(STDERR_FILENO) == 1; }

ProgressLine::ProgressLine() : enabled_(progress_enabled()) {}

ProgressLine::~ProgressLine() { clear(); }

void ProgressLine::update(const std::string& text, bool force) {
  if (!enabled_) return;
  const Clock::time_point now = Clock::now();
  if (!force && shown_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  shown_ = true;
  // Erase, write, and park the cursor at the start of the line.
  std::fprintf(stderr, "\r\033[K%s\r", text.c_str());
  std::fflush(stderr);
}

void ProgressLine::clear() {
  if (!enabled_ || !shown_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  shown_ = false;
}

namespace {
Session with_warnings_shown(Session session) {
  for (const std::string& w : session.warnings()) fmt::print(stderr, "kiln: warning: {}\n", w);
  return session;
}
}  // namespace

Session open_session(const Model& model, const SessionOptions& options) {
  ProgressLine line;
  if (options.algorithm != "tune" || !line.enabled()) return with_warnings_shown(Session(model, options));
  SessionOptions o = options;
  o.progress = [&line](const Progress& p) {
    line.update(fmt::format("kiln: tuning {} {} of {}", p.what, p.done, p.total), p.done == p.total);
  };
  return with_warnings_shown(Session(model, o));
}

void add_load_flags(CLI::App* cmd, LoadOptions& options) {
  cmd->add_flag("!--no-verify", options.verify_checksums,
                "Skip the checksums of a .kiln file (format 1.2 on): a load that reads only what the model uses, "
                "for files you trust");
}

namespace {
Model load_kiln_file(const std::string& path, const LoadOptions& options) {
  Model model = Model::load(path, options);
  if (!quiet())
    for (const std::string& note : model.file_info().notes) fmt::print(stderr, "kiln: note: {}\n", note);
  return model;
}
}  // namespace

Model load_model_file(const std::string& path, const LoadOptions& options) {
  // A file named .kiln is read as one even when its contents are not, so that
  // a damaged .kiln file is reported as such rather than as bad ONNX.
  const bool kiln_name = path.size() >= 5 && path.compare(path.size() - 5, 5, ".kiln") == 0;
  if (kiln_name || is_kiln_file(path)) return load_kiln_file(path, options);
  // ONNX: converted here. A terminal gets a line if that takes over 2 s.
  const Clock::time_point start = Clock::now();
  ProgressLine line;
  std::mutex mu;
  std::condition_variable cv;
  bool finished = false;
  std::thread note;
  if (line.enabled())
    note = std::thread([&] {
      std::unique_lock lock(mu);
      if (!cv.wait_for(lock, std::chrono::seconds(2), [&] { return finished; }))
        line.update(fmt::format("kiln: converting {} (ONNX) in memory...", path), true);
    });
  // Stops the note (joins its thread, erases the line) however the conversion ends.
  struct StopNote {
    std::function<void()> f;
    ~StopNote() { f(); }
  } stop_note{[&] {
    {
      std::lock_guard lock(mu);
      finished = true;
    }
    cv.notify_all();
    if (note.joinable()) note.join();
    line.clear();
  }};
  ConvertReport report;
  Model model = load_model(path, {}, &report);
  stop_note.f();
  stop_note.f = [] {};
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  for (const auto& w : report.warnings) fmt::print(stderr, "kiln: warning: {}\n", w);
  if (!quiet())
    fmt::print(stderr, "kiln: converted {} in memory in {:.0f} ms (kiln convert writes a .kiln that loads in ~1 ms)\n",
               path, ms);
  return model;
}

std::string describe_session(const Session& session, const SessionOptions& o) {
  std::string s = fmt::format("{} ({}), threads {}{}, algorithm {}", session.backend(), session.backend_choice(),
                              session.threads(), o.threads == 0 ? " (every core)" : "", o.algorithm);
  const std::string rest = describe_session_options(o);
  // The flags beyond backend, threads and algorithm, as describe_session_options lists them.
  const std::string head = fmt::format("{}, threads {}, algorithm {}", o.backend, o.threads, o.algorithm);
  if (rest.size() > head.size() && rest.compare(0, head.size(), head) == 0) s += rest.substr(head.size());
  return s;
}

}  // namespace kiln::cli
