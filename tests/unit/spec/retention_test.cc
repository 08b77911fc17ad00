// `retention`: the view's retention in the feature store, a duration beside
// `view`; 0 (absent) keeps rows forever.
#include <catch2/catch.hpp>

#include "spec/job_spec_yaml.h"
#include "tests/unit/spec/spec_yaml_helpers.h"

namespace weir {
namespace {

TEST_CASE("retention is a duration beside view, absent means forever", "[spec]") {
  auto spec = ParseJobSpecYaml(Minimal("retention: 90d\n"));
  REQUIRE(spec.ok());
  CHECK(spec->retention_ms() == 90LL * 24 * 3600 * 1000);
  auto none = ParseJobSpecYaml(Minimal());
  REQUIRE(none.ok());
  CHECK(none->retention_ms() == 0);
  CHECK(ParseError(Minimal("retention: forever\n")).rfind("retention: ", 0) == 0);
}

}  // namespace
}  // namespace weir
