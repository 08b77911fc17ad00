// weir-coordinator: the coordinator daemon (docs/architecture.md, 4, 6).
// Serves JobService (weirctl) and ControlPlane (workers) over gRPC, keeps its
// jobs, epochs and committed checkpoints in --data-dir, declares workers dead
// after --worker-timeout without a heartbeat and moves their partitions, and
// triggers, commits and prunes each job's checkpoints.
//
// Threads: gRPC's pool runs the handlers; two threads owned here run
// Coordinator::CheckWorkers (failure detection, rebalancing, checkpoint
// triggers and timeouts) and Coordinator::RetryDiscovery every 250 ms; one
// thread takes SIGTERM/SIGINT (sigwait) and stops the rest; the HTTP status
// server has its own.
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "coordinator/coordinator.h"
#include "coordinator/coordinator_service.h"
#include "coordinator/kafka_discovery.h"
#include "daemon/daemon_flags.h"
#include "daemon/http_status_server.h"
#include "daemon/stop_signals.h"

namespace {

constexpr auto kTickInterval = std::chrono::milliseconds(250);

// Calls `work` every `interval` on a thread of its own until Stop(). A call
// in progress finishes first.
class Periodic {
 public:
  Periodic(std::chrono::milliseconds interval, std::function<void()> work)
      : work_(std::move(work)), thread_([this, interval] {
          std::unique_lock<std::mutex> lock(mu_);
          while (!cv_.wait_for(lock, interval, [this] { return stopping_; })) {
            lock.unlock();
            work_();
            lock.lock();
          }
        }) {}
  ~Periodic() { Stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  const std::function<void()> work_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;     // last: starts once the members above exist
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weir-coordinator: the Weir coordinator (jobs, workers, partition assignment, checkpoints)"};
  std::string listen = "127.0.0.1:7071";
  std::string metrics_listen = "127.0.0.1:9465";
  std::string data_dir = "./data/coordinator";
  int64_t heartbeat_interval_ms = 500;
  int64_t worker_timeout_ms = 3000;
  std::string log_level = "info";
  weir::AddDaemonFlag(app, "--listen", listen, "gRPC address HOST:PORT (port 0 picks a free one)");
  weir::AddDaemonFlag(app, "--data-dir", data_dir, "Directory of the coordinator's durable state (created if missing)");
  weir::AddDaemonFlag(app, "--heartbeat-interval", heartbeat_interval_ms, "How often workers heartbeat, in ms")
      ->check(CLI::Range(int64_t{10}, int64_t{60000}));
  weir::AddDaemonFlag(app, "--worker-timeout", worker_timeout_ms,
                      "A worker with no heartbeat for this many ms is dead and its partitions move")
      ->check(CLI::Range(int64_t{50}, int64_t{3600000}));
  weir::AddMetricsAndLogFlags(app, metrics_listen, log_level);
  if (auto exit_code = weir::ParseDaemonFlags(app, argc, argv, "coordinator", log_level)) return *exit_code;
  if (worker_timeout_ms <= heartbeat_interval_ms) {
    std::cerr << "weir-coordinator: --worker-timeout (" << worker_timeout_ms
              << " ms) must be longer than --heartbeat-interval (" << heartbeat_interval_ms
              << " ms), or every worker is declared dead between two heartbeats\n";
    return 2;
  }

  // Before gRPC starts its own threads: they inherit the blocked signals.
  const weir::StopSignals signals;

  weir::coordinator::KafkaDiscovery discovery;
  weir::coordinator::CoordinatorOptions options;
  options.heartbeat_interval_ms = heartbeat_interval_ms;
  options.worker_timeout_ms = worker_timeout_ms;
  auto coordinator = weir::coordinator::Coordinator::Open(data_dir, &discovery, options, weir::WallClockMs());
  if (!coordinator.ok()) {
    spdlog::error("{}", coordinator.status().message());
    return 1;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  weir::coordinator::CoordinatorMetrics metrics(registry.get());
  metrics.Update((*coordinator)->Stats());
  auto services = weir::coordinator::MakeCoordinatorServices(coordinator->get(), &metrics);
  grpc::ServerBuilder builder;
  // Without this a second coordinator could bind the same port (SO_REUSEPORT) and split the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(services.jobs.get());
  builder.RegisterService(services.control.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::error("cannot listen on {} (is the address valid and the port free?)", listen);
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  std::atomic<bool> ready{false};
  weir::HttpStatusServer http(registry, [&ready] { return ready.load(); });
  if (auto s = http.Start(metrics_listen); !s.ok()) {
    spdlog::error("{}", s.message());
    server->Shutdown();
    return 1;
  }
  weir::coordinator::Coordinator* c = coordinator->get();
  // Failure detection on one thread, partition discovery (which waits on
  // Kafka for up to 2 s) on another, so a slow broker never delays the other.
  Periodic ticker(kTickInterval, [c, &metrics] {
    c->CheckWorkers(weir::WallClockMs());
    metrics.Update(c->Stats());
  });
  Periodic discoverer(kTickInterval, [c] { c->RetryDiscovery(weir::WallClockMs()); });
  ready = true;  // state loaded, gRPC serving
  spdlog::info("listening on {}:{}, metrics on {}, data in {}, worker timeout {} ms", host, port, http.address(),
               data_dir, worker_timeout_ms);
  std::cout << "weir-coordinator listening on " << host << ":" << port << std::endl;
  std::cout << "weir-coordinator metrics on " << http.address() << std::endl;

  std::thread waiter([&] {
    spdlog::info("{} received, stopping", weir::StopSignals::Name(signals.Wait()));
    ready = false;
    ticker.Stop();
    discoverer.Stop();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  });
  server->Wait();
  waiter.join();
  http.Stop();
  spdlog::info("stopped");
  return 0;
}
