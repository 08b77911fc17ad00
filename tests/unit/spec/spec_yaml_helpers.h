// Small YAML job specs for the spec tests: the smallest valid one, one
// feature, and the error message of one that must fail.
#pragma once

#include <catch2/catch.hpp>
#include <string>

#include "spec/job_spec_yaml.h"

namespace weir {

// The smallest valid spec: only required fields. Tests add or change one
// thing, so each error message they check is the only one.
constexpr const char* kMinimalHead = R"(
name: job
source: { kafka: { brokers: "k:9092", topic: t } }
key: user_id
event_time: { field: ts }
view: v
sink: { feature_store: "fs:7070" }
)";

// kMinimalHead plus a `features:` list holding `feature` (one flow mapping).
inline std::string WithFeature(const std::string& feature) {
  return std::string(kMinimalHead) + "features:\n  - " + feature + "\n";
}

// kMinimalHead plus one valid feature plus `extra` top-level YAML.
inline std::string Minimal(const std::string& extra = "") {
  return WithFeature("{ name: f, agg: count, window: { tumbling: 1m } }") + extra;
}

// The error message of parsing `yaml`, which must fail with InvalidArgument.
inline std::string ParseError(const std::string& yaml) {
  Result<v1::JobSpec> spec = ParseJobSpecYaml(yaml);
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.status().code() == StatusCode::kInvalidArgument);
  return spec.status().message();
}

}  // namespace weir
