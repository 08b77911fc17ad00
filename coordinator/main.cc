// weir-coordinator: the coordinator daemon (docs/architecture.md, 4, 6).
// Serves JobService (weirctl) and ControlPlane (workers) over gRPC, keeps its
// jobs, epochs and committed checkpoints in --data-dir, declares workers dead
// after --worker-timeout without a heartbeat and moves their partitions, and
// triggers, commits and prunes each job's checkpoints.
//
// Threads: gRPC's pool runs the handlers; two Periodic threads run
// Coordinator::CheckWorkers (failure detection, rebalancing, checkpoint
// triggers and timeouts) and Coordinator::RetryDiscovery with
// Coordinator::TrimRepartitionTopics (both Kafka requests) every 250 ms; the
// HTTP status server has its own; main waits for SIGTERM/SIGINT and stops
// the rest in reverse order (ServiceStack).
#include <atomic>
#include <iostream>
#include <optional>
#include <string>

#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "coordinator/coordinator_service.h"
#include "coordinator/kafka_discovery.h"
#include "daemon/daemon_flags.h"
#include "daemon/grpc_server.h"
#include "daemon/http_status_server.h"
#include "daemon/periodic.h"
#include "daemon/security.h"
#include "daemon/security_flags.h"
#include "daemon/serve.h"
#include "daemon/service_stack.h"
#include "daemon/stop_signals.h"

namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(250);

struct Flags {
  std::string listen = "127.0.0.1:7071";
  std::string metrics_listen = "127.0.0.1:9465";
  std::string data_dir = "./data/coordinator";
  int64_t heartbeat_interval_ms = 500;
  int64_t worker_timeout_ms = 3000;
  std::string log_level = "info";
  weir::ServerSecurity security;
};

int Run(const Flags& flags) {
  // Before any thread starts: they inherit the blocked signals.
  const weir::StopSignals signals;

  weir::coordinator::KafkaDiscovery discovery;
  weir::coordinator::CoordinatorOptions options;
  options.heartbeat_interval_ms = flags.heartbeat_interval_ms;
  options.worker_timeout_ms = flags.worker_timeout_ms;
  auto opened = weir::coordinator::Coordinator::Open(flags.data_dir, &discovery, options, weir::WallClockMs());
  if (!opened.ok()) {
    spdlog::error("{}", opened.status().message());
    return 1;
  }
  weir::coordinator::Coordinator* coordinator = opened->get();
  auto authorizer = weir::LoadAuthorizer(flags.security);
  if (!authorizer.ok()) {
    spdlog::error("{}", authorizer.status().message());
    return 1;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  weir::WarnIfInsecure("coordinator", flags.security, registry.get());
  weir::coordinator::CoordinatorMetrics metrics(registry.get());
  metrics.Update(coordinator->Stats());
  auto services =
      weir::coordinator::MakeCoordinatorServices(coordinator, &metrics, weir::WallClockMs, authorizer->get());
  std::atomic<bool> ready{false};
  weir::HttpStatusServer http(
      registry, [&ready] { return ready.load(); }, weir::MetricsTls(flags.security));
  weir::GrpcServer grpc({services.jobs.get(), services.control.get()},
                        {.exclusive_port = true, .security = flags.security});
  std::optional<weir::Periodic> ticker;
  std::optional<weir::Periodic> discoverer;

  // Declared after what it stops, so everything above outlives its stops.
  weir::ServiceStack stack;
  const weir::Status started = weir::StartHttpAndGrpc(stack, http, flags.metrics_listen, grpc, flags.listen);
  if (!started.ok()) {
    spdlog::error("{}", started.message());
    return 1;
  }
  // Failure detection on one thread, partition discovery and the trimming of
  // repartition topics (which wait on Kafka for seconds) on another, so a slow broker never delays the other.
  ticker.emplace(kTickInterval, [coordinator, &metrics] {
    coordinator->CheckWorkers(weir::WallClockMs());
    metrics.Update(coordinator->Stats());
  });
  stack.Defer("failure detection", [&] { ticker->Stop(); });
  discoverer.emplace(kTickInterval, [coordinator] {
    coordinator->RetryDiscovery(weir::WallClockMs());
    coordinator->TrimRepartitionTopics(weir::WallClockMs());
  });
  stack.Defer("partition discovery", [&] { discoverer->Stop(); });
  ready = true;  // state loaded, gRPC serving
  stack.Defer("readiness", [&] { ready = false; });
  // First at a stop: the workers' watch streams end without declaring them lost.
  stack.Defer("worker watches", [coordinator] { coordinator->StopWatches(); });

  spdlog::info("listening on {}, metrics on {}, data in {}, worker timeout {} ms", grpc.address(), http.address(),
               flags.data_dir, flags.worker_timeout_ms);
  std::cout << "weir-coordinator listening on " << grpc.address() << std::endl;
  std::cout << "weir-coordinator metrics on " << http.address() << std::endl;
  stack.StopOnSignal(signals);
  return 0;
}

}  // namespace

// An exception that reaches here is a bug: std::terminate prints it and aborts.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"weir-coordinator: the Weir coordinator (jobs, workers, partition assignment, checkpoints)"};
  Flags flags;
  weir::AddDaemonFlag(app, "--listen", flags.listen, "gRPC address HOST:PORT (port 0 picks a free one)");
  weir::AddDaemonFlag(app, "--data-dir", flags.data_dir,
                      "Directory of the coordinator's durable state (created if missing)");
  weir::AddDaemonFlag(app, "--heartbeat-interval", flags.heartbeat_interval_ms, "How often workers heartbeat, in ms")
      ->check(CLI::Range(int64_t{10}, int64_t{60000}));
  weir::AddDaemonFlag(app, "--worker-timeout", flags.worker_timeout_ms,
                      "A worker with no heartbeat for this many ms is dead and its partitions move")
      ->check(CLI::Range(int64_t{50}, int64_t{3600000}));
  weir::AddMetricsAndLogFlags(app, flags.metrics_listen, flags.log_level);
  weir::AddServerSecurityFlags(app, flags.security);
  if (auto exit_code = weir::ParseDaemonFlags(app, argc, argv, "coordinator", flags.log_level)) return *exit_code;
  if (auto s = flags.security.Validate(); !s.ok()) {
    std::cerr << "weir-coordinator: " << s.message() << "\n";
    return 2;
  }
  if (flags.worker_timeout_ms <= flags.heartbeat_interval_ms) {
    std::cerr << "weir-coordinator: --worker-timeout (" << flags.worker_timeout_ms
              << " ms) must be longer than --heartbeat-interval (" << flags.heartbeat_interval_ms
              << " ms), or every worker is declared dead between two heartbeats\n";
    return 2;
  }
  return Run(flags);
}
