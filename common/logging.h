// Logging setup for daemons and tools: spdlog's default logger on stderr with
// a timestamped pattern, at a level given by flag or environment.
#pragma once

#include <string_view>

#include "common/status.h"

namespace weir {

// Sets the default logger's level ("trace", "debug", "info", "warn", "error",
// "off") and pattern. An unknown level is an error naming the accepted ones.
// `component` names the process in every line ("coordinator", "worker-1").
Status ConfigureLogging(std::string_view level, std::string_view component);

}  // namespace weir
