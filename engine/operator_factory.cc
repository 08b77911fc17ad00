#include "engine/operator_factory.h"

#include "engine/aggregates.h"
#include "engine/session_operator.h"
#include "engine/slice_operator.h"

namespace weir::engine {
namespace {

template <typename Agg>
FeatureRuntime Make(OperatorHost& host, uint32_t feature) {
  FeatureRuntime rt;
  rt.usable = &Agg::Usable;
  if (host.plan().features[feature].window == WindowKind::kSession) {
    rt.op = std::make_unique<SessionOperator<Agg>>(host, feature);
  } else {
    rt.op = std::make_unique<SliceOperator<Agg>>(host, feature);
  }
  return rt;
}

}  // namespace

FeatureRuntime MakeFeatureOperator(OperatorHost& host, uint32_t feature) {
  switch (host.plan().features[feature].agg) {
    case AggKind::kCount: return Make<CountAgg>(host, feature);
    case AggKind::kSum: return Make<SumAgg>(host, feature);
    case AggKind::kMin: return Make<MinAgg>(host, feature);
    case AggKind::kMax: return Make<MaxAgg>(host, feature);
    case AggKind::kAvg: return Make<AvgAgg>(host, feature);
    case AggKind::kStddev: return Make<StddevAgg>(host, feature);
    case AggKind::kLast: return Make<LastAgg>(host, feature);
    case AggKind::kCountDistinct: return Make<CountDistinctAgg>(host, feature);
    case AggKind::kPercentile: return Make<PercentileAgg>(host, feature);
  }
  return Make<CountAgg>(host, feature);
}

}  // namespace weir::engine
