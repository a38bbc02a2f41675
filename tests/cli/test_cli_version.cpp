// `varlearn --version` prints the version from project(VERSION) (the generated version.hpp).
#include <gtest/gtest.h>

#include <string>

#include "cli_run.hpp"
#include "varlearn/version.hpp"

TEST(CliVersion, PrintsTheProjectVersion) {
  const CliResult r = run_cli("--version");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "varlearn " + std::string(varlearn::version) + "\n");
  EXPECT_EQ(std::string(varlearn::version), std::to_string(VARLEARN_VERSION_MAJOR) + "." +
                                                std::to_string(VARLEARN_VERSION_MINOR) + "." +
                                                std::to_string(VARLEARN_VERSION_PATCH));
}
