// weir-worker: consumes assigned Kafka partitions, runs the engine on them and
// writes feature rows to the feature store (DESIGN.md Sections 1 and 4).
// Stops cleanly on SIGTERM/SIGINT.
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "common/logging.h"
#include "common/stop_signals.h"
#include "worker/worker.h"

namespace {

std::string Hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "worker";
  return name;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weir-worker: runs Weir jobs' partitions as the coordinator assigns them"};
  weir::worker::WorkerOptions options;
  options.id = Hostname();
  std::string log_level = "info";
  int64_t shutdown_ms = options.shutdown_timeout.count();
  size_t max_pending_mib = options.max_pending_bytes >> 20;
  app.add_option("--coordinator", options.coordinator, "Coordinator address HOST:PORT")
      ->capture_default_str()
      ->envname("WEIR_COORDINATOR");
  app.add_option("--id", options.id, "Worker id, unique in the cluster (default: the hostname)")
      ->capture_default_str()
      ->envname("WEIR_ID");
  app.add_option("--listen", options.listen,
                 "Address HOST:PORT this worker advertises to the coordinator (shown by `weirctl workers`; "
                 "default: its metrics address). Reserved for worker-to-worker exchange; nothing listens there yet")
      ->envname("WEIR_LISTEN");
  app.add_option("--metrics-listen", options.metrics_listen,
                 "HTTP address HOST:PORT of /metrics, /healthz and /readyz (port 0 picks a free one)")
      ->capture_default_str()
      ->envname("WEIR_METRICS_LISTEN");
  app.add_option("--data-dir", options.data_dir, "Directory for the worker's local files (created if missing)")
      ->capture_default_str()
      ->envname("WEIR_DATA_DIR");
  app.add_option("--threads", options.threads, "Processing threads; each owns its partitions outright")
      ->capture_default_str()
      ->check(CLI::Range(1, 256))
      ->envname("WEIR_THREADS");
  app.add_option("--max-pending-mib", max_pending_mib,
                 "Rows waiting for a feature store, MiB, before consumption pauses (backpressure)")
      ->capture_default_str()
      ->check(CLI::Range(1, 65536))
      ->envname("WEIR_MAX_PENDING_MIB");
  app.add_option("--shutdown-timeout-ms", shutdown_ms,
                 "On SIGTERM, how long to keep delivering pending rows and dead letters")
      ->capture_default_str()
      ->check(CLI::Range(0, 600000))
      ->envname("WEIR_SHUTDOWN_TIMEOUT_MS");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->envname("WEIR_LOG_LEVEL");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (auto s = weir::ConfigureLogging(log_level, "worker"); !s.ok()) {
    std::cerr << "weir-worker: " << s.message() << "\n";
    return 2;
  }
  if (options.id.empty()) {
    std::cerr << "weir-worker: --id must not be empty\n";
    return 2;
  }
  options.shutdown_timeout = std::chrono::milliseconds(shutdown_ms);
  options.max_pending_bytes = max_pending_mib << 20;

  // Before the worker starts its threads: they inherit the blocked signals.
  const weir::StopSignals signals;

  weir::worker::Worker worker(options);
  if (auto s = worker.Start(); !s.ok()) {
    spdlog::error("{}", s.message());
    return 1;
  }
  spdlog::info("worker {} started; coordinator {}, metrics on {}", options.id, options.coordinator,
               worker.metrics_address());
  std::cout << "weir-worker " << options.id << " metrics on " << worker.metrics_address() << std::endl;

  spdlog::info("{} received, stopping", weir::StopSignals::Name(signals.Wait()));
  worker.Stop();
  spdlog::info("stopped");
  return 0;
}
