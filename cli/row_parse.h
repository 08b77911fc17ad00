// One line of the feature-row format (docs/semantics.md) to a FeatureRow:
// what `weirctl features import` reads. No gRPC here, so the fuzz build
// (tests/fuzz/row_import_fuzz.cc) links it too.
#pragma once

#include <simdjson.h>

#include <string>

#include "common/status.h"
#include "weir/v1/feature.pb.h"

namespace weir::cli {

// InvalidArgument saying what is wrong with `line` (not an object, a missing
// or mistyped field, an empty view, key or feature, a revision beyond 32 bits).
Status ParseRow(simdjson::dom::parser& parser, const std::string& line, weir::v1::FeatureRow* row);

}  // namespace weir::cli
