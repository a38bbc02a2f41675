#pragma once
// Runs the built varlearn binary (path from CMake) and captures exit code, stdout, stderr.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

struct CliResult {
  int code = -1;
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs `varlearn ARGS`; `env` ("NAME=VALUE ... ", may be empty) is put before the binary.
inline CliResult run_cli(const std::string& args, const std::string& env = "") {
  static int counter = 0;
  const std::string base = std::string("/tmp/varlearn_cli_") + std::to_string(::getpid()) + "_" + std::to_string(counter++);
  std::string cmd = env;
  cmd.append(VARLEARN_BINARY).append(" ").append(args).append(" >").append(base).append(".out 2>").append(base).append(".err");
  const int status = std::system(cmd.c_str());
  CliResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}
