// core: the umbrella header compiles alone; atomic writes and matrix parsing.
#include <gtest/gtest.h>

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
