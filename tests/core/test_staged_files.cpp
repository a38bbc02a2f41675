// All-or-nothing sets of files under a prefix (io::StagedFiles, theory map/depth/landscape
// --out PREFIX), missing parent folders created only at commit, and the sweep of temporary
// folders a SIGKILLed process left behind.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "../support/temp_dir.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"

namespace fs = std::filesystem;
using varlearn::Error;
using varlearn::testing::TempDir;
namespace io = varlearn::io;

namespace {
const std::vector<std::string> kSet{".csv", ".png", ".svg"};
std::vector<std::string> names(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

TEST(StagedFiles, CommitMovesTheSetIntoPlaceCreatingMissingFoldersOnlyThen) {
  TempDir t;
  const fs::path prefix = t.path / "a" / "b" / "m";
  {
    io::StagedFiles files(prefix, kSet);
    EXPECT_FALSE(fs::exists(t.path / "a"));  // nothing next to the target before commit
    io::write_atomic(files.prefix().string() + ".csv", "1\n");
    io::write_atomic(files.prefix().string() + ".png", "png");
    files.commit();
    EXPECT_EQ(files.prefix(), prefix);
  }
  EXPECT_EQ(names(t.path / "a" / "b"), (std::vector<std::string>{"m.csv", "m.png"}));
  EXPECT_EQ(names(t.path), std::vector<std::string>{"a"});  // the temporary folder is gone
}

TEST(StagedFiles, FailureLeavesNothing) {
  TempDir t;
  try {
    io::StagedFiles files(t.path / "new" / "m", kSet);
    io::write_atomic(files.prefix().string() + ".csv", "1\n");
    throw Error("the work failed");
  } catch (const Error&) {
  }
  EXPECT_EQ(t.count(), 0u);
}

TEST(StagedFiles, ExistingMemberRefusedUnlessReplaceWhichRemovesStaleMembers) {
  TempDir t;
  const fs::path prefix = t.path / "m";
  std::ofstream(t.path / "m.svg") << "old";
  std::ofstream(t.path / "m.csv") << "old";
  std::ofstream(t.path / "other.txt") << "not ours";
  EXPECT_THROW(io::check_output_files(prefix, kSet), Error);
  EXPECT_THROW(io::StagedFiles(prefix, kSet, io::Existing::Refuse), Error);
  EXPECT_EQ(t.count(), 3u);
  io::StagedFiles files(prefix, kSet, io::Existing::Replace);
  io::write_atomic(files.prefix().string() + ".csv", "new\n");
  files.commit();
  EXPECT_EQ(names(t.path), (std::vector<std::string>{"m.csv", "other.txt"}));  // stale m.svg removed
  std::ifstream in(t.path / "m.csv");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "new");
  EXPECT_THROW(io::check_output_files("/dev/null", kSet), Error);
  EXPECT_THROW(io::check_output_files("", kSet), Error);
  EXPECT_THROW(io::check_output_files(t.path / "m.csv" / "x", kSet), Error);  // parent is a file
}

TEST(StagedDir, TemporaryFolderOfAKilledProcessIsSweptByTheNextRun) {
  TempDir t;
  const pid_t child = ::fork();
  if (child == 0) _exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);  // a pid that no longer runs
  const fs::path stale = t.path / ("out.tmp-" + std::to_string(child) + "-0");
  const fs::path alive = t.path / ("out.tmp-" + std::to_string(::getppid()) + "-0");  // a running process
  fs::create_directories(stale / "half");
  fs::create_directories(alive);
  {
    io::StagedDir dir(t.path / "out");
    dir.commit();
  }
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(t.path / "out"));
}
