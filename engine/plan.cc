#include "engine/plan.h"

#include <xxhash.h>

#include "common/byte_codec.h"
#include "spec/job_spec.h"

namespace weir::engine {
namespace {

namespace pb = weir::v1;

// The slot of `name` in plan->fields, added when new.
int SlotOf(JobPlan* plan, const std::string& name) {
  for (size_t i = 0; i < plan->fields.size(); ++i) {
    if (plan->fields[i] == name) return static_cast<int>(i);
  }
  plan->fields.push_back(name);
  return static_cast<int>(plan->fields.size() - 1);
}

Scalar ToScalar(const pb::Scalar& s) {
  Scalar out;
  switch (s.kind_case()) {
    case pb::Scalar::kNumber:
      out.type = ValueType::kNumber;
      out.number = s.number();
      break;
    case pb::Scalar::kText:
      out.type = ValueType::kString;
      out.text = s.text();
      break;
    case pb::Scalar::kFlag:
      out.type = ValueType::kBool;
      out.boolean = s.flag();
      break;
    case pb::Scalar::KIND_NOT_SET: break;
  }
  return out;
}

AggKind ToAgg(pb::Aggregate a) {
  switch (a) {
    case pb::AGGREGATE_SUM: return AggKind::kSum;
    case pb::AGGREGATE_MIN: return AggKind::kMin;
    case pb::AGGREGATE_MAX: return AggKind::kMax;
    case pb::AGGREGATE_AVG: return AggKind::kAvg;
    case pb::AGGREGATE_STDDEV: return AggKind::kStddev;
    case pb::AGGREGATE_LAST: return AggKind::kLast;
    case pb::AGGREGATE_COUNT_DISTINCT: return AggKind::kCountDistinct;
    case pb::AGGREGATE_PERCENTILE: return AggKind::kPercentile;
    default: return AggKind::kCount;
  }
}

FilterOp ToOp(pb::FilterOp op) {
  switch (op) {
    case pb::FILTER_OP_NE: return FilterOp::kNe;
    case pb::FILTER_OP_LT: return FilterOp::kLt;
    case pb::FILTER_OP_LE: return FilterOp::kLe;
    case pb::FILTER_OP_GT: return FilterOp::kGt;
    case pb::FILTER_OP_GE: return FilterOp::kGe;
    case pb::FILTER_OP_IN: return FilterOp::kIn;
    default: return FilterOp::kEq;
  }
}

TimeEncoding ToEncoding(const pb::EventTimeSpec& t) {
  if (t.format() == pb::TIME_FORMAT_RFC3339) return TimeEncoding::kRfc3339;
  switch (t.unit()) {
    case pb::TIME_UNIT_SECONDS: return TimeEncoding::kSeconds;
    case pb::TIME_UNIT_MICROSECONDS: return TimeEncoding::kMicros;
    default: return TimeEncoding::kMillis;
  }
}

// Hashes what the shape of the state depends on: the key and time fields and
// every feature's aggregate, field, window and filters. Watermark delay,
// lateness, view and sink may change across a restore.
uint64_t Fingerprint(const JobPlan& plan) {
  ByteWriter w;
  w.PutString(plan.key_field);
  w.PutString(plan.time_field);
  w.Put(static_cast<uint8_t>(plan.time_encoding));
  for (const std::string& f : plan.fields) w.PutString(f);
  for (const FeaturePlan& f : plan.features) {
    w.PutString(f.name);
    w.Put(static_cast<uint8_t>(f.agg));
    w.Put(static_cast<uint8_t>(f.window));
    w.PutSignedVarint(f.slot);
    w.Put(f.p);
    w.PutSignedVarint(f.size);
    w.PutSignedVarint(f.slide);
    w.PutSignedVarint(f.gap);
    for (const FilterPlan& filter : f.where) {
      w.PutSignedVarint(filter.slot);
      w.Put(static_cast<uint8_t>(filter.op));
      for (const Scalar& s : filter.values) {
        w.Put(static_cast<uint8_t>(s.type));
        w.Put(s.number);
        w.Put(static_cast<uint8_t>(s.boolean));
        w.PutString(s.text);
      }
    }
  }
  return XXH3_64bits(w.bytes().data(), w.bytes().size());
}

}  // namespace

Result<std::shared_ptr<const JobPlan>> CompilePlan(const pb::JobSpec& spec) {
  WEIR_RETURN_IF_ERROR(ValidateJobSpec(spec));
  auto plan = std::make_shared<JobPlan>();
  plan->job = spec.name();
  plan->view = spec.view();
  plan->key_field = spec.key();
  plan->time_field = spec.event_time().field();
  plan->time_encoding = ToEncoding(spec.event_time());
  plan->max_out_of_orderness = spec.watermark().max_out_of_orderness_ms();
  plan->idle_timeout = spec.watermark().idle_timeout_ms();
  plan->watermark_from_markers = IsRekeyed(spec);
  plan->allowed_lateness = spec.allowed_lateness_ms();
  for (const pb::FeatureSpec& f : spec.features()) {
    FeaturePlan fp;
    fp.name = f.name();
    fp.agg = ToAgg(f.agg());
    fp.slot = f.field().empty() ? -1 : SlotOf(plan.get(), f.field());
    fp.p = f.p();
    switch (f.window().kind_case()) {
      case pb::WindowSpec::kTumbling:
        fp.window = WindowKind::kTumbling;
        fp.size = fp.slide = f.window().tumbling().size_ms();
        break;
      case pb::WindowSpec::kSliding:
        fp.window = WindowKind::kSliding;
        fp.size = f.window().sliding().size_ms();
        fp.slide = f.window().sliding().slide_ms();
        break;
      case pb::WindowSpec::kSession:
      case pb::WindowSpec::KIND_NOT_SET:
        fp.window = WindowKind::kSession;
        fp.gap = f.window().session().gap_ms();
        break;
    }
    for (const pb::Filter& filter : f.where()) {
      FilterPlan fl;
      fl.slot = SlotOf(plan.get(), filter.field());
      fl.op = ToOp(filter.op());
      if (fl.op == FilterOp::kIn) {
        for (const pb::Scalar& s : filter.values()) fl.values.push_back(ToScalar(s));
      } else {
        fl.values.push_back(ToScalar(filter.value()));
      }
      fp.where.push_back(std::move(fl));
    }
    plan->features.push_back(std::move(fp));
  }
  plan->fingerprint = Fingerprint(*plan);
  return std::shared_ptr<const JobPlan>(std::move(plan));
}

}  // namespace weir::engine
