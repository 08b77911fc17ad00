// weirctl's integer flags, parsed strictly: decimal digits only (a leading
// '-' only where negatives mean something), nothing after them, within the
// type's range. CLI11's own conversion reads `--epoch -1` as 2^64-1.
// Header-only; used by main.cc and its tests.
#pragma once

#include <charconv>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

#include <CLI/CLI.hpp>

#include "common/status.h"

namespace weir::cli {

// `text` as a T within [min, max]; an error names `flag`, the value and what is allowed.
template <typename T>
[[nodiscard]] Result<T> ParseStrictInteger(std::string_view flag, std::string_view text,
                                           T min = std::numeric_limits<T>::min(),
                                           T max = std::numeric_limits<T>::max()) {
  const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  auto refuse = [&](const std::string& why) {
    return InvalidArgument(std::string(flag) + " \"" + std::string(text) + "\" " + why + ": want " + range);
  };
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range) return refuse("is out of range");
  if (ec != std::errc() || text.empty()) {
    if (!text.empty() && text.front() == '-' && !std::numeric_limits<T>::is_signed) return refuse("is negative");
    return refuse("is not a decimal integer");
  }
  if (ptr != end) return refuse("has trailing characters \"" + std::string(ptr, end) + "\"");
  if (value < min || value > max) return refuse("is out of range");
  return value;
}

// Adds `name` to `app`, parsed with ParseStrictInteger into `value` (its
// current value shown as the default). A bad value is a usage error naming the flag.
template <typename T>
CLI::Option* AddStrictInteger(CLI::App* app, const std::string& name, T& value, const std::string& help,
                              T min = std::numeric_limits<T>::min(), T max = std::numeric_limits<T>::max()) {
  return app
      ->add_option_function<std::string>(
          name,
          [&value, name, min, max](const std::string& text) {
            auto parsed = ParseStrictInteger<T>(name, text, min, max);
            if (!parsed.ok()) throw CLI::ValidationError(parsed.status().message());
            value = *parsed;
          },
          help)
      ->default_str(std::to_string(value));
}

}  // namespace weir::cli
