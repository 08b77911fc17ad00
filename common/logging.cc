#include "common/logging.h"

#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace weir {

Status ConfigureLogging(std::string_view level, std::string_view component) {
  const std::string name(level);
  const spdlog::level::level_enum parsed = spdlog::level::from_str(name);
  // from_str maps anything unknown to "off"; only "off" itself may mean that.
  if (parsed == spdlog::level::off && name != "off") {
    return InvalidArgument("unknown log level \"" + name +
                           "\" (expected one of: trace, debug, info, warn, error, off)");
  }
  auto logger = spdlog::stderr_color_mt(std::string(component));
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%n] %v");
  return Status::Ok();
}

}  // namespace weir
