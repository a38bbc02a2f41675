// The umbrella header lists every public header (directly, or through a concern's own
// umbrella such as optim/optim.hpp), so `#include "varlearn/varlearn.hpp"` is the whole API.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace fs = std::filesystem;

namespace {
std::set<std::string> includes_of(const fs::path& file) {
  std::set<std::string> out;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find("#include \"varlearn/");
    if (a == std::string::npos) continue;
    const auto b = line.find('"', a + 10);
    out.insert(line.substr(a + 10, b - a - 10));
  }
  return out;
}
}  // namespace

TEST(Umbrella, ListsEveryPublicHeader) {
  const fs::path root = fs::path(VARLEARN_SOURCE_DIR) / "include";
  std::set<std::string> reached;
  for (const std::string& h : includes_of(root / "varlearn/varlearn.hpp")) {
    reached.insert(h);
    for (const std::string& inner : includes_of(root / h)) reached.insert(inner);
  }
  int headers = 0;
  for (const auto& e : fs::recursive_directory_iterator(root / "varlearn")) {
    if (e.path().extension() != ".hpp") continue;
    const std::string rel = fs::relative(e.path(), root).generic_string();
    if (rel == "varlearn/varlearn.hpp") continue;
    ++headers;
    EXPECT_TRUE(reached.count(rel)) << rel << " is not reachable from varlearn/varlearn.hpp";
  }
  EXPECT_GT(headers, 20);
}
