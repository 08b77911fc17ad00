// `weirctl replay`: runs the engine over a JSON-lines file as one partition,
// the same code path a worker runs online, and writes feature rows in the
// feature-row format (docs/semantics.md). Also the user's offline backfill.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "common/status.h"
#include "engine/event.h"
#include "engine/rekey_merge.h"

namespace weir::cli {

struct ReplayOptions {
  std::string job_path;          // the job spec (YAML)
  std::string input_path;        // JSON lines, one record per line; "-" = stdin
  std::string output_path;       // feature rows; empty or "-" = stdout
  std::string dead_letter_path;  // dead letters as JSON lines; empty = counted, not written
  bool flush = false;            // at the end, advance the watermark to +inf
  int32_t partition = 0;         // written into dead letters
  bool progress = false;         // print progress to the log every second
  // A re-keyed job's stage 2 (> 0: the number of source partitions): the
  // input is one repartition partition's messages as
  // `kcat -C -f '%h\t%s\n'` prints them (stage 1's headers, a tab, the
  // record), watermark markers included; copies are dropped by source offset
  // and the watermark follows the markers, as the worker does.
  int32_t rekeyed_sources = 0;
};

struct ReplaySummary {
  uint64_t records = 0;  // lines read (blank lines excluded)
  uint64_t rows = 0;
  uint64_t corrections = 0;
  std::array<uint64_t, engine::kDeadLetterReasons> dead_letters{};  // by engine::DeadLetterReason
  int64_t watermark = 0;
  uint64_t markers = 0;     // --rekeyed: watermark markers read
  uint64_t duplicates = 0;  // --rekeyed: copies dropped
};

// kcat's `%h` text of a repartition message ("weir.sp=1,weir.so=42" or
// "weir.sp=1,weir.wm=1700000000000") into *meta; source_partition stays -1
// when the headers are missing or malformed.
void ParseRepartitionHeaders(std::string_view headers, engine::RepartitionMeta* meta);

// Runs a replay. Errors (bad spec, unreadable input, unwritable output) come
// back as a Status naming the file; the summary says what was done.
Result<ReplaySummary> RunReplay(const ReplayOptions& options, std::ostream& log);

}  // namespace weir::cli
