#include <catch2/catch.hpp>

#include <string>

#include "common/utf8.h"
#include "engine/row_format.h"

namespace weir::engine {
namespace {

TEST_CASE("dead-letter JSON replaces invalid UTF-8 bytes with U+FFFD and keeps valid text", "[engine]") {
  // A truncated 2-byte sequence, a lone continuation byte, an overlong '/',
  // then valid text with an accent and a quote.
  const std::string record = std::string("a\xC3") + "b\x80" + "\xC0\xAF" + "caf\xC3\xA9\"";
  std::string out;
  AppendDeadLetterJson(out, DeadLetterReason::kDecode, 3, 42, "bad \xFF detail", record);
  CHECK(IsValidUtf8(out));
  CHECK(out ==
        "{\"reason\":\"decode\",\"partition\":3,\"offset\":42,\"detail\":\"bad \\ufffd detail\","
        "\"record\":\"a\\ufffdb\\ufffd\\ufffd\\ufffdcaf\xC3\xA9\\\"\"}\n");
}

TEST_CASE("JSON strings of valid UTF-8 are written unchanged apart from escapes", "[engine]") {
  std::string out;
  AppendJsonString(out, "\xF0\x9F\x98\x80 tab\t");
  CHECK(out == "\"\xF0\x9F\x98\x80 tab\\t\"");
}

TEST_CASE("the sink_refused dead-letter reason has its name and counts in the reason tables", "[engine]") {
  CHECK(std::string(DeadLetterReasonName(DeadLetterReason::kSinkRefused)) == "sink_refused");
  CHECK(kDeadLetterReasons == 5);
}

}  // namespace
}  // namespace weir::engine

TEST_CASE("integral numbers beyond 2^53 are written with an exponent, so JSON readers take them as numbers",
          "[engine]") {
  std::string out;
  weir::engine::AppendJsonNumber(out, 3.3333333333333333e21);
  CHECK(out.find('e') != std::string::npos);
  CHECK(std::stod(out) == 3.3333333333333333e21);
  out.clear();
  weir::engine::AppendJsonNumber(out, 9007199254740991.0);  // below 2^53: an integer, as before
  CHECK(out == "9007199254740991");
  out.clear();
  weir::engine::AppendJsonNumber(out, -1e300);
  CHECK(std::stod(out) == -1e300);
  CHECK(out.find('e') != std::string::npos);
}
