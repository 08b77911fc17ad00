// Fuzzes the row import parser (`weirctl features import`'s reader of the
// feature-row format). Invariants: any line is a row or an InvalidArgument,
// never a crash; a row it accepts has a non-empty view, key and feature, and
// written back in the row format (engine::AppendRowJson) it parses again to
// the same row.
#include <cstddef>
#include <cstdint>
#include <string>

#include <simdjson.h>

#include "cli/row_parse.h"
#include "common/status.h"
#include "engine/row_format.h"
#include "tests/fuzz/fuzz_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;  // NOLINT(google-build-using-namespace): a fuzz entry point
  static simdjson::dom::parser parser;
  const std::string line(reinterpret_cast<const char*>(data), size);
  v1::FeatureRow row;
  const Status s = cli::ParseRow(parser, line, &row);
  if (!s.ok()) {
    fuzz::Require(s.code() == StatusCode::kInvalidArgument, "a refused line is InvalidArgument");
    return 0;
  }
  fuzz::Require(!row.view().empty() && !row.key().empty() && !row.feature().empty(),
                "an accepted row has a view, a key and a feature");
  engine::FeatureRow r;
  r.key = row.key();
  r.window_start = row.window_start();
  r.window_end = row.window_end();
  r.revision = row.revision();
  // A row without available_at is available at its window end (as the store takes it).
  r.available_at = row.has_available_at() ? row.available_at() : row.window_end();
  r.value = row.value().kind_case() == v1::FeatureValue::kText ? engine::RowValue{true, 0, row.value().text()}
                                                               : engine::RowValue{false, row.value().number(), {}};
  std::string again;
  engine::AppendRowJson(again, row.view(), row.feature(), r);
  v1::FeatureRow back;
  const Status s2 = cli::ParseRow(parser, again, &back);
  fuzz::Require(s2.ok(), "a row written in the row format parses again");
  fuzz::Require(back.view() == row.view() && back.key() == row.key() && back.feature() == row.feature() &&
                    back.window_start() == row.window_start() && back.window_end() == row.window_end() &&
                    back.revision() == row.revision() && back.value().kind_case() == row.value().kind_case() &&
                    back.available_at() == r.available_at,
                "a row read back is the same row");
  return 0;
}
