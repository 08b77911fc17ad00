// weir-worker: consumes assigned Kafka partitions, runs the engine on them and
// writes feature rows to the feature store (docs/architecture.md and docs/checkpoints.md).
// Stops cleanly on SIGTERM/SIGINT.
//
// Threads: the Worker owns its own (worker/README.md); main waits for a stop
// signal and stops it (ServiceStack).
#include <unistd.h>

#include <iostream>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "daemon/daemon_flags.h"
#include "daemon/grpc_util.h"
#include "daemon/security.h"
#include "daemon/security_flags.h"
#include "daemon/service_stack.h"
#include "daemon/stop_signals.h"
#include "worker/worker.h"

namespace {

std::string Hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "worker";
  return name;
}

int Run(const weir::worker::WorkerOptions& options) {
  // Before the worker starts its threads: they inherit the blocked signals.
  const weir::StopSignals signals;

  weir::worker::Worker worker(options);
  // Declared after what it stops, so the worker outlives its stop.
  weir::ServiceStack stack;
  if (auto s = stack.Start(
          "worker", [&] { return worker.Start(); }, [&] { worker.Stop(); });
      !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  spdlog::info("worker {} started; coordinator {}, metrics on {}", options.id, options.coordinator,
               worker.metrics_address());
  std::cout << "weir-worker " << options.id << " metrics on " << worker.metrics_address() << std::endl;
  stack.StopOnSignal(signals);
  return 0;
}

}  // namespace

// An exception that reaches here is a bug: std::terminate prints it and aborts.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"weir-worker: runs Weir jobs' partitions as the coordinator assigns them"};
  weir::worker::WorkerOptions options;
  options.id = Hostname();
  std::string log_level = "info";
  int64_t shutdown_ms = options.shutdown_timeout.count();
  size_t max_pending_mib = options.max_pending_bytes >> 20;
  size_t max_message_mib = weir::kDefaultMaxMessageMib;
  weir::AddDaemonFlag(app, "--coordinator", options.coordinator, "Coordinator address HOST:PORT");
  weir::AddDaemonFlag(app, "--id", options.id, "Worker id, unique in the cluster (default: the hostname)");
  weir::AddDaemonFlag(app, "--listen", options.listen,
                      "Address HOST:PORT this worker advertises to the coordinator (shown by `weirctl workers`; "
                      "default: its metrics address). Reserved for worker-to-worker exchange; nothing listens there "
                      "yet");
  weir::AddDaemonFlag(app, "--data-dir", options.data_dir,
                      "Directory for the worker's local files (created if missing)");
  weir::AddDaemonFlag(app, "--threads", options.threads, "Processing threads; each owns its partitions outright")
      ->check(CLI::Range(1, 256));
  weir::AddDaemonFlag(app, "--max-pending-mib", max_pending_mib,
                      "Rows of one job waiting for a feature store, MiB, before the job's consumption pauses "
                      "(backpressure)")
      ->check(CLI::Range(1, 65536));
  weir::AddMaxMessageFlag(app, max_message_mib);
  weir::AddDaemonFlag(app, "--shutdown-timeout-ms", shutdown_ms,
                      "On SIGTERM, how long to keep delivering pending rows and dead letters")
      ->check(CLI::Range(0, 600000));
  weir::AddMetricsAndLogFlags(app, options.metrics_listen, log_level);
  weir::ClientSecurity security;
  weir::AddClientSecurityFlags(app, security, /*http_server=*/true);
  if (auto exit_code = weir::ParseDaemonFlags(app, argc, argv, "worker", log_level)) return *exit_code;
  // Before any channel exists: the coordinator's and every store's use it.
  if (auto s = weir::ConfigureClientChannels(security); !s.ok()) {
    std::cerr << "weir-worker: " << s.message() << "\n";
    return 2;
  }
  weir::WarnIfInsecure("worker", security, nullptr);
  options.metrics_tls = weir::MetricsTls(security);
  if (options.id.empty()) {
    std::cerr << "weir-worker: --id must not be empty\n";
    return 2;
  }
  options.shutdown_timeout = std::chrono::milliseconds(shutdown_ms);
  options.max_pending_bytes = max_pending_mib << 20;
  options.max_message_bytes = max_message_mib << 20;
  return Run(options);
}
