#include "common/duration.h"

namespace weir {
namespace {

struct Unit {
  std::string_view suffix;
  int64_t ms;
};

// Longest suffix first, so "ms" is not read as "m" followed by "s".
constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};

Status BadDuration(std::string_view text) {
  return InvalidArgument("\"" + std::string(text) +
                         "\" is not a duration (use a number with a unit: 250ms, 5s, 10m, 1h, 7d)");
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text) {
  if (text == "0") return int64_t{0};
  if (text.empty()) return BadDuration(text);
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return BadDuration(text);
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (__builtin_mul_overflow(n, 10, &n) || __builtin_add_overflow(n, text[i] - '0', &n)) {
        return InvalidArgument("\"" + std::string(text) + "\" is too long a duration");
      }
      ++i;
    }
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (text.substr(i, u.suffix.size()) == u.suffix) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return BadDuration(text);
    i += unit->suffix.size();
    int64_t part = 0;
    if (__builtin_mul_overflow(n, unit->ms, &part) || __builtin_add_overflow(total, part, &total)) {
      return InvalidArgument("\"" + std::string(text) + "\" is too long a duration");
    }
  }
  return total;
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  // The magnitude as unsigned, so that INT64_MIN (whose negation overflows) stays exact.
  uint64_t rest = static_cast<uint64_t>(ms);
  if (ms < 0) {
    out = "-";
    rest = ~rest + 1;
  }
  for (int u = 4; u >= 0; --u) {
    const uint64_t unit_ms = static_cast<uint64_t>(kUnits[u].ms);
    if (rest >= unit_ms) {
      out += std::to_string(rest / unit_ms);
      out += kUnits[u].suffix;
      rest %= unit_ms;
    }
  }
  return out;
}

}  // namespace weir
