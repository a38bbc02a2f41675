// All-or-nothing outputs: StagedDir (temporary sibling folder, renamed into place), TempPath,
// output-name checks, and the SIGINT/SIGTERM cleanup (in a forked child: exit 130/143, nothing
// left behind).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "../support/temp_dir.hpp"
#include "varlearn/core/error.hpp"
#include "varlearn/core/io.hpp"
#include "varlearn/core/signals.hpp"

namespace fs = std::filesystem;
using varlearn::Error;
using varlearn::testing::TempDir;
namespace io = varlearn::io;

namespace {
void touch(const fs::path& p, const std::string& text = "x") { std::ofstream(p) << text; }
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
}  // namespace

TEST(StagedDir, CommitMovesEverythingIntoPlaceAndLeavesNoTemporary) {
  TempDir t;
  const fs::path target = t.path / "out";
  {
    io::StagedDir dir(target);
    EXPECT_FALSE(fs::exists(target));  // untouched until commit
    EXPECT_NE(dir.path(), target);
    EXPECT_EQ(dir.path().parent_path(), fs::absolute(target).parent_path());
    touch(dir.path() / "a.csv", "1,2");
    fs::create_directories(dir.path() / "sub");
    touch(dir.path() / "sub" / "b.json", "{}");
    dir.commit();
    EXPECT_EQ(dir.path(), target);
  }
  EXPECT_EQ(slurp(target / "a.csv"), "1,2");
  EXPECT_TRUE(fs::exists(target / "sub" / "b.json"));
  EXPECT_EQ(t.count(), 1u);  // only "out": no temporary sibling left
}

TEST(StagedDir, FailureBeforeCommitLeavesNothing) {
  TempDir t;
  try {
    io::StagedDir dir(t.path / "out");
    touch(dir.path() / "half.csv");
    throw Error("the study failed");
  } catch (const Error&) {
  }
  EXPECT_EQ(t.count(), 0u);
}

TEST(StagedDir, ExistingTargetRefusedUnlessReplacedAsAWhole) {
  TempDir t;
  const fs::path target = t.path / "out";
  fs::create_directories(target);
  touch(target / "stale.csv");
  EXPECT_THROW(io::StagedDir(target, io::Existing::Refuse), Error);
  EXPECT_TRUE(fs::exists(target / "stale.csv"));
  {
    io::StagedDir dir(target, io::Existing::Replace);
    EXPECT_TRUE(fs::exists(target / "stale.csv"));  // still the old run until commit
    touch(dir.path() / "new.csv");
    dir.commit();
  }
  EXPECT_TRUE(fs::exists(target / "new.csv"));
  EXPECT_FALSE(fs::exists(target / "stale.csv"));  // no stale file of the last run
  EXPECT_EQ(t.count(), 1u);
}

TEST(StagedDir, BadTargetsAreErrorsAndCreateNothing) {
  TempDir t;
  EXPECT_THROW(io::StagedDir(""), Error);
  EXPECT_THROW(io::StagedDir("/dev/null"), Error);
  touch(t.path / "file");
  EXPECT_THROW(io::StagedDir(t.path / "file"), Error);          // exists, not a folder
  EXPECT_THROW(io::StagedDir(t.path / "file" / "out"), Error);  // parent is a file
  EXPECT_EQ(t.count(), 1u);
  EXPECT_THROW(io::check_output_name("/dev/null"), Error);
  EXPECT_THROW(io::check_output_name(""), Error);
  EXPECT_NO_THROW(io::check_output_name(t.path / "new"));
}

TEST(TempPath, RemovedOnScopeExitUnlessReleased) {
  TempDir t;
  {
    varlearn::TempPath p(t.path / "tmpdir");
    fs::create_directories(p.path() / "x");
    touch(p.path() / "x" / "f");
  }
  EXPECT_FALSE(fs::exists(t.path / "tmpdir"));
  {
    varlearn::TempPath p(t.path / "kept");
    touch(p.path());
    p.release();
  }
  EXPECT_TRUE(fs::exists(t.path / "kept"));
}

TEST(WriteAtomic, MessageSaysWhyNotErrno) {
  TempDir t;
  try {
    io::write_atomic(t.path / "missing" / "f.txt", "x");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("does not exist"), std::string::npos) << m;
    EXPECT_EQ(m.find("Success"), std::string::npos) << m;
  }
  fs::create_directories(t.path / "dir");
  try {
    io::write_atomic(t.path / "dir", "x");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is a folder"), std::string::npos) << e.what();
  }
  EXPECT_EQ(t.count(), 1u);  // no .tmp. leftovers
}

// A child process installs the cleanup, stages a folder and a file write, then is signalled:
// it must exit with 128 + signal and leave nothing in the folder.
static void signal_case(int signo) {
  TempDir t;
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(ready[0]);
    varlearn::install_interrupt_cleanup();
    io::StagedDir dir(t.path / "out");
    touch(dir.path() / "partial.csv");
    varlearn::TempPath tmp(t.path / "report.md.tmp.1");
    touch(tmp.path());
    const char c = 1;
    if (::write(ready[1], &c, 1) != 1) ::_exit(3);
    for (;;) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  EXPECT_EQ(t.count(), 2u);  // staged folder + temporary file exist while it runs
  ::kill(pid, signo);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 128 + signo);
  EXPECT_EQ(t.count(), 0u);
}

TEST(InterruptCleanup, SigtermRemovesTemporariesAndExits143) { signal_case(SIGTERM); }
TEST(InterruptCleanup, SigintRemovesTemporariesAndExits130) { signal_case(SIGINT); }
