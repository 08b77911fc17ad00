// `weirctl features ...`: reads from (and imports into) the feature store over
// gRPC. Output is the feature-row format (docs/semantics.md), one JSON object per line.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "common/status.h"

namespace weir::cli {

struct FeaturesGetOptions {
  std::string store;  // host:port
  std::string view;
  std::vector<std::string> keys;
  std::vector<std::string> features;  // empty: all
  int64_t as_of_ms = 0;               // 0: now
};

// Prints the latest row per key and feature.
Status FeaturesGet(const FeaturesGetOptions& options, std::ostream& out);

// Streams every row of `view` to `output_path` (empty or "-": `out`); returns
// the number of rows.
Result<uint64_t> FeaturesExport(const std::string& store, const std::string& view, const std::string& output_path,
                                std::ostream& out);

struct FeaturesImportOptions {
  std::string store;
  std::string input_path;  // rows as JSON lines (weirctl replay output); "-" = stdin
  // This import's writer identity: fenced in the importers' namespace, apart
  // from every job's partitions (FeatureSink.Import).
  std::string job = "weirctl-import";
  int32_t partition = 0;
  uint64_t epoch = 1;
  size_t batch_rows = 1000;
};

// Writes rows (e.g. an offline backfill from `weirctl replay`) into the store;
// returns the number of rows. A malformed line is an error naming its number.
Result<uint64_t> FeaturesImport(const FeaturesImportOptions& options);

}  // namespace weir::cli
