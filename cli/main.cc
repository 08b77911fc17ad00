// weirctl: the command-line client: `replay` (offline, no cluster),
// `features get|export|import` (the feature store, over gRPC) and
// `submit|list|status|cancel|workers|checkpoint|checkpoints|events` (the
// coordinator, over gRPC).
//
// Exit codes: 0 success; 1 a runtime failure (I/O, an unreachable service);
// 2 bad usage or bad input (flags, job spec, missing file, unknown job).
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/features.h"
#include "cli/jobs.h"
#include "cli/replay.h"
#include "cli/strict_number.h"
#include "daemon/grpc_util.h"
#include "daemon/security_flags.h"
#include "engine/event.h"

namespace {

int ExitCodeFor(const weir::Status& s) {
  switch (s.code()) {
    case weir::StatusCode::kInvalidArgument:
    case weir::StatusCode::kNotFound:
    case weir::StatusCode::kAlreadyExists:
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
    for (size_t r = 0; r < weir::engine::kDeadLetterReasons; ++r) {
      if (s.dead_letters[r] == 0) continue;
      std::cerr << (first ? "" : ", ") << DeadLetterReasonName(static_cast<DeadLetterReason>(r)) << " "
                << s.dead_letters[r];
      first = false;
    }
    std::cerr << ")";
  }
  if (s.markers > 0 || s.duplicates > 0)
    std::cerr << ", " << s.markers << " markers, " << s.duplicates << " copies dropped";
  std::cerr << "\n";
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): an exception here is a bug; let it abort loudly
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
  weir::cli::AddStrictInteger(cmd, "--partition", replay.partition, "Partition number written into dead letters",
                              int32_t{0});
  weir::cli::AddStrictInteger(cmd, "--rekeyed", replay.rekeyed_sources,
                              "A re-keyed job's stage 2 over N source partitions: the input is one repartition "
                              "partition as kcat -f '%h\\t%s\\n' prints it (headers, tab, record), markers included",
                              int32_t{0});
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
  weir::cli::AddStrictInteger(
      get_cmd, "--as-of", get.as_of_ms,
      "Point in time T, ms since the Unix epoch: per feature, the latest row available at T (available_at <= T), "
      "as an online read returned then (0: the latest row)",
      int64_t{0});
  std::string export_view, export_output;
  CLI::App* export_cmd = features->add_subcommand("export", "Every row of a view, as JSON lines");
  export_cmd->add_option("--view", export_view, "Feature view")->required();
  export_cmd->add_option("--output", export_output, "Output file (default: stdout)");
  weir::cli::FeaturesImportOptions import;
  CLI::App* import_cmd =
      features->add_subcommand("import", "Write rows (weirctl replay's output: an offline backfill) into the store");
  import_cmd->add_option("--input", import.input_path, "Rows as JSON lines; - for stdin")->required();
  import_cmd
      ->add_option("--writer", import.job,
                   "This import's own writer identity; fenced apart from every job's partitions, so an import never "
                   "fences or unfences a job")
      ->capture_default_str();
  weir::cli::AddStrictInteger(import_cmd, "--epoch", import.epoch,
                              "Fencing epoch of --writer: a later import by the same writer with a lower epoch is "
                              "refused",
                              uint64_t{0});
  weir::cli::AddStrictInteger(import_cmd, "--batch-rows", import.batch_rows, "Rows per write batch", size_t{1},
                              size_t{1000000});

  weir::ClientSecurity security;
  weir::AddClientSecurityFlags(app, security);

  std::string coordinator = "127.0.0.1:7071";
  app.add_option("--coordinator", coordinator, "Coordinator address HOST:PORT")
      ->capture_default_str()
      ->envname("WEIR_COORDINATOR");
  std::string submit_path;
  CLI::App* submit_cmd = app.add_subcommand("submit", "Submit a job (validated here first, then by the coordinator)");
  submit_cmd->add_option("job", submit_path, "Job spec (YAML)")->required();
  bool submit_if_absent = false;
  submit_cmd->add_flag("--if-absent", submit_if_absent,
                       "A job of that name already running is a success (exit 0), left as it is: for "
                       "deployments that submit on every rollout");
  CLI::App* list_cmd = app.add_subcommand("list", "Every job: name, state, partitions, submitted, view, topic");
  std::string status_name;
  bool status_json = false;
  CLI::App* status_cmd =
      app.add_subcommand("status",
                         "A job and each of its partitions: owner, epoch, state (and why, when failed), offset, "
                         "watermark, lag, counts");
  status_cmd->add_option("job", status_name, "Job name")->required();
  status_cmd->add_flag("--json", status_json, "Print the job as JSON (weir.v1.JobInfo) for scripts");
  std::string cancel_name;
  CLI::App* cancel_cmd = app.add_subcommand("cancel", "Cancel a job: its partitions are taken from their workers");
  cancel_cmd->add_option("job", cancel_name, "Job name")->required();
  CLI::App* workers_cmd =
      app.add_subcommand("workers", "Registered workers: alive or not, last heartbeat, partitions owned");
  std::string checkpoint_name;
  bool checkpoint_wait = false;
  CLI::App* checkpoint_cmd = app.add_subcommand(
      "checkpoint", "Trigger a checkpoint of a job now (or report the one already pending) and print its id");
  checkpoint_cmd->add_option("job", checkpoint_name, "Job name")->required();
  checkpoint_cmd->add_flag("--wait", checkpoint_wait,
                           "Wait until the checkpoint is committed (at most 60 s; exit 1 if it is not)");
  std::string checkpoints_name;
  CLI::App* checkpoints_cmd = app.add_subcommand(
      "checkpoints", "A job's committed checkpoints (the last 3): id, times, duration, size, offsets");
  checkpoints_cmd->add_option("job", checkpoints_name, "Job name")->required();

  weir::cli::EventsOptions events;
  CLI::App* events_cmd = app.add_subcommand(
      "events",
      "The cluster event log, oldest first: workers joining, leaving and lost; partitions assigned, moved, "
      "restored, fenced, failed and recovered; checkpoints committed and abandoned; jobs submitted and cancelled");
  events_cmd->add_option("--job", events.job, "Only this job's events");
  events_cmd->add_flag("-f,--follow", events.follow, "Keep printing new events (polls every 500 ms) until interrupted");
  events_cmd->add_flag("--json", events.json, "One JSON object (weir.v1.ClusterEvent) per line, for scripts");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is a success; any other parse error is bad usage
  }

  // Before any channel exists: every command to the coordinator or the store uses it.
  if (auto s = weir::ConfigureClientChannels(security); !s.ok()) {
    std::cerr << "weirctl: " << s.message() << "\n";
    return 2;
  }

  // The exit code for a command's result, after printing its error if any.
  auto finish = [](const char* command, const weir::Status& s) {
    if (s.ok()) return 0;
    std::cerr << "weirctl " << command << ": " << s.message() << "\n";
    return ExitCodeFor(s);
  };
  if (submit_cmd->parsed()) {
    const weir::Status s = weir::cli::JobSubmit(coordinator, submit_path, std::cout);
    if (s.code() == weir::StatusCode::kAlreadyExists && submit_if_absent) {
      std::cout << "not submitted: " << s.message() << "\n";
      return 0;
    }
    return finish("submit", s);
  }
  if (list_cmd->parsed()) return finish("list", weir::cli::JobList(coordinator, std::cout));
  if (status_cmd->parsed()) {
    return finish("status", weir::cli::JobStatus(coordinator, status_name, status_json, std::cout));
  }
  if (cancel_cmd->parsed()) return finish("cancel", weir::cli::JobCancel(coordinator, cancel_name, std::cout));
  if (workers_cmd->parsed()) return finish("workers", weir::cli::WorkerList(coordinator, std::cout));
  if (checkpoint_cmd->parsed()) {
    return finish("checkpoint", weir::cli::JobCheckpoint(coordinator, checkpoint_name, checkpoint_wait, std::cout));
  }
  if (checkpoints_cmd->parsed()) {
    return finish("checkpoints", weir::cli::JobCheckpoints(coordinator, checkpoints_name, std::cout));
  }
  if (events_cmd->parsed()) return finish("events", weir::cli::EventList(coordinator, events, std::cout));
  if (get_cmd->parsed()) {
    get.store = store;
    return finish("features get", weir::cli::FeaturesGet(get, std::cout));
  }
  if (export_cmd->parsed()) {
    auto rows = weir::cli::FeaturesExport(store, export_view, export_output, std::cout);
    if (!rows.ok()) return finish("features export", rows.status());
    std::cerr << "features export: " << *rows << " rows\n";
    return 0;
  }
  if (import_cmd->parsed()) {
    import.store = store;
    auto rows = weir::cli::FeaturesImport(import);
    if (!rows.ok()) return finish("features import", rows.status());
    std::cerr << "features import: " << *rows << " rows\n";
    return 0;
  }
  if (cmd->parsed()) {
    auto result = weir::cli::RunReplay(replay, std::cerr);
    if (!result.ok()) return finish("replay", result.status());
    if (!quiet) PrintSummary(*result);
  }
  return 0;
}
