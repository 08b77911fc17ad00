// weirctl: the command-line client: `replay` (offline, no cluster) and
// `features get|export|import` (the feature store, over gRPC).
//
// Exit codes: 0 success; 1 a runtime failure (I/O, an unreachable service);
// 2 bad usage or bad input (flags, job spec, missing file).
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/features.h"
#include "cli/replay.h"
#include "worker/engine/event.h"

namespace {

int ExitCodeFor(const weir::Status& s) {
  switch (s.code()) {
    case weir::StatusCode::kInvalidArgument:
    case weir::StatusCode::kNotFound:
    case weir::StatusCode::kFailedPrecondition: return 2;
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

  std::string store = "127.0.0.1:7070";
  app.add_option("--store", store, "Feature store address HOST:PORT")->capture_default_str()->envname("WEIR_STORE");

  CLI::App* features = app.add_subcommand("features", "Read, export or import feature rows (the feature store)");
  features->require_subcommand(1);
  weir::cli::FeaturesGetOptions get;
  std::string as_of;
  CLI::App* get_cmd =
      features->add_subcommand("get", "The latest value of each feature for keys (one JSON row per line)");
  get_cmd->add_option("--view", get.view, "Feature view")->required();
  get_cmd->add_option("--key", get.keys, "Entity key; repeat for several")->required();
  get_cmd->add_option("--feature", get.features, "Feature name; repeat for several (default: all)");
  get_cmd->add_option(
      "--as-of", get.as_of_ms,
      "Point in time, ms since the Unix epoch: the latest window ending at or before it (default: now)");
  std::string export_view, export_output;
  CLI::App* export_cmd = features->add_subcommand("export", "Every row of a view, as JSON lines");
  export_cmd->add_option("--view", export_view, "Feature view")->required();
  export_cmd->add_option("--output", export_output, "Output file (default: stdout)");
  weir::cli::FeaturesImportOptions import;
  CLI::App* import_cmd =
      features->add_subcommand("import", "Write rows (weirctl replay's output: an offline backfill) into the store");
  import_cmd->add_option("--input", import.input_path, "Rows as JSON lines; - for stdin")->required();
  import_cmd->add_option("--writer", import.job, "Fencing identity of this writer (default weirctl-import)");
  import_cmd->add_option("--epoch", import.epoch, "Fencing epoch; writes with a lower epoch than seen are refused")
      ->capture_default_str();
  import_cmd->add_option("--batch-rows", import.batch_rows, "Rows per write batch")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a success; any other parse error is bad usage
  }

  auto fail = [](const char* command, const weir::Status& s) {
    std::cerr << "weirctl " << command << ": " << s.message() << "\n";
    return ExitCodeFor(s);
  };
  if (get_cmd->parsed()) {
    get.store = store;
    if (auto s = weir::cli::FeaturesGet(get, std::cout); !s.ok()) return fail("features get", s);
    return 0;
  }
  if (export_cmd->parsed()) {
    auto rows = weir::cli::FeaturesExport(store, export_view, export_output, std::cout);
    if (!rows.ok()) return fail("features export", rows.status());
    std::cerr << "features export: " << *rows << " rows\n";
    return 0;
  }
  if (import_cmd->parsed()) {
    import.store = store;
    auto rows = weir::cli::FeaturesImport(import);
    if (!rows.ok()) return fail("features import", rows.status());
    std::cerr << "features import: " << *rows << " rows\n";
    return 0;
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
