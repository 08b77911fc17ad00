// weirctl features import's row reader: what it accepts, what it refuses and
// why, and non-finite numbers written by the row format read back as numbers.
#include "cli/row_parse.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

using Catch::Matchers::Contains;

namespace {

weir::Result<weir::v1::FeatureRow> Parse(const std::string& line) {
  static simdjson::dom::parser parser;
  weir::v1::FeatureRow row;
  const weir::Status s = weir::cli::ParseRow(parser, line, &row);
  if (!s.ok()) return s;
  return row;
}

}  // namespace

TEST_CASE("a row line reads into a FeatureRow", "[cli]") {
  auto row =
      Parse(R"({"view":"v","key":"k","feature":"f","window_start":0,"window_end":60000,"value":2.5,"revision":1})");
  REQUIRE(row.ok());
  CHECK(row->view() == "v");
  CHECK(row->window_end() == 60000);
  CHECK(row->value().number() == 2.5);
  CHECK(row->revision() == 1);
}

TEST_CASE("a non-finite number written as text with its marker reads back as a number", "[cli]") {
  const std::string head = R"({"view":"v","key":"k","feature":"f","window_start":0,"window_end":1,"revision":0,)";
  auto inf = Parse(head + R"("value":"Infinity","nonfinite":true})");
  REQUIRE(inf.ok());
  CHECK(inf->value().kind_case() == weir::v1::FeatureValue::kNumber);
  CHECK(std::isinf(inf->value().number()));
  CHECK(inf->value().number() > 0);
  auto nan = Parse(head + R"("value":"NaN","nonfinite":true})");
  REQUIRE(nan.ok());
  CHECK(std::isnan(nan->value().number()));
  auto text = Parse(head + R"("value":"Infinity"})");  // no marker: the text "Infinity"
  REQUIRE(text.ok());
  CHECK(text->value().text() == "Infinity");
  auto bad = Parse(head + R"("value":"lots","nonfinite":true})");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.status().message(), Contains("\"Infinity\", \"-Infinity\" or \"NaN\""));
}

TEST_CASE("a line without a view, key or feature, or with a bad field, is refused naming it", "[cli]") {
  CHECK_THAT(Parse("[]").status().message(), Contains("not a JSON object"));
  CHECK_THAT(Parse(R"({"view":"","key":"k","feature":"f","window_start":0,"window_end":1,"value":1,"revision":0})")
                 .status()
                 .message(),
             Contains("\"view\" must not be empty"));
  CHECK_THAT(Parse(R"({"view":"v","key":"k","feature":"f","window_start":0,"window_end":1,"value":1,"revision":-1})")
                 .status()
                 .message(),
             Contains("\"revision\" must be a non-negative integer"));
}
