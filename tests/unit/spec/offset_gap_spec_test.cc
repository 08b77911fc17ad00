// source.on_offset_gap: what a partition does when Kafka no longer has the
// records it must read next.
#include <catch2/catch.hpp>

#include <string>

#include "spec/job_spec.h"
#include "spec/job_spec_yaml.h"

namespace weir {
namespace {

std::string SpecWithSource(const std::string& source) {
  return "name: j\n" + source +
         "\nkey: user\nevent_time: { field: ts }\nview: v\n"
         "features:\n  - { name: n, agg: count, window: { tumbling: 1m } }\n"
         "sink: { feature_store: \"fs:7070\" }\n";
}

TEST_CASE("source.on_offset_gap is stop by default, skip when asked, and nothing else", "[spec]") {
  Result<v1::JobSpec> plain = ParseJobSpecYaml(SpecWithSource("source: { kafka: { brokers: \"k:9092\", topic: t } }"));
  REQUIRE(plain.ok());
  CHECK(plain->source().on_offset_gap() == v1::OFFSET_GAP_POLICY_STOP);

  Result<v1::JobSpec> skip =
      ParseJobSpecYaml(SpecWithSource("source: { kafka: { brokers: \"k:9092\", topic: t }, on_offset_gap: skip }"));
  REQUIRE(skip.ok());
  CHECK(skip->source().on_offset_gap() == v1::OFFSET_GAP_POLICY_SKIP);

  Result<v1::JobSpec> bad =
      ParseJobSpecYaml(SpecWithSource("source: { kafka: { brokers: \"k:9092\", topic: t }, on_offset_gap: ignore }"));
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find(
            "source.on_offset_gap: unknown offset gap policy \"ignore\" (expected one of: stop, skip)") !=
        std::string::npos);

  // From the wire: a value outside the enum is refused by validation.
  v1::JobSpec spec = *plain;
  spec.mutable_source()->set_on_offset_gap(static_cast<v1::OffsetGapPolicy>(7));
  const Status checked = ValidateJobSpec(spec);
  CHECK_FALSE(checked.ok());
  CHECK(checked.message().find("source.on_offset_gap") != std::string::npos);
}

}  // namespace
}  // namespace weir
