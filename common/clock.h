// The wall clock as the rest of Weir counts time: integer milliseconds since
// the Unix epoch (docs/semantics.md). Components that must be testable take
// a clock argument instead of calling this directly.
#pragma once

#include <cstdint>

namespace weir {

int64_t WallClockMs();

}  // namespace weir
