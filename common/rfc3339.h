// RFC 3339 date-times (the profile of ISO 8601 that JSON producers write) to
// and from Weir's event time: integer milliseconds since the Unix epoch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace weir {

// Parses an RFC 3339 date-time, `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`,
// into ms since the Unix epoch (UTC). Accepted: `t` for `T`, a space for `T`
// (RFC 3339 Section 5.6 note), `z` for `Z`, a fraction of any length (digits
// past the millisecond are dropped, i.e. the time is rounded toward negative
// infinity), any year 0000-9999 (dates before 1970 give negative times).
// Rejected: anything else, including a missing offset, out-of-range fields, a
// day past the end of its month (leap years counted), and second 60: leap
// seconds are not supported because the epoch time scale has no room for them.
// Pure; safe to call from any thread. The error names the text (its first 64
// characters) and the expected form.
Result<int64_t> ParseRfc3339Millis(std::string_view text);

// Formats `ms` since the Unix epoch as UTC with exactly three fraction digits:
// 0 -> "1970-01-01T00:00:00.000Z". Years outside 0000-9999 (|ms| beyond about
// 2.5e14) are written with more digits or a leading '-': readable, but not
// RFC 3339, so ParseRfc3339Millis rejects them.
std::string FormatRfc3339Millis(int64_t ms);

}  // namespace weir
