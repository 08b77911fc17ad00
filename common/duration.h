// Durations as users write them in job specs and flags: "250ms", "5s", "10m",
// "1h", "7d", or a sum of those ("1h30m"). Stored as integer milliseconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace weir {

// Parses a non-negative duration. "0" alone is accepted; any other number needs
// a unit (ms, s, m, h, d). The error names the text and the accepted forms.
Result<int64_t> ParseDuration(std::string_view text);

// The shortest exact text for `ms` using the largest units that divide it:
// 3600000 -> "1h", 5400000 -> "1h30m", 250 -> "250ms", 0 -> "0s".
std::string FormatDuration(int64_t ms);

}  // namespace weir
