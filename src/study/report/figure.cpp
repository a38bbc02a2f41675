#include "figure.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "varlearn/core/error.hpp"
#include "varlearn/core/format.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/signals.hpp"

extern "C" char** environ;

namespace varlearn::study {
namespace fs = std::filesystem;

std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else out += c;
  }
  return out + "'";
}

double gnuplot_timeout_seconds() {
  if (const char* env = std::getenv("VARLEARN_GNUPLOT_TIMEOUT"); env && *env) {
    char* end = nullptr;
    const double v = std::strtod(env, &end);
    if (end != env && *end == '\0' && v > 0 && v <= 86400) return v;
    throw Error(std::string("VARLEARN_GNUPLOT_TIMEOUT = '") + env + "' is not a number of seconds in (0, 86400]");
  }
  return kGnuplotTimeoutSeconds;
}

namespace {

/// Runs `gnuplot script` with stderr to `errlog`, killed (SIGKILL) after `timeout` seconds.
/// Returns the exit status (-1: could not start); sets `timed_out`. The child gets an empty
/// signal mask (the CLI blocks SIGINT/SIGTERM in its own threads), so Ctrl-C reaches it too.
int run_gnuplot(const fs::path& script, const fs::path& errlog, double timeout, bool& timed_out) {
  timed_out = false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, errlog.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t dflt;
  sigemptyset(&dflt);
  sigaddset(&dflt, SIGINT);
  sigaddset(&dflt, SIGTERM);
  sigaddset(&dflt, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string arg0 = "gnuplot", arg1 = script.string();
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, "gnuplot", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  auto pause = std::chrono::milliseconds(1);
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      timed_out = true;
      return -1;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

}  // namespace

void write_figure(const fs::path& prefix, const std::string& body, const std::string& size, SvgPass svg_pass) {
  const std::string tag = ".tmp." + std::to_string(::getpid());
  const std::string name = prefix.filename().string();  // the prefix itself may be a staging folder's
  const fs::path png = prefix.string() + ".png", svg = prefix.string() + ".svg";
  const fs::path png_tmp = png.string() + tag, svg_tmp = svg.string() + tag;
  const fs::path script = prefix.string() + ".gp" + tag;
  const fs::path errlog = prefix.string() + ".err" + tag;
  std::ostringstream gp;
  gp << "set encoding utf8\n"
     << "set terminal pngcairo size " << size << " enhanced font 'DejaVu Sans,14'\n"
     << "set output " << gp_quote(png_tmp.string()) << "\n"
     << body << "\nunset output\n" << (svg_pass == SvgPass::Replay ? "reset\n" : "")
     << "set terminal svg size " << size << " enhanced font 'DejaVu Sans,14' background '#ffffff'\n"
     << "set output " << gp_quote(svg_tmp.string()) << "\n"
     << (svg_pass == SvgPass::Replay ? body : std::string("replot")) << "\nunset output\n";
  TempPath script_guard(script), png_guard(png_tmp), svg_guard(svg_tmp);  // removed on failure and signals
  io::write_atomic(script, gp.str());
  const double timeout = gnuplot_timeout_seconds();
  bool timed_out = false;
  TempPath errlog_guard(errlog);
  const int rc = run_gnuplot(script, errlog, timeout, timed_out);
  std::string err;
  {
    std::ifstream in(errlog);
    std::ostringstream ss;
    ss << in.rdbuf();
    err = ss.str();
  }
  std::error_code ec;
  fs::remove(script, ec);
  fs::remove(errlog, ec);
  if (timed_out || rc != 0 || !fs::exists(png_tmp) || !fs::exists(svg_tmp)) {
    fs::remove(png_tmp, ec);
    fs::remove(svg_tmp, ec);
    if (timed_out)
      throw Error("figure '" + name + "': gnuplot did not finish within " + format_general(timeout, 6) +
                      " s and was stopped (VARLEARN_GNUPLOT_TIMEOUT sets the limit)",
                  Error::Kind::Internal);
    if (rc == -1 && err.empty()) err = "cannot run gnuplot (is it installed and on PATH?)";
    if (err.size() > 400) err = err.substr(0, 400) + "...";
    for (char& c : err)
      if (c == '\n') c = ' ';
    throw Error("figure '" + name + "': gnuplot failed" + (err.empty() ? "" : ": " + err),
                Error::Kind::Internal);
  }
  fs::rename(png_tmp, png, ec);
  if (!ec) fs::rename(svg_tmp, svg, ec);
  if (ec) throw Error("figure '" + name + "': " + ec.message(), Error::Kind::Internal);
  png_guard.release();
  svg_guard.release();
}

}  // namespace varlearn::study
