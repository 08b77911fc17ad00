// `weirctl replay`: runs the engine over a JSON-lines file as one partition,
// the same code path a worker runs online, and writes feature rows in the
// feature-row format (docs/semantics.md). Also the user's offline backfill.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string>

#include "common/status.h"
#include "engine/event.h"

namespace weir::cli {

struct ReplayOptions {
  std::string job_path;          // the job spec (YAML)
  std::string input_path;        // JSON lines, one record per line; "-" = stdin
  std::string output_path;       // feature rows; empty or "-" = stdout
  std::string dead_letter_path;  // dead letters as JSON lines; empty = counted, not written
  bool flush = false;            // at the end, advance the watermark to +inf
  int32_t partition = 0;         // written into dead letters
  bool progress = false;         // print progress to the log every second
};

struct ReplaySummary {
  uint64_t records = 0;  // lines read (blank lines excluded)
  uint64_t rows = 0;
  uint64_t corrections = 0;
  std::array<uint64_t, engine::kDeadLetterReasons> dead_letters{};  // by engine::DeadLetterReason
  int64_t watermark = 0;
};

// Runs a replay. Errors (bad spec, unreadable input, unwritable output) come
// back as a Status naming the file; the summary says what was done.
Result<ReplaySummary> RunReplay(const ReplayOptions& options, std::ostream& log);

}  // namespace weir::cli
