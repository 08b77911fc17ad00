// weirctl: the command-line client. Today: `replay` (offline, no cluster).
//
// Exit codes: 0 success; 1 a runtime failure (I/O, an unreachable service);
// 2 bad usage or bad input (flags, job spec, missing file).
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/replay.h"
#include "worker/engine/event.h"

namespace {

int ExitCodeFor(const weir::Status& s) {
  switch (s.code()) {
    case weir::StatusCode::kInvalidArgument:
    case weir::StatusCode::kNotFound: return 2;
    default: return 1;
  }
}

void PrintSummary(const weir::cli::ReplaySummary& s) {
  using weir::engine::DeadLetterReason;
  using weir::engine::DeadLetterReasonName;
  uint64_t dead = 0;
  for (uint64_t n : s.dead_letters) dead += n;
  std::cerr << "replay: " << s.records << " records, " << s.rows << " rows (" << s.corrections << " corrections), "
            << dead << " dead letters";
  if (dead > 0) {
    std::cerr << " (";
    bool first = true;
    for (int r = 0; r < 4; ++r) {
      if (s.dead_letters[r] == 0) continue;
      std::cerr << (first ? "" : ", ") << DeadLetterReasonName(static_cast<DeadLetterReason>(r)) << " "
                << s.dead_letters[r];
      first = false;
    }
    std::cerr << ")";
  }
  std::cerr << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weirctl: the Weir command-line client"};
  app.require_subcommand(1);

  weir::cli::ReplayOptions replay;
  bool quiet = false;
  CLI::App* cmd = app.add_subcommand(
      "replay",
      "Run a job's features over a JSON-lines file as one partition (offline backfill; no cluster needed). "
      "Writes feature rows as JSON lines, in the order they fire.");
  cmd->add_option("--job", replay.job_path, "Job spec (YAML)")->required();
  cmd->add_option("--input", replay.input_path, "Records, one JSON object per line; - for stdin")->required();
  cmd->add_option("--output", replay.output_path, "Where feature rows go (default: stdout)");
  cmd->add_option("--dead-letter", replay.dead_letter_path,
                  "Where dead letters go, as JSON lines with reason, offset and record (default: counted only)");
  cmd->add_flag("--flush", replay.flush,
                "At the end of the input, advance the watermark to +inf so every open window fires");
  cmd->add_option("--partition", replay.partition, "Partition number written into dead letters (default 0)");
  cmd->add_flag("--progress", replay.progress, "Print progress to stderr every second");
  cmd->add_flag("-q,--quiet", quiet, "Do not print the summary line to stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a success; any other parse error is bad usage
  }

  if (cmd->parsed()) {
    auto result = weir::cli::RunReplay(replay, std::cerr);
    if (!result.ok()) {
      std::cerr << "weirctl replay: " << result.status().message() << "\n";
      return ExitCodeFor(result.status());
    }
    if (!quiet) PrintSummary(*result);
  }
  return 0;
}
