// What the fuzz targets share: one job plan that reads every kind of field
// (string and integer keys, ms times, numbers, strings, filters) and feeds
// every aggregate and window kind, so that fuzzed records reach all of them.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "engine/plan.h"
#include "spec/job_spec_yaml.h"

namespace weir::fuzz {

inline constexpr char kFuzzJob[] = R"(name: fuzz
source: { kafka: { brokers: "127.0.0.1:9092", topic: t } }
key: k
event_time: { field: ts }
watermark: { max_out_of_orderness: 2s }
allowed_lateness: 5s
view: v
features:
  - { name: n, agg: count, window: { tumbling: 1m } }
  - { name: s, agg: sum, field: x, window: { sliding: { size: 4m, slide: 1m } } }
  - { name: lo, agg: min, field: x, window: { tumbling: 1m } }
  - { name: hi, agg: max, field: x, window: { tumbling: 1m } }
  - { name: mean, agg: avg, field: x, window: { session: { gap: 30s } } }
  - { name: sd, agg: stddev, field: x, window: { tumbling: 1m } }
  - { name: last, agg: last, field: s, window: { tumbling: 1m } }
  - { name: nd, agg: count_distinct, field: s, window: { sliding: { size: 2m, slide: 1m } } }
  - { name: p9, agg: percentile, p: 0.9, field: x, window: { tumbling: 1m } }
  - { name: clicks, agg: count, window: { session: { gap: 10s } }, where: [ { field: type, op: eq, value: click } ] }
  - { name: big, agg: sum, field: x, window: { tumbling: 1m }, where: [ { field: x, op: gt, value: 10 } ] }
sink: { feature_store: "127.0.0.1:7070" }
)";

// The plan of kFuzzJob; aborts when it does not compile (a bug in the target).
inline std::shared_ptr<const engine::JobPlan> FuzzPlan() {
  static const std::shared_ptr<const engine::JobPlan> plan = [] {
    auto spec = ParseJobSpecYaml(kFuzzJob);
    if (!spec.ok()) {
      std::fprintf(stderr, "fuzz job spec: %s\n", spec.status().message().c_str());
      std::abort();
    }
    auto compiled = engine::CompilePlan(*spec);
    if (!compiled.ok()) {
      std::fprintf(stderr, "fuzz job plan: %s\n", compiled.status().message().c_str());
      std::abort();
    }
    return *compiled;
  }();
  return plan;
}

// Stops the fuzzer with `what` when `ok` is false: an invariant broke.
inline void Require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace weir::fuzz
