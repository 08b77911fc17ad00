// Rows and write batches for the feature store's unit tests.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "featurestore/row_store.h"
#include "weir/v1/services.pb.h"

namespace weir::featurestore::testing {

// A 1-minute window of view "v" ending at `end`, holding `value`.
inline weir::v1::FeatureRow Row(const std::string& key, const std::string& feature, int64_t end, double value,
                                uint32_t revision = 0) {
  weir::v1::FeatureRow r;
  r.set_view("v");
  r.set_key(key);
  r.set_feature(feature);
  r.set_window_start(end - 60000);
  r.set_window_end(end);
  r.mutable_value()->set_number(value);
  r.set_revision(revision);
  return r;
}

// `rows` as job "job" writes them for `partition` at `epoch`.
inline RowBatch Batch(std::vector<weir::v1::FeatureRow> rows, uint64_t epoch = 1, int32_t partition = 0) {
  RowBatch b;
  b.job = "job";
  b.partition = partition;
  b.epoch = epoch;
  b.rows = std::move(rows);
  return b;
}

}  // namespace weir::featurestore::testing
