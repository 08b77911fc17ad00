#include "common/duration.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace weir {
namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

// The milliseconds `text` parses to; the parse must succeed.
int64_t Ms(const std::string& text) {
  Result<int64_t> ms = ParseDuration(text);
  INFO(text << ": " << ms.status().message());
  REQUIRE(ms.ok());
  return *ms;
}

// The error message for `text`, which must fail to parse with InvalidArgument.
std::string ErrorOf(const std::string& text) {
  Result<int64_t> ms = ParseDuration(text);
  INFO(text);
  REQUIRE_FALSE(ms.ok());
  CHECK(ms.status().code() == StatusCode::kInvalidArgument);
  return ms.status().message();
}

TEST_CASE("ParseDuration reads every unit", "[common]") {
  CHECK(Ms("250ms") == 250);
  CHECK(Ms("5s") == 5 * kSecond);
  CHECK(Ms("10m") == 10 * kMinute);
  CHECK(Ms("1h") == kHour);
  CHECK(Ms("7d") == 7 * kDay);
}

TEST_CASE("ParseDuration reads 0 alone and zero of any unit", "[common]") {
  CHECK(Ms("0") == 0);
  CHECK(Ms("0s") == 0);
  CHECK(Ms("0ms") == 0);
  CHECK(Ms("0d") == 0);
}

TEST_CASE("ParseDuration adds up a sequence of parts", "[common]") {
  CHECK(Ms("1h30m") == kHour + 30 * kMinute);
  CHECK(Ms("1m30s") == kMinute + 30 * kSecond);
  CHECK(Ms("1s500ms") == 1500);
  CHECK(Ms("2d3h4m5s6ms") == 2 * kDay + 3 * kHour + 4 * kMinute + 5 * kSecond + 6);
  CHECK(Ms("5m5s") == 5 * kMinute + 5 * kSecond);  // "m" followed by a digit is minutes, not "ms"
}

TEST_CASE("ParseDuration rejects what is not a duration, naming the accepted forms", "[common]") {
  const std::string hint = " is not a duration (use a number with a unit: 250ms, 5s, 10m, 1h, 7d)";
  CHECK(ErrorOf("5x") == "\"5x\"" + hint);
  CHECK(ErrorOf("") == "\"\"" + hint);
  CHECK(ErrorOf("5") == "\"5\"" + hint);  // only 0 may go without a unit
  CHECK(ErrorOf("00") == "\"00\"" + hint);
  CHECK(ErrorOf("-5s") == "\"-5s\"" + hint);
  CHECK(ErrorOf("1.5h") == "\"1.5h\"" + hint);
  CHECK(ErrorOf(" 5s") == "\" 5s\"" + hint);
  CHECK(ErrorOf("5 s") == "\"5 s\"" + hint);
  CHECK(ErrorOf("5s ") == "\"5s \"" + hint);
  CHECK(ErrorOf("s") == "\"s\"" + hint);
  CHECK(ErrorOf("5S") == "\"5S\"" + hint);
  CHECK(ErrorOf("1h30") == "\"1h30\"" + hint);
  CHECK(ErrorOf("5sec") == "\"5sec\"" + hint);
  CHECK(ErrorOf("5mo") == "\"5mo\"" + hint);
}

TEST_CASE("ParseDuration rejects a duration that does not fit in 64 bits", "[common]") {
  CHECK(Ms("9223372036854775807ms") == std::numeric_limits<int64_t>::max());
  CHECK(ErrorOf("9223372036854775808ms") == "\"9223372036854775808ms\" is too long a duration");
  CHECK(ErrorOf("106751991167301d") == "\"106751991167301d\" is too long a duration");
  CHECK(ErrorOf("9223372036854775807ms1ms") == "\"9223372036854775807ms1ms\" is too long a duration");
}

TEST_CASE("FormatDuration uses the largest units that divide the value", "[common]") {
  CHECK(FormatDuration(0) == "0s");
  CHECK(FormatDuration(250) == "250ms");
  CHECK(FormatDuration(5 * kSecond) == "5s");
  CHECK(FormatDuration(7 * kMinute) == "7m");
  CHECK(FormatDuration(kHour) == "1h");
  CHECK(FormatDuration(2 * kHour) == "2h");
  CHECK(FormatDuration(kHour + 30 * kMinute) == "1h30m");
  CHECK(FormatDuration(1500) == "1s500ms");
  CHECK(FormatDuration(7 * kDay) == "7d");
  CHECK(FormatDuration(kDay + 1) == "1d1ms");
}

TEST_CASE("FormatDuration writes negative values with a minus sign", "[common]") {
  CHECK(FormatDuration(-5 * kSecond) == "-5s");
  CHECK(FormatDuration(-(kHour + 250)) == "-1h250ms");
}

TEST_CASE("FormatDuration is exact at the ends of the int64 range", "[common]") {
  const int64_t max = std::numeric_limits<int64_t>::max();
  const int64_t min = std::numeric_limits<int64_t>::min();
  CHECK(FormatDuration(max) == "106751991167d7h12m55s807ms");
  CHECK(FormatDuration(min) == "-106751991167d7h12m55s808ms");
  CHECK(Ms(FormatDuration(max)) == max);
}

TEST_CASE("ParseDuration reads back what FormatDuration writes", "[common]") {
  for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{61'001}, kHour - 1, kDay,
                     3 * kDay + 5 * kHour + 7, int64_t{1'700'000'000'123}}) {
    INFO(ms);
    CHECK(Ms(FormatDuration(ms)) == ms);
  }
}

}  // namespace
}  // namespace weir
