#include "common/rfc3339.h"

#include <cstdio>

namespace weir {
namespace {

constexpr int64_t kMillisPerDay = 86'400'000;
constexpr size_t kMaxEchoedChars = 64;
constexpr const char* kExpectedForm =
    "expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or +HH:MM/-HH:MM, e.g. 2024-01-31T12:34:56.789Z";

Status BadTime(std::string_view text, std::string_view why) {
  std::string shown(text.substr(0, kMaxEchoedChars));
  if (text.size() > kMaxEchoedChars) shown += "...";
  return InvalidArgument("\"" + shown + "\" is not an RFC 3339 time: " + std::string(why) + " (" + kExpectedForm + ")");
}

bool IsLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// Days since 1970-01-01 of the proleptic Gregorian date y-m-d (Howard Hinnant,
// "chrono-Compatible Low-Level Date Algorithms", days_from_civil).
// REQUIRES: 1 <= m <= 12, 1 <= d <= DaysInMonth(y, m).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;                                    // [0, 399]
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + doe - 719468;
}

// The inverse of DaysFromCivil (Hinnant's civil_from_days).
void CivilFromDays(int64_t z, int64_t* y, int* m, int* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;                                       // [0, 146096]
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const int64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

// Reads exactly `n` ASCII digits at text[*pos] into *out and advances *pos.
bool ReadDigits(std::string_view text, size_t* pos, int n, int* out) {
  if (*pos + n > text.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = text[*pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  *pos += n;
  return true;
}

// Consumes the character `c` at text[*pos].
bool Expect(std::string_view text, size_t* pos, char c) {
  if (*pos >= text.size() || text[*pos] != c) return false;
  ++*pos;
  return true;
}

}  // namespace

Result<int64_t> ParseRfc3339Millis(std::string_view text) {
  size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadDigits(text, &pos, 4, &year) || !Expect(text, &pos, '-') || !ReadDigits(text, &pos, 2, &month) ||
      !Expect(text, &pos, '-') || !ReadDigits(text, &pos, 2, &day)) {
    return BadTime(text, "the date is not YYYY-MM-DD");
  }
  if (pos >= text.size() || (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ')) {
    return BadTime(text, "the date must be followed by 'T' and a time");
  }
  ++pos;
  if (!ReadDigits(text, &pos, 2, &hour) || !Expect(text, &pos, ':') || !ReadDigits(text, &pos, 2, &minute) ||
      !Expect(text, &pos, ':') || !ReadDigits(text, &pos, 2, &second)) {
    return BadTime(text, "the time is not HH:MM:SS");
  }
  int64_t fraction_ms = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const size_t first = pos;
    int scale = 100;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction_ms += int64_t{text[pos] - '0'} * scale;  // digits past the third have scale 0: dropped
      scale /= 10;
      ++pos;
    }
    if (pos == first) return BadTime(text, "the '.' must be followed by fraction digits");
  }
  int offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const int sign = text[pos] == '-' ? -1 : 1;
    ++pos;
    int offset_hour = 0, offset_minute = 0;
    if (!ReadDigits(text, &pos, 2, &offset_hour) || !Expect(text, &pos, ':') ||
        !ReadDigits(text, &pos, 2, &offset_minute)) {
      return BadTime(text, "the offset is not +HH:MM or -HH:MM");
    }
    if (offset_hour > 23 || offset_minute > 59) return BadTime(text, "the offset is out of range");
    offset_minutes = sign * (offset_hour * 60 + offset_minute);
  } else {
    return BadTime(text, "the time must end with Z or an offset like +02:00");
  }
  if (pos != text.size()) return BadTime(text, "unexpected text after the offset");

  if (month < 1 || month > 12) return BadTime(text, "the month must be 01-12");
  if (day < 1 || day > DaysInMonth(year, month)) return BadTime(text, "the day does not exist in that month");
  if (hour > 23) return BadTime(text, "the hour must be 00-23");
  if (minute > 59) return BadTime(text, "the minute must be 00-59");
  if (second == 60) return BadTime(text, "leap seconds (second 60) are not supported");
  if (second > 59) return BadTime(text, "the second must be 00-59");

  // Years 0000-9999 keep every term far from int64 limits (|ms| < 3.2e14).
  const int64_t seconds = DaysFromCivil(year, month, day) * 86'400 + int64_t{hour} * 3'600 + int64_t{minute} * 60 +
                          second - int64_t{offset_minutes} * 60;
  return seconds * 1000 + fraction_ms;
}

std::string FormatRfc3339Millis(int64_t ms) {
  // Split without forming days * kMillisPerDay, which overflows near kMinTime.
  int64_t days = ms / kMillisPerDay;
  int64_t ms_of_day = ms % kMillisPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMillisPerDay;
    --days;
  }
  int64_t year = 0;
  int month = 0, day = 0;
  CivilFromDays(days, &year, &month, &day);
  const int hour = static_cast<int>(ms_of_day / 3'600'000);
  const int minute = static_cast<int>(ms_of_day / 60'000 % 60);
  const int second = static_cast<int>(ms_of_day / 1000 % 60);
  const int milli = static_cast<int>(ms_of_day % 1000);
  char buf[64];
  const int n = std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", static_cast<long long>(year),
                              month, day, hour, minute, second, milli);
  return std::string(buf, n);
}

}  // namespace weir
