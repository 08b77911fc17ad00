// The command-line conventions every Weir daemon shares: each flag --foo-bar
// is also read from the environment variable WEIR_FOO_BAR (so container
// manifests need no wrapper scripts), defaults show in --help, and parsing
// and logging set-up end the same way. Header-only: include it from a main.
#pragma once

#include <cctype>
#include <cstddef>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "common/logging.h"

namespace weir {

// "--max-pending-mib" -> "WEIR_MAX_PENDING_MIB".
inline std::string FlagEnvName(std::string_view flag) {
  while (!flag.empty() && flag.front() == '-') flag.remove_prefix(1);
  std::string name = "WEIR_";
  for (const char c : flag) name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

// Adds `flag`, also read from FlagEnvName(flag), with its default in --help.
template <typename T>
CLI::Option* AddDaemonFlag(CLI::App& app, const std::string& flag, T& value, const std::string& help) {
  return app.add_option(flag, value, help)->capture_default_str()->envname(FlagEnvName(flag));
}

// --metrics-listen ADDRESS and --log-level LEVEL, the same in every daemon.
inline void AddMetricsAndLogFlags(CLI::App& app, std::string& metrics_listen, std::string& log_level) {
  AddDaemonFlag(app, "--metrics-listen", metrics_listen,
                "HTTP address HOST:PORT of /metrics, /healthz and /readyz (port 0 picks a free one)");
  AddDaemonFlag(app, "--log-level", log_level, "trace, debug, info, warn, error or off");
}

// The largest gRPC message between a worker and a feature store, MiB: the
// store refuses larger ones, the worker's writer cuts its batches under it.
// Both sides take --max-message-mib and must agree (the default does).
inline constexpr size_t kDefaultMaxMessageMib = 4;

// --max-message-mib MIB, the same in weir-featurestore and weir-worker.
inline CLI::Option* AddMaxMessageFlag(CLI::App& app, size_t& mib) {
  return AddDaemonFlag(app, "--max-message-mib", mib,
                       "Largest gRPC message between workers and the feature store, MiB; set the same value on the "
                       "store and every worker")
      ->check(CLI::Range(1, 1024));
}

// Parses the command line and configures logging for `daemon` ("worker").
// Returns the exit code when the process should stop now: 0 after --help,
// 2 for bad usage (the reason printed).
inline std::optional<int> ParseDaemonFlags(CLI::App& app, int argc, char** argv, const std::string& daemon,
                                           const std::string& log_level) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (auto s = ConfigureLogging(log_level, daemon); !s.ok()) {
    std::cerr << "weir-" << daemon << ": " << s.message() << "\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace weir
