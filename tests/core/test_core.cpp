// core: the umbrella header compiles alone; atomic writes and matrix parsing.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "varlearn/varlearn.hpp"

using namespace varlearn;
namespace fs = std::filesystem;

TEST(Io, AtomicWriteLeavesNoTemporaryAndRejectsMissingFolder) {
  const fs::path dir = fs::temp_directory_path() / ("varlearn_core_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  io::write_atomic(dir / "a.txt", "hello");
  EXPECT_EQ(io::read_text(dir / "a.txt"), "hello");
  size_t files = 0;
  for (auto& e : fs::directory_iterator(dir)) (void)e, ++files;
  EXPECT_EQ(files, 1u);
  EXPECT_THROW(io::write_atomic(dir / "missing" / "b.txt", "x"), Error);
  EXPECT_FALSE(fs::exists(dir / "missing"));
  fs::remove_all(dir);
}

// A SIGKILL between naming the temporary and renaming it leaves `a.txt.tmp.<pid>`: the next
// write of a.txt removes it, and only temporaries of a.txt whose process no longer runs.
TEST(Io, AtomicWriteRemovesTheTemporariesOfDeadProcessesOnly) {
  const fs::path dir = fs::temp_directory_path() / ("varlearn_core_stale_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);  // reaped: its pid names no process now
  const std::string dead = std::to_string(child), alive = std::to_string(::getppid());
  for (const std::string& name : {"a.txt.tmp." + dead, "a.txt.tmp." + alive, std::string("a.txt.tmp.12x"), "b.txt.tmp." + dead})
    std::ofstream(dir / name) << "stale";
  io::write_atomic(dir / "a.txt", "new");
  EXPECT_EQ(io::read_text(dir / "a.txt"), "new");
  EXPECT_FALSE(fs::exists(dir / ("a.txt.tmp." + dead)));
  EXPECT_TRUE(fs::exists(dir / ("a.txt.tmp." + alive)));  // its writer may still rename it
  EXPECT_TRUE(fs::exists(dir / "a.txt.tmp.12x"));         // not a temporary of ours
  EXPECT_TRUE(fs::exists(dir / ("b.txt.tmp." + dead)));   // another file's
  fs::remove_all(dir);
}

// The fallback where O_TMPFILE is missing writes by name and reports a missing folder.
TEST(Io, NamedFallbackWritesAndExplainsErrors) {
  const fs::path dir = fs::temp_directory_path() / ("varlearn_core_named_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  io::detail::write_named(dir / "t.tmp.1", "abc", dir / "t");
  EXPECT_EQ(io::read_text(dir / "t.tmp.1"), "abc");
  try {
    io::detail::write_named(dir / "missing" / "t.tmp.1", "abc", dir / "missing" / "t");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(Io, MatrixRoundTripAndErrors) {
  const fs::path dir = fs::temp_directory_path() / ("varlearn_core_m_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Matrix m(2, 3);
  m << 1.5, -2, 1e-300, 3.14159265358979, 0, 7;
  io::write_atomic(dir / "m.txt", io::format_matrix(m));
  EXPECT_EQ(io::read_matrix(dir / "m.txt"), m);  // exact: 17 significant digits
  auto bad = [&](const std::string& text) {
    std::ofstream(dir / "bad.txt") << text;
    EXPECT_THROW(io::read_matrix(dir / "bad.txt"), Error) << text;
  };
  bad("");
  bad("1 2\n3\n");
  bad("1 x\n");
  bad("1 inf\n");
  bad("nan 1\n");
  EXPECT_THROW(io::read_matrix(dir / "none.txt"), Error);
  std::ofstream(dir / "csv.txt") << "# comment\n1,2\n3,4\n";
  EXPECT_EQ(io::read_matrix(dir / "csv.txt")(1, 0), 3.0);
  fs::remove_all(dir);
}
