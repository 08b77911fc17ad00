// JobPlan: a validated JobSpec compiled into the form the engine and the
// decoder run on: field slots instead of names, enums instead of strings.
// Built once per job and shared read-only by every partition.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/event.h"
#include "weir/v1/job.pb.h"

namespace weir::engine {

enum class AggKind : uint8_t { kCount, kSum, kMin, kMax, kAvg, kStddev, kLast, kCountDistinct, kPercentile };
enum class WindowKind : uint8_t { kTumbling, kSliding, kSession };
enum class FilterOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe, kIn };
enum class TimeEncoding : uint8_t { kMillis, kSeconds, kMicros, kRfc3339 };

// A constant from a `where` clause.
struct Scalar {
  ValueType type = ValueType::kNull;  // kBool, kNumber or kString
  bool boolean = false;
  double number = 0;
  std::string text;
};

struct FilterPlan {
  int slot = 0;  // index into JobPlan::fields
  FilterOp op = FilterOp::kEq;
  std::vector<Scalar> values;  // one value, or the set for kIn
};

struct FeaturePlan {
  std::string name;
  AggKind agg = AggKind::kCount;
  int slot = -1;  // the aggregated field's slot; -1 for count without a field
  double p = 0;   // percentile rank in [0, 1]
  WindowKind window = WindowKind::kTumbling;
  int64_t size = 0;   // tumbling and sliding: window length (ms)
  int64_t slide = 0;  // tumbling: == size; sliding: the slide (ms)
  int64_t gap = 0;    // session: the inactivity gap (ms)
  std::vector<FilterPlan> where;
};

struct JobPlan {
  std::string job;
  std::string view;
  std::string key_field;
  std::string time_field;
  TimeEncoding time_encoding = TimeEncoding::kMillis;
  int64_t max_out_of_orderness = 0;  // ms
  int64_t idle_timeout = 0;          // ms, 0 = off
  int64_t allowed_lateness = 0;      // ms
  // A re-keyed job's stage 2 (spec/job_spec.h IsRekeyed): the watermark comes
  // only from the repartition topic's markers (AdvanceWatermark, see
  // engine/rekey_merge.h), never from the events' own times.
  bool watermark_from_markers = false;
  // Every record field an aggregate or a filter reads, by slot. Top-level
  // field names only; the key and time fields appear here only when a feature
  // or filter also reads them.
  std::vector<std::string> fields;
  std::vector<FeaturePlan> features;
  // A hash of everything above: a snapshot restores only into the same plan.
  uint64_t fingerprint = 0;
};

// Validates `spec` (spec/job_spec.h) and compiles it.
Result<std::shared_ptr<const JobPlan>> CompilePlan(const weir::v1::JobSpec& spec);

}  // namespace weir::engine
