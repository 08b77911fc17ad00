// The limits and the fuzzer's findings: what the parser refuses rather than
// keeping, looping on, or letting through to the wire.
#include <catch2/catch.hpp>
#include <string>

#include "spec/job_spec_yaml.h"
#include "tests/unit/spec/spec_yaml_helpers.h"

namespace weir {
namespace {

TEST_CASE("YAML that yaml-cpp's LoadAll never finishes is refused", "[spec]") {
  // Found by the job_spec fuzz target: a lone "," made weirctl spin forever.
  auto spec = ParseJobSpecYaml(",");
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.status().message() ==
        "job spec: is not valid YAML (the parser does not advance: look for a stray ',', '[' or '{' at the top level)");
}

TEST_CASE("a filter number beyond double's range is refused, not kept as text", "[spec]") {
  CHECK(ParseError(WithFeature("{ name: big, agg: count, window: { tumbling: 1m }, where: [ { field: x, op: gt, "
                               "value: 1e400 } ] }")) ==
        "features[0].where[0].value: 1e400 is beyond the range of a number (about ±1.8e308, smallest 2.2e-308); quote "
        "it to compare as text");
}

TEST_CASE("windows, lateness and slides are bounded", "[spec]") {
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { sliding: { size: 100000d, slide: 1ms } } }")) ==
        "features[0].window.sliding.size: 100000d is longer than the longest supported, 3660d\n"
        "features[0].window.sliding.slide: 1ms makes 8640000000000 windows per event (size / slide); at most 10000 "
        "are supported: use a longer slide");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { sliding: { size: 1d, slide: 1s } } }")) ==
        "features[0].window.sliding.slide: 1s makes 86400 windows per event (size / slide); at most 10000 are "
        "supported: use a longer slide");
  CHECK(ParseError(WithFeature("{ name: f, agg: count, window: { tumbling: 9223372036854775807ms } }")) ==
        "features[0].window.tumbling: 106751991167d7h12m55s807ms is longer than the longest supported, 3660d");
  CHECK(ParseError(Minimal("allowed_lateness: 4000d\n")) ==
        "allowed_lateness: 4000d is longer than the longest supported, 3660d");
  // The limits themselves are accepted.
  CHECK(ParseJobSpecYaml(WithFeature("{ name: f, agg: count, window: { sliding: { size: 3660d, slide: 1d } } }")).ok());
}

TEST_CASE("a spec that is not UTF-8 is refused with its line", "[spec]") {
  // Found by the job_spec fuzz target: the bytes reached the proto and the
  // spec could not cross the wire.
  auto spec = ParseJobSpecYaml("name: job\nevent_time: { field: \"t\xFFs\" }\n");
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.status().message() == "job spec: not valid UTF-8 at line 2 (byte 34); save the file as UTF-8");
}

}  // namespace
}  // namespace weir
