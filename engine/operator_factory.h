// Builds the window operator of one feature: the template instance for its
// window kind and aggregate.
#pragma once

#include <memory>

#include "engine/operator_host.h"

namespace weir::engine {

// Whether a field value can be aggregated by a feature's aggregate.
using UsableFn = bool (*)(const FieldValue&);

struct FeatureRuntime {
  std::unique_ptr<FeatureOperator> op;
  UsableFn usable = nullptr;
};

FeatureRuntime MakeFeatureOperator(OperatorHost& host, uint32_t feature);

}  // namespace weir::engine
