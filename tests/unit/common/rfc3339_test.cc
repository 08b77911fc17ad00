#include "common/rfc3339.h"

#include <catch2/catch.hpp>

#include "common/types.h"

namespace weir {
namespace {

int64_t MustParse(std::string_view text) {
  Result<int64_t> r = ParseRfc3339Millis(text);
  INFO(text << ": " << r.status().message());
  REQUIRE(r.ok());
  return *r;
}

std::string ParseError(std::string_view text) {
  Result<int64_t> r = ParseRfc3339Millis(text);
  INFO(text);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST_CASE("ParseRfc3339Millis gives ms since the epoch for known instants", "[common][rfc3339]") {
  CHECK(MustParse("1970-01-01T00:00:00Z") == 0);
  CHECK(MustParse("2000-02-29T00:00:00Z") == 951782400000);
  CHECK(MustParse("2024-01-31T12:34:56Z") == 1706704496000);
  CHECK(MustParse("2024-01-31T12:34:56.789Z") == 1706704496789);
  CHECK(MustParse("9999-12-31T23:59:59.999Z") == 253402300799999);
}

TEST_CASE("ParseRfc3339Millis handles dates before 1970", "[common][rfc3339]") {
  CHECK(MustParse("1969-12-31T23:59:59Z") == -1000);
  CHECK(MustParse("1969-12-31T23:59:59.999Z") == -1);
  CHECK(MustParse("1969-07-20T20:17:40Z") == -14182940000);
  CHECK(MustParse("1900-01-01T00:00:00Z") == -2208988800000);
  CHECK(MustParse("0001-01-01T00:00:00Z") == -62135596800000);
  CHECK(MustParse("0000-01-01T00:00:00Z") == -62167219200000);  // year 0 is a leap year
  CHECK(MustParse("0000-02-29T00:00:00Z") == -62167219200000 + 59 * 86400000LL);
}

TEST_CASE("ParseRfc3339Millis applies numeric offsets", "[common][rfc3339]") {
  CHECK(MustParse("2024-01-31T14:34:56+02:00") == 1706704496000);
  CHECK(MustParse("2024-01-31T12:34:56-05:30") == 1706724296000);
  CHECK(MustParse("2024-01-31T12:34:56+00:00") == 1706704496000);
  CHECK(MustParse("2024-01-31T12:34:56-00:00") == 1706704496000);
  CHECK(MustParse("1970-01-01T00:00:00+23:59") == -(23 * 60 + 59) * 60000LL);
  CHECK(MustParse("2024-01-01T01:00:00.123456+02:00") == MustParse("2023-12-31T23:00:00.123Z"));
}

TEST_CASE("ParseRfc3339Millis truncates fractions toward negative infinity", "[common][rfc3339]") {
  CHECK(MustParse("1970-01-01T00:00:00.1Z") == 100);
  CHECK(MustParse("1970-01-01T00:00:00.12Z") == 120);
  CHECK(MustParse("1970-01-01T00:00:00.0009Z") == 0);
  CHECK(MustParse("1970-01-01T00:00:00.999999999999Z") == 999);
  // -0.9995 s is -999.5 ms: the floor is -1000.
  CHECK(MustParse("1969-12-31T23:59:59.0005Z") == -1000);
  CHECK(MustParse("1969-12-31T23:59:59.9999Z") == -1);
}

TEST_CASE("ParseRfc3339Millis accepts lower-case t and z and a space separator", "[common][rfc3339]") {
  CHECK(MustParse("2024-01-31t12:34:56z") == 1706704496000);
  CHECK(MustParse("2024-01-31 12:34:56Z") == 1706704496000);
  CHECK(MustParse("2024-01-31 12:34:56.789+00:00") == 1706704496789);
}

TEST_CASE("ParseRfc3339Millis rejects malformed text with a message naming it", "[common][rfc3339]") {
  const std::string msg = ParseError("2024-01-31T12:34:56");
  CHECK(msg ==
        "\"2024-01-31T12:34:56\" is not an RFC 3339 time: the time must end with Z or an offset like +02:00 "
        "(expected YYYY-MM-DDTHH:MM:SS[.fraction] followed by Z or +HH:MM/-HH:MM, e.g. 2024-01-31T12:34:56.789Z)");

  using Catch::Matchers::Contains;
  using Catch::Matchers::StartsWith;
  CHECK_THAT(ParseError(""), StartsWith("\"\" is not an RFC 3339 time: the date is not YYYY-MM-DD"));
  CHECK_THAT(ParseError("2024-01-31"), Contains("the date must be followed by 'T' and a time"));
  CHECK_THAT(ParseError("2024-1-31T12:34:56Z"), Contains("the date is not YYYY-MM-DD"));
  CHECK_THAT(ParseError("24-01-31T12:34:56Z"), Contains("the date is not YYYY-MM-DD"));
  CHECK_THAT(ParseError(" 2024-01-31T12:34:56Z"), Contains("the date is not YYYY-MM-DD"));
  CHECK_THAT(ParseError("+2024-01-31T12:34:56Z"), Contains("the date is not YYYY-MM-DD"));
  CHECK_THAT(ParseError("2024-01-31X12:34:56Z"), Contains("the date must be followed by 'T' and a time"));
  CHECK_THAT(ParseError("2024-01-31T12:34Z"), Contains("the time is not HH:MM:SS"));
  CHECK_THAT(ParseError("2024-01-31T1:34:56Z"), Contains("the time is not HH:MM:SS"));
  CHECK_THAT(ParseError("2024-01-31T12:34:56.Z"), Contains("the '.' must be followed by fraction digits"));
  CHECK_THAT(ParseError("2024-01-31T12:34:56,5Z"), Contains("the time must end with Z or an offset"));
  CHECK_THAT(ParseError("2024-01-31T12:34:56+02"), Contains("the offset is not +HH:MM or -HH:MM"));
  CHECK_THAT(ParseError("2024-01-31T12:34:56+0200"), Contains("the offset is not +HH:MM or -HH:MM"));
  CHECK_THAT(ParseError("2024-01-31T12:34:56Z "), Contains("unexpected text after the offset"));
  CHECK_THAT(ParseError("2024-01-31T12:34:56ZZ"), Contains("unexpected text after the offset"));
  CHECK_THAT(ParseError("1706704496000"), Contains("the date is not YYYY-MM-DD"));
}

TEST_CASE("ParseRfc3339Millis rejects out-of-range fields", "[common][rfc3339]") {
  using Catch::Matchers::Contains;
  CHECK_THAT(ParseError("2024-00-10T00:00:00Z"), Contains("the month must be 01-12"));
  CHECK_THAT(ParseError("2024-13-10T00:00:00Z"), Contains("the month must be 01-12"));
  CHECK_THAT(ParseError("2024-01-00T00:00:00Z"), Contains("the day does not exist in that month"));
  CHECK_THAT(ParseError("2024-01-32T00:00:00Z"), Contains("the day does not exist in that month"));
  CHECK_THAT(ParseError("2024-04-31T00:00:00Z"), Contains("the day does not exist in that month"));
  CHECK_THAT(ParseError("2023-02-29T00:00:00Z"), Contains("the day does not exist in that month"));
  CHECK_THAT(ParseError("1900-02-29T00:00:00Z"), Contains("the day does not exist in that month"));
  CHECK(MustParse("2024-02-29T00:00:00Z") == 1709164800000);
  CHECK_THAT(ParseError("2024-01-31T24:00:00Z"), Contains("the hour must be 00-23"));
  CHECK_THAT(ParseError("2024-01-31T12:60:00Z"), Contains("the minute must be 00-59"));
  CHECK_THAT(ParseError("2024-01-31T12:34:61Z"), Contains("the second must be 00-59"));
  CHECK_THAT(ParseError("2016-12-31T23:59:60Z"), Contains("leap seconds (second 60) are not supported"));
  CHECK_THAT(ParseError("2024-01-31T12:34:56+24:00"), Contains("the offset is out of range"));
  CHECK_THAT(ParseError("2024-01-31T12:34:56+02:60"), Contains("the offset is out of range"));
}

TEST_CASE("ParseRfc3339Millis shortens very long text in its message", "[common][rfc3339]") {
  const std::string text = "2024-01-31T12:34:56Z" + std::string(200, 'x');
  const std::string msg = ParseError(text);
  CHECK_THAT(msg, Catch::Matchers::StartsWith("\"" + text.substr(0, 64) + "...\" is not an RFC 3339 time"));
  CHECK(msg.size() < 300);
}

TEST_CASE("FormatRfc3339Millis writes UTC with three fraction digits", "[common][rfc3339]") {
  CHECK(FormatRfc3339Millis(0) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatRfc3339Millis(1706704496789) == "2024-01-31T12:34:56.789Z");
  CHECK(FormatRfc3339Millis(951782400000) == "2000-02-29T00:00:00.000Z");
  CHECK(FormatRfc3339Millis(-1) == "1969-12-31T23:59:59.999Z");
  CHECK(FormatRfc3339Millis(-14182940000) == "1969-07-20T20:17:40.000Z");
  CHECK(FormatRfc3339Millis(-62167219200000) == "0000-01-01T00:00:00.000Z");
  CHECK(FormatRfc3339Millis(253402300799999) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("FormatRfc3339Millis handles the extremes of the time range", "[common][rfc3339]") {
  CHECK(FormatRfc3339Millis(kMaxTime) == "292278994-08-17T07:12:55.807Z");
  CHECK(FormatRfc3339Millis(kMinTime) == "-292275055-05-16T16:47:04.192Z");
}

TEST_CASE("FormatRfc3339Millis output parses back to the same time", "[common][rfc3339]") {
  // Steps of a prime number of ms, across 1970 and a few leap days.
  for (int64_t ms = -5'000'000'000'000; ms < 5'000'000'000'000; ms += 7'919'191'919) {
    const std::string text = FormatRfc3339Millis(ms);
    INFO(ms << " -> " << text);
    CHECK(MustParse(text) == ms);
  }
}

}  // namespace
}  // namespace weir
