// TempDir: a fresh directory under the system temp dir, removed with
// everything in it when the test ends.
#pragma once

#include <filesystem>
#include <random>
#include <string>

namespace weir::testing {

struct TempDir {
  std::filesystem::path path;

  explicit TempDir(const std::string& prefix = "weir-test") {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace weir::testing
