// The CLI over a generated grid of bad inputs. For every case: exit code 2,
// exactly one line "error: ..." on stderr and nothing else (nothing on stdout either), no
// signal or "terminate", and nothing written (each case runs in a fresh empty folder as its
// working directory, with every output pointing inside it; the folder must stay empty).
//
// The grid is generated: the numeric flags of each subcommand are read from its --help (CLI11
// prints "--flag INT|UINT|FLOAT"), each gets every malformed number (empty, "abc", "5x", hex,
// "1e400", "-1e-400", "nan", "inf", huge integers, non-integers for integer flags) and every
// extreme ("-1", "0", "1e308", "-1e308") that lies outside the flag's valid range (the table
// kRanges below: a value inside it is a valid input, not a bad one, and is not tried). Bad
// files (missing, a folder, empty, binary garbage, wrong shapes, non-finite entries, truncated
// WAV) go to every file flag, bad output paths (empty, /dev/null, a file used as folder,
// /proc, an existing folder) to every output flag. Prints "fuzz: N cases, H handled".
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct Outcome {
  int code = -1;
  std::string out, err;
};

std::string slurp_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Runs the binary with `args` (no shell) in `cwd`; stdout/stderr to files in `io_dir`.
/// The child is killed after `limit_s` seconds (SIGALRM survives exec).
Outcome run_in(const fs::path& cwd, const fs::path& io_dir, const std::vector<std::string>& args, unsigned limit_s = 20) {
  const fs::path out = io_dir / "stdout", err = io_dir / "stderr";
  std::vector<std::string> argv_s{VARLEARN_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(cwd.c_str()) != 0) ::_exit(127);
    const int fo = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int fe = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo < 0 || fe < 0) ::_exit(127);
    ::dup2(fo, 1);
    ::dup2(fe, 2);
    ::setenv("OMP_NUM_THREADS", "1", 1);
    ::alarm(limit_s);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  Outcome o;
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  o.out = slurp_file(out);
  o.err = slurp_file(err);
  return o;
}

struct Case {
  std::string cls;                // class, for the counts
  std::vector<std::string> args;  // "{CWD}" is replaced by the case's working directory
};

/// Fixture files shared by every case (outside the working directories).
struct Fixtures {
  fs::path dir;
  std::map<std::string, std::string> good;                          // name -> path
  std::vector<std::pair<std::string, std::string>> bad_matrix, bad_model, bad_audio, bad_out;

  Fixtures() {
    dir = fs::temp_directory_path() / ("varlearn_fuzz_fix_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto write = [&](const std::string& name, const std::string& content) {
      std::ofstream(dir / name, std::ios::binary) << content;
      return (dir / name).string();
    };
    good["matrix"] = write("sigma3.txt", "2 0.5 0\n0.5 1 0.2\n0 0.2 1.5\n");
    good["denoiser"] = write("t3.txt", "0.5 0 0\n0 0.5 0\n0 0 0.5\n");
    std::string frames;
    std::mt19937 g(1);
    std::normal_distribution<double> nd;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 12; ++j) frames += std::to_string(nd(g)) + (j < 11 ? " " : "\n");
    }
    good["frames"] = write("frames3.txt", frames);
    good["file"] = write("plain.txt", "x\n");
    // A checkpoint from the binary itself.
    const fs::path io = dir / "io";
    fs::create_directories(io);
    good["model"] = (dir / "model.json").string();
    const Outcome t = run_in(dir, io, {"train", "--data", "iid", "--n", "3", "--theta", "0.5", "--objective",
                                       "expected", "--iterations", "20", "--save", good["model"]});
    if (t.code != 0) throw std::runtime_error("fixture checkpoint: " + t.err);

    std::string garbage;
    for (int i = 0; i < 600; ++i) garbage += char(g() & 0xff);
    garbage[3] = '\0';
    const std::string missing = (dir / "missing.txt").string();
    const std::string folder = dir.string();
    const std::string empty = write("empty.txt", "");
    const std::string binary = write("garbage.bin", garbage);
    bad_matrix = {{"missing", missing},
                  {"folder", folder},
                  {"empty", empty},
                  {"binary", binary},
                  {"wrong-shape", write("wide.txt", "1 2 3\n4 5 6\n")},
                  {"ragged", write("ragged.txt", "1 0 0\n0 1\n0 0 1\n")},
                  {"non-finite", write("nan.txt", "1 nan 0\n0 1 0\n0 0 inf\n")},
                  {"huge", write("huge.txt", "1e400 0 0\n0 1 0\n0 0 1\n")},
                  {"text", write("words.txt", "one two three\n")}};
    bad_model = {{"missing", missing}, {"folder", folder}, {"empty", empty}, {"binary", binary},
                 {"not-json", write("bad.json", "{\"spec\": ")},
                 {"wrong-json", write("array.json", "[1, 2, 3]\n")},
                 {"empty-object", write("object.json", "{}\n")}};
    // WAV: 16-bit mono 8 kHz; the truncated one announces 4000 samples and holds 1000.
    auto wav = [&](const std::string& name, int announced, int held) {
      std::string h = "RIFF";
      auto u32 = [&](std::uint32_t v) { for (int i = 0; i < 4; ++i) h += char((v >> (8 * i)) & 0xff); };
      auto u16 = [&](std::uint16_t v) { for (int i = 0; i < 2; ++i) h += char((v >> (8 * i)) & 0xff); };
      u32(36 + 2 * std::uint32_t(announced));
      h += "WAVEfmt ";
      u32(16), u16(1), u16(1), u32(8000), u32(16000), u16(2), u16(16);
      h += "data";
      u32(2 * std::uint32_t(announced));
      for (int i = 0; i < held; ++i) h += char(i & 0xff), h += char((i >> 8) & 0x0f);
      return write(name, h);
    };
    good["wav"] = wav("ok.wav", 16000, 16000);
    bad_audio = {{"missing", (dir / "missing.wav").string()},
                 {"folder", folder},
                 {"empty", write("empty.wav", "")},
                 {"binary", write("garbage.wav", garbage)},
                 {"text", write("text.wav", "not audio\n")},
                 {"truncated-wav", wav("truncated.wav", 4000, 1000)},
                 {"odd-raw", write("odd.raw", std::string(101, 'a'))}};
    bad_out = {{"empty", ""},
               {"device", "/dev/null"},
               {"file-as-folder", good["file"] + "/x"},
               {"proc", "/proc/varlearn_fuzz/x"},
               {"under-device", "/dev/null/x"}};  // (a missing parent folder is created: not bad)
  }
  ~Fixtures() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

/// A subcommand with arguments that succeed (each fuzzed flag replaces its own entry), and
/// the valid range of each of its numeric flags (lo, hi: numbers outside are bad input).
struct Base {
  std::vector<std::string> command;            // e.g. {"theory", "optimal"}
  std::vector<std::pair<std::string, std::string>> args;  // flag -> value ("" = a flag without value)
};

struct Range {
  double lo, hi;
};
constexpr double kInf = std::numeric_limits<double>::infinity();
/// Valid ranges of the numeric flags (one meaning per flag, docs/cli.md; overrides per
/// subcommand after '/'). A flag missing here is taken as valid nowhere except inside
/// [-1e150, 1e150]; "never" = the flag does not apply in the base command (every value is an error).
const std::map<std::string, Range>& ranges() {
  static const std::map<std::string, Range> r{
      {"--n", {1, kInf}},
      {"--k", {1, 3}},
      {"--depth", {1, kInf}},
      {"--mu", {-1e150, 1e150}},
      {"--theta", {0, 1e150}},
      {"--rho", {-0.999999, 0.999999}},
      {"--sigma", {1e-150, 1e150}},
      {"--gap", {1, -1}},  // never: needs --realize
      {"--tol", {0, 1e300}},
      {"--seed", {0, kInf}},
      {"train/--seed", {0, kInf}},
      {"eval/--seed", {1, -1}},  // never: no --clean in the base
      {"--samples", {1, kInf}},
      {"--iterations", {0, kInf}},
      {"--lr", {1, -1}},        // never: L-BFGS in the base
      {"--batch", {0, kInf}},
      {"--validation", {0, 0.9}},
      {"--patience", {1, -1}},  // never: no --validation in the base
      {"--init-scale", {0, 1e100}},
      {"--init-stepsize", {1e-300, 1e6}},
      {"--nmax", {1, 10000}},
      {"--r-max", {0, 1e150}},
      {"--r-count", {3, 1e7}},
      {"--basin-level", {1e-300, kInf}},
      {"--omega-min", {1e-300, 0.5}},
      {"--omega-max", {0.5, kInf}},
      {"--omega-count", {2, 1e6}},
      {"--heat-r-count", {2, 1e6}},
      {"--hop", {1, kInf}},
      {"--fixed-stepsize", {1e-300, 1}},
      {"--rate", {1000, 384000}},
      {"--bits", {1, 24}},
      {"--depths", {1, 200}},
      {"--peak", {0, 1}},
      {"--max-iter", {1, kInf}},
      {"--steps", {1, kInf}},
      {"--lr/study dequant", {1e-300, 1e3}},
      {"--gap/study dequant", {1e-300, 1}},
      {"--batch/study dequant", {1, kInf}},
      {"--sigma/study restore", {1e-12, 10}},
      {"--missing/study restore", {1e-300, 0.9999999}},
      {"--burst/study restore", {1, kInf}},
      {"--n/study restore", {4, 1e9}},
      {"--hop/study restore", {1, 1e9}},
      {"--steps/study restore", {1, 1e9}},
      {"--lr/study restore", {1e-300, 1}},
      {"--patience/study restore", {0, kInf}},
      {"--test-seconds/study restore", {0, 1e9}},
      // The general model's numbers: the quadratic base has no --operator/--regularizer, so
      // every value is an error there (general-only flags); their ranges in the general
      // model are tried in section 5.
      {"train/--filters", {1, -1}},
      {"train/--filter-length", {1, -1}},
      {"train/--epsilon", {1, -1}},
      {"train/--lower-tolerance", {1, -1}},
      {"train/--shards", {1, -1}},
  };
  return r;
}

Range range_of(const std::string& sub, const std::string& flag) {
  const auto& r = ranges();
  if (auto it = r.find(flag + "/" + sub); it != r.end()) return it->second;
  if (auto it = r.find(sub.substr(0, sub.find(' ')) + "/" + flag); it != r.end()) return it->second;
  if (auto it = r.find(flag); it != r.end()) return it->second;
  return {-1e150, 1e150};
}

std::string join(const std::vector<std::string>& v, const std::string& sep = " ") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

/// Flags that take a comma-separated list (so "1,5" is a valid value there).
bool is_list_flag(const std::string& sub, const std::string& flag) {
  return (sub == "study dequant" && (flag == "--bits" || flag == "--depths")) || (sub == "study denoise" && flag == "--k");
}

/// The numeric flags of a subcommand, from its --help: flag -> "INT" | "UINT" | "FLOAT".
std::map<std::string, std::string> numeric_flags(const fs::path& dir, const std::vector<std::string>& command) {
  std::vector<std::string> args = command;
  args.push_back("--help");
  const Outcome o = run_in(dir, dir, args);
  std::map<std::string, std::string> flags;
  const std::regex re(R"(^\s+(--[a-z0-9-]+) (INT|UINT|FLOAT)\b)");
  std::istringstream in(o.out);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, re)) flags[m[1]] = m[2];
  }
  return flags;
}

}  // namespace

TEST(CliFuzz, EveryBadInputIsOneErrorLineExitTwoAndNothingWritten) {
  const Fixtures fx;
  const fs::path root = fs::temp_directory_path() / ("varlearn_fuzz_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root);

  const std::string M = fx.good.at("matrix"), T = fx.good.at("denoiser"), F = fx.good.at("frames"),
                    CK = fx.good.at("model");
  // Bases: valid commands (every output inside the case's working folder {CWD}).
  const std::vector<Base> bases{
      {{"theory", "optimal"}, {{"--n", "5"}}},
      {{"theory", "optimal"}, {{"--n", "5"}, {"--method", "unrolled"}, {"--stepsize", "0.5"}}},
      {{"theory", "cmin"}, {}},
      {{"theory", "risk"}, {{"--matrix", T}}},
      {{"theory", "expressivity"}, {{"--matrix", T}}},
      {{"theory", "map"}, {{"--n", "5"}, {"--x", "theta=0:1:3"}, {"--value", "bilevel"}, {"--out", "{CWD}/m"}}},
      {{"theory", "depth"}, {{"--n", "5"}, {"--nmax", "2"}, {"--out", "{CWD}/d"}, {"--no-figures", ""}}},
      {{"theory", "landscape"},
       {{"--r-count", "51"}, {"--omega-count", "4"}, {"--heat-r-count", "4"}, {"--depths", "1,2"},
        {"--out", "{CWD}/l"}, {"--no-figures", ""}}},
      {{"train"}, {{"--n", "3"}, {"--samples", "20"}, {"--iterations", "3"}, {"--save", "{CWD}/c.json"}}},
      {{"eval"}, {{"--model", CK}, {"--denoiser", "{CWD}/t.txt"}}},
      {{"study", "denoise"}, {{"--quick", ""}, {"--out", "{CWD}/s"}}},
      {{"study", "dequant"}, {{"--quick", ""}, {"--out", "{CWD}/s"}}},
      {{"study", "restore"}, {{"--task", "denoise"}, {"--quick", ""}, {"--out", "{CWD}/s"}}},
  };

  std::vector<Case> cases;
  auto with = [](const Base& b, const std::string& flag, const std::optional<std::string>& value) {
    std::vector<std::string> a = b.command;
    bool replaced = false;
    for (const auto& [f, v] : b.args) {
      if (f == flag) {
        replaced = true;
        if (value) a.push_back(f), a.push_back(*value);
        continue;
      }
      a.push_back(f);
      if (!v.empty()) a.push_back(v);
    }
    if (!replaced && value) a.push_back(flag), a.push_back(*value);
    return a;
  };

  // 1. Numbers: every numeric flag from --help, every malformed and out-of-range value.
  const std::vector<std::string> malformed{"", "abc", "5x", " 5", "0x10", "1e400", "-1e-400", "nan", "inf",
                                           "-inf", "1,5", "--"};
  const std::vector<std::string> huge_ints{"99999999999999999999", "-99999999999999999999"};
  const std::vector<std::string> extremes{"-1", "0", "1e308", "-1e308", "0.5", "1e20"};
  std::set<std::string> seen_commands;
  for (const Base& b : bases) {
    const std::string sub = join(b.command);
    if (!seen_commands.insert(sub).second) continue;  // one grid per subcommand
    for (const auto& [flag, type] : numeric_flags(root, b.command)) {
      if (flag == "--r-max" && false) continue;
      const bool integer = type != "FLOAT";
      for (const auto& v : malformed) {
        if (v == "--") continue;  // would be read as the end of options: not a value
        if (v == "1,5" && is_list_flag(sub, flag)) continue;  // a valid list
        cases.push_back({"number:malformed", with(b, flag, v)});
      }
      if (integer)
        for (const auto& v : huge_ints) cases.push_back({"number:out-of-type", with(b, flag, v)});
      const Range r = range_of(sub, flag);
      for (const auto& v : extremes) {
        const double x = std::strtod(v.c_str(), nullptr);
        const bool is_integer = x == std::floor(x) && std::abs(x) < 9e18;
        const bool valid = (!integer || is_integer) && x >= r.lo && x <= r.hi;
        if (valid) continue;  // a valid value: not a bad input
        cases.push_back({integer && !is_integer ? "number:not-integer" : "number:out-of-range", with(b, flag, v)});
      }
    }
  }
  // Number lists and numbers inside text flags.
  for (const std::string v : {"", "abc", "1e400", "nan", "-1", "0", "0x1p-1", "1e-400"}) {
    cases.push_back({"number:text-flag", with(bases[1], "--stepsize", v)});
    cases.push_back({"number:text-flag", with(bases[2], "--stepsize", v)});
    cases.push_back({"number:text-flag", with(bases[6], "--stepsizes", v.empty() ? "0.5," : "0.5," + v)});
    cases.push_back({"number:text-flag", with(bases[7], "--depths", v.empty() ? "1," : "1," + v)});
    cases.push_back({"number:text-flag", with(bases[10], "--depths", v.empty() ? "1," : v)});
  }
  for (const std::string v : {"", "abc", "0", "-1G", "1X", "nan", "1e400G", "1k"})
    cases.push_back({"budget:bad-size", with(bases[8], "--max-memory", v)});
  // Budget: work over the memory limit is refused before it starts.
  cases.push_back({"budget:over-limit", {"train", "--n", "10", "--samples", "100000000", "--iterations", "1"}});
  cases.push_back({"budget:over-limit", {"train", "--n", "100000000"}});
  cases.push_back({"budget:over-limit", {"train", "--n", "50", "--max-memory", "10M"}});
  cases.push_back({"budget:over-limit",
                   {"theory", "map", "--x", "theta=0:1:100000", "--y", "mu=0:1:100000", "--value", "bilevel", "--force"}});
  for (const std::vector<std::string>& a : std::vector<std::vector<std::string>>{
           {"study", "denoise", "--quick", "--out", "{CWD}/s"},
           {"study", "dequant", "--quick", "--out", "{CWD}/s"},
           {"reproduce", "--quick", "--out", "{CWD}/r"},
           {"theory", "optimal", "--data", "ar1", "--n", "4000", "--theta", "0.5"},
           {"theory", "risk", "--matrix", T},
           {"theory", "expressivity", "--matrix", T, "--realize", "{CWD}/r.txt"}}) {
    auto b = a;
    b.insert(b.end(), {"--max-memory", "1M"});
    cases.push_back({"budget:over-limit", b});
  }
  cases.push_back({"budget:over-limit", {"theory", "landscape", "--r-count", "10000000", "--depths",
                                         "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30",
                                         "--max-memory", "1G"}});

  // 2. Options that do not apply to the chosen mode.
  const std::vector<std::vector<std::string>> not_applying{
      {"train", "--n", "3", "--method", "bilevel", "--depth", "3"},
      {"train", "--n", "3", "--method", "bilevel", "--stepsize", "0.5"},
      {"train", "--n", "3", "--lr", "0.1"},
      {"train", "--n", "3", "--optimizer", "lbfgs", "--lr", "0.1"},
      {"train", "--n", "3", "--objective", "expected", "--batch", "4"},
      {"train", "--n", "3", "--objective", "expected", "--samples", "4"},
      {"train", "--n", "3", "--patience", "3"},
      {"train", "--n", "3", "--init", "theory", "--init-scale", "2"},
      {"train", "--n", "3", "--stepsize", "0.5", "--init-stepsize", "0.3"},
      {"train", "--data", "file", "--clean", F, "--noisy", F, "--objective", "expected"},
      {"train", "--noisy", F},
      {"eval", "--model", CK, "--noisy", F},
      {"eval", "--model", CK, "--seed", "3"},
      {"theory", "optimal", "--n", "5", "--depth", "3"},
      {"theory", "optimal", "--n", "5", "--method", "linear", "--k", "2"},
      {"theory", "optimal", "--n", "5", "--gap", "0.1"},
      {"theory", "risk", "--matrix", T, "--method", "unrolled"},
      {"theory", "risk", "--matrix", T, "--as", "regularizer", "--depth", "3"},
      {"theory", "expressivity", "--matrix", T, "--stepsize", "0.5"},
      {"theory", "optimal", "--n", "5", "--rho", "0.3"},
      {"theory", "optimal", "--data", "file", "--second-moment", M, "--mu", "2"},
      {"theory", "optimal", "--n", "5", "--second-moment", M},
  };
  for (const auto& a : not_applying) cases.push_back({"option:does-not-apply", a});
  for (const auto& a : std::vector<std::vector<std::string>>{{"theory", "optimal", "--k", "0"},
                                                               {"train", "--k", "0"},
                                                               {"theory", "map", "--n", "5", "--x", "theta=0:1:2",
                                                                "--value", "bilevel", "--k", "0"},
                                                               {"study", "denoise", "--quick", "--out", "{CWD}/s", "--n", "0"},
                                                               {"study", "denoise", "--quick", "--out", "{CWD}/s", "--k", "0"}})
    cases.push_back({"option:zero-is-not-default", a});

  // 3. Bad files on every file flag.
  for (const auto& [kind, path] : fx.bad_matrix) {
    cases.push_back({"file:" + kind, {"theory", "risk", "--matrix", path}});
    cases.push_back({"file:" + kind, {"theory", "expressivity", "--matrix", path}});
    cases.push_back({"file:" + kind, {"theory", "optimal", "--data", "file", "--second-moment", path}});
    if (kind != "wrong-shape") {  // any n x B is a valid frame file
      cases.push_back({"file:" + kind, {"theory", "optimal", "--data", "file", "--clean", path}});
      cases.push_back({"file:" + kind, {"train", "--data", "file", "--clean", path, "--iterations", "2"}});
    }
    cases.push_back({"file:" + kind, {"train", "--data", "file", "--second-moment", path, "--objective", "expected"}});
    cases.push_back({"file:" + kind, {"train", "--data", "file", "--clean", F, "--noisy", path, "--iterations", "2"}});
    cases.push_back({"file:" + kind, {"eval", "--model", CK, "--data", "file", "--second-moment", path}});
    cases.push_back({"file:" + kind, {"eval", "--model", CK, "--clean", path}});
  }
  for (const auto& [kind, path] : fx.bad_model) {
    cases.push_back({"file:checkpoint-" + kind, {"eval", "--model", path}});
    cases.push_back({"file:checkpoint-" + kind, {"train", "--n", "3", "--init", path, "--iterations", "2"}});
  }
  const std::string wav_ok = fx.good.at("wav");
  for (const auto& [kind, path] : fx.bad_audio) {
    for (const std::string study : {"denoise", "dequant"}) {
      cases.push_back({"file:audio-" + kind, {"study", study, "--quick", "--out", "{CWD}/s", "--train", path, "--test", wav_ok}});
      cases.push_back({"file:audio-" + kind, {"study", study, "--quick", "--out", "{CWD}/s", "--train", wav_ok, "--test", path}});
    }
  }

  // 4. Bad output paths on every output flag.
  for (const auto& [kind, path] : fx.bad_out) {
    const std::string cls = "output:" + kind;
    cases.push_back({cls, with(bases[5], "--out", path)});
    cases.push_back({cls, with(bases[6], "--out", path)});
    cases.push_back({cls, with(bases[7], "--out", path)});
    cases.push_back({cls, with(bases[8], "--save", path)});
    cases.push_back({cls, with(bases[9], "--denoiser", path)});
    cases.push_back({cls, {"theory", "optimal", "--n", "5", "--realize", path}});
    cases.push_back({cls, {"theory", "expressivity", "--matrix", T, "--realize", path}});
    cases.push_back({cls, with(bases[10], "--out", path)});
    cases.push_back({cls, with(bases[11], "--out", path)});
  }
  for (const std::string flag : {"--save"}) cases.push_back({"output:folder", with(bases[8], flag, fx.dir.string())});
  cases.push_back({"output:folder", with(bases[5], "--out", fx.dir.string() + "/")});

  // 5. The general model (--operator / --regularizer): its numbers, names, files and outputs.
  const Base general{{"train"},
                     {{"--regularizer", "foe"}, {"--n", "8"}, {"--samples", "20"}, {"--iterations", "2"},
                      {"--save", "{CWD}/c.json"}}};
  const Base bilevel{{"train"},
                     {{"--regularizer", "tv"}, {"--method", "bilevel"}, {"--n", "8"}, {"--samples", "20"},
                      {"--iterations", "2"}, {"--save", "{CWD}/c.json"}}};
  for (const std::string v : {"", "abc", "0", "-1", "1e400", "nan", "2.5", "99999999999999999999"}) {
    cases.push_back({"general:number", with(general, "--filters", v)});
    cases.push_back({"general:number", with(general, "--filter-length", v)});
  }
  for (const std::string v : {"", "abc", "0", "-1", "1e400", "-1e-400", "nan", "inf", "0x1p-3"}) {
    cases.push_back({"general:number", with(general, "--epsilon", v)});
    cases.push_back({"general:number", with(bilevel, "--lower-tolerance", v)});
  }
  for (const std::string v : {"", "abc", "-1", "4097", "1e400", "nan", "2.5"})
    cases.push_back({"general:number", with(general, "--shards", v)});
  for (const std::string v : {"", "blur", "mask", "mask:1", "mask:-0.1", "mask:nan", "mask:0.1:2", "burst:0.2",
                              "burst:0.2:0", "burst:1:2", "conv:", "identity:1"})
    cases.push_back({"general:operator", with(general, "--operator", v)});
  for (const auto& [kind, path] : fx.bad_matrix)
    if (kind != "wrong-shape") cases.push_back({"general:operator-file", with(general, "--operator", "conv:" + path)});
  for (const std::string v : {"", "lasso", "TV"}) cases.push_back({"general:name", with(general, "--regularizer", v)});
  for (const std::string v : {"", "cauchy", "Huber"}) cases.push_back({"general:name", with(general, "--potential", v)});
  for (const std::string v : {"", "ones", "random"}) cases.push_back({"general:name", with(general, "--start", v)});
  for (const std::string v : {"", "newton", "LBFGS"})
    cases.push_back({"general:name", with(bilevel, "--lower-solver", v)});
  for (const std::string v : {"", "0", "-1e-4", "1e-4,", "1e-4,abc", "nan", "1e400"})
    cases.push_back({"general:number", with(bilevel, "--tolerance-table", v)});
  for (const auto& [kind, path] : fx.bad_matrix) {
    if (kind == "wrong-shape") continue;
    cases.push_back({"general:file-" + kind, with(general, "--test", path)});
    cases.push_back({"general:file-" + kind, {"train", "--regularizer", "tv", "--data", "file", "--clean", path,
                                              "--iterations", "2"}});
  }
  for (const auto& [kind, path] : fx.bad_audio)
    cases.push_back({"general:audio-" + kind, {"train", "--regularizer", "tv", "--data", "file", "--clean", path,
                                               "--iterations", "2"}});
  for (const auto& [kind, path] : fx.bad_out) cases.push_back({"general:output-" + kind, with(general, "--save", path)});
  for (const std::vector<std::string>& a : std::vector<std::vector<std::string>>{
           {"train", "--n", "3", "--potential", "huber"},
           {"train", "--n", "3", "--filters", "3"},
           {"train", "--n", "3", "--filter-length", "3"},
           {"train", "--n", "3", "--epsilon", "0.1"},
           {"train", "--n", "3", "--learn-epsilon"},
           {"train", "--n", "3", "--start", "adjoint"},
           {"train", "--n", "3", "--momentum"},
           {"train", "--n", "3", "--lower-tolerance", "1e-6"},
           {"train", "--n", "3", "--test", F},
           {"train", "--regularizer", "tv", "--n", "3", "--method", "bilevel", "--momentum"},
           {"train", "--regularizer", "tv", "--n", "3", "--lower-tolerance", "1e-6"},
           {"train", "--regularizer", "tv", "--n", "3", "--filters", "2"},
           {"train", "--regularizer", "analysis", "--n", "3", "--k", "2"},
           {"train", "--regularizer", "quadratic", "--n", "3", "--epsilon", "0.1"},
           {"train", "--regularizer", "tv", "--n", "3", "--noisy", F},
           {"train", "--regularizer", "tv", "--n", "3", "--objective", "expected"},
           {"train", "--regularizer", "tv", "--n", "3", "--method", "bilevel", "--precision", "float32"},
           {"train", "--n", "3", "--lower-solver", "lbfgs"},
           {"train", "--n", "3", "--tolerance-table", "1e-4"},
           {"train", "--regularizer", "tv", "--n", "3", "--lower-solver", "lbfgs"},
           {"train", "--regularizer", "tv", "--n", "3", "--tolerance-table", "1e-4"},
           {"train", "--regularizer", "tv", "--n", "3", "--method", "bilevel", "--tolerance-table", "1e-4", "--save",
            "{CWD}/c.json"},
           {"train", "--regularizer", "tv", "--n", "3", "--data", "file", "--second-moment", M},
       })
    cases.push_back({"general:does-not-apply", a});

  // Run them, 4 at a time (most are a process start and one line).
  struct Failure {
    std::string cls, command, why;
  };
  std::vector<Failure> failures;
  std::mutex mu;
  std::atomic<size_t> next{0};
  const auto dev_before = fs::exists("/dev/null.csv");
  auto worker = [&](int id) {
    for (size_t i = next++; i < cases.size(); i = next++) {
      const Case& c = cases[i];
      const fs::path cwd = root / ("c" + std::to_string(i));
      const fs::path io = root / ("io" + std::to_string(id));
      fs::create_directories(cwd);
      fs::create_directories(io);
      std::vector<std::string> args;
      for (std::string a : c.args) {
        for (size_t at; (at = a.find("{CWD}")) != std::string::npos;) a.replace(at, 5, cwd.string());
        args.push_back(a);
      }
      const Outcome o = run_in(cwd, io, args);
      std::string why;
      const bool one_line = o.err.rfind("error: ", 0) == 0 && o.err.find('\n') == o.err.size() - 1;
      if (o.code != 2) why = "exit code " + std::to_string(o.code);
      else if (!one_line) why = "stderr is not exactly one 'error:' line";
      else if (!o.out.empty()) why = "stdout not empty";
      else if (o.err.find("terminate") != std::string::npos) why = "terminate";
      else if (!fs::is_empty(cwd)) why = "wrote into the working folder";
      if (!why.empty()) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back({c.cls, join(args), why + "; stderr: " + o.err.substr(0, 300)});
      }
      std::error_code ec;
      fs::remove_all(cwd, ec);
    }
  };
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) pool.emplace_back(worker, t);
  for (auto& t : pool) t.join();

  std::map<std::string, std::pair<int, int>> per_class;  // class -> (cases, handled)
  for (const Case& c : cases) ++per_class[c.cls].first, ++per_class[c.cls].second;
  for (const Failure& f : failures) --per_class[f.cls].second;
  for (const auto& [cls, n] : per_class) std::cout << "fuzz: " << cls << ": " << n.first << " cases, " << n.second << " handled\n";
  std::cout << "fuzz: " << cases.size() << " cases, " << cases.size() - failures.size() << " handled\n";
  for (const Failure& f : failures) ADD_FAILURE() << "[" << f.cls << "] varlearn " << f.command << "\n  " << f.why;
  EXPECT_EQ(fs::exists("/dev/null.csv"), dev_before);
  EXPECT_TRUE(fs::exists("/dev/null") && !fs::is_regular_file("/dev/null"));
  std::error_code ec;
  fs::remove_all(root, ec);
}
