// weir-featurestore: the reference feature store (docs/architecture.md).
// Serves FeatureSink (writes) and FeatureStore (online reads, export) over
// gRPC, with rows in RocksDB under --data-dir. Stops cleanly on SIGTERM/SIGINT.
//
// Threads: gRPC's pool runs the handlers; the HTTP status server has its own;
// main waits for a stop signal and stops the rest in reverse order
// (ServiceStack).
#include <atomic>
#include <iostream>
#include <string>

#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "daemon/daemon_flags.h"
#include "daemon/grpc_server.h"
#include "daemon/http_status_server.h"
#include "daemon/periodic.h"
#include "daemon/security.h"
#include "daemon/security_flags.h"
#include "daemon/serve.h"
#include "daemon/service_stack.h"
#include "daemon/stop_signals.h"
#include "featurestore/feature_store_service.h"
#include "featurestore/key_owners.h"

namespace {

struct Flags {
  std::string listen = "127.0.0.1:7070";
  std::string data_dir = "./data/featurestore";
  std::string log_level = "info";
  std::string metrics_listen = "127.0.0.1:9464";
  uint64_t min_free_disk_mib = 64;
  size_t key_conflict_keys = size_t{1} << 20;
  size_t max_message_mib = weir::kDefaultMaxMessageMib;
  int64_t retention_interval_ms = 60000;
  weir::ServerSecurity security;
};

int Run(const Flags& flags) {
  // Before any thread starts: they inherit the blocked signals.
  const weir::StopSignals signals;

  weir::featurestore::RowStoreOptions store_options;
  store_options.min_free_disk_bytes = flags.min_free_disk_mib * 1024 * 1024;
  auto store = weir::featurestore::RowStore::Open(flags.data_dir, store_options);
  if (!store.ok()) {
    spdlog::error("{}", store.status().message());
    return 1;
  }
  auto authorizer = weir::LoadAuthorizer(flags.security);
  if (!authorizer.ok()) {
    spdlog::error("{}", authorizer.status().message());
    return 1;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  weir::WarnIfInsecure("featurestore", flags.security, registry.get());
  weir::featurestore::KeyOwners key_owners(flags.key_conflict_keys);
  auto services =
      weir::featurestore::MakeFeatureStoreServices(store->get(), registry.get(), authorizer->get(), &key_owners);
  std::atomic<bool> ready{false};
  weir::HttpStatusServer http(
      registry, [&ready] { return ready.load(); }, weir::MetricsTls(flags.security));
  weir::GrpcServer::Options grpc_options;
  grpc_options.security = flags.security;
  grpc_options.max_receive_message_bytes = flags.max_message_mib << 20;
  weir::GrpcServer grpc({services.sink.get(), services.store.get()}, grpc_options);
  // Watches the disk: writes refused for a full disk resume without traffic.
  weir::Periodic storage_watch(std::chrono::seconds(1), services.watch_storage);
  // Drops rows past their view's retention.
  weir::Periodic retention(std::chrono::milliseconds(flags.retention_interval_ms), services.expire_rows);

  // Declared after what it stops, so everything above outlives its stops.
  weir::ServiceStack stack;
  const weir::Status started = weir::StartHttpAndGrpc(stack, http, flags.metrics_listen, grpc, flags.listen);
  if (!started.ok()) {
    spdlog::error("{}", started.message());
    return 1;
  }
  stack.Defer("storage watch", [&] { storage_watch.Stop(); });
  stack.Defer("retention", [&] { retention.Stop(); });
  ready = true;  // the store open, gRPC serving
  stack.Defer("readiness", [&] { ready = false; });
  spdlog::info("listening on {}, metrics on {}, data in {}", grpc.address(), http.address(), flags.data_dir);
  std::cout << "weir-featurestore listening on " << grpc.address() << std::endl;
  std::cout << "weir-featurestore metrics on " << http.address() << std::endl;
  stack.StopOnSignal(signals);
  return 0;
}

}  // namespace

// An exception that reaches here is a bug: std::terminate prints it and aborts.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  CLI::App app{"weir-featurestore: the Weir feature store (gRPC write, online read and export; RocksDB storage)"};
  Flags flags;
  weir::AddDaemonFlag(app, "--listen", flags.listen, "gRPC address HOST:PORT (port 0 picks a free one)");
  weir::AddDaemonFlag(app, "--data-dir", flags.data_dir, "Directory of the RocksDB store (created if missing)");
  weir::AddDaemonFlag(app, "--min-free-disk-mib", flags.min_free_disk_mib,
                      "Free space (MiB) writes must leave in --data-dir for RocksDB's flushes and compactions; "
                      "writes that would use it are refused until space is freed");
  weir::AddDaemonFlag(app, "--key-conflict-keys", flags.key_conflict_keys,
                      "Keys (job, view, key) whose writing partition the store remembers, to notice a job whose "
                      "topic is not partitioned by its key (about 32 bytes each; 0 turns the check off)");
  weir::AddDaemonFlag(app, "--retention-interval-ms", flags.retention_interval_ms,
                      "How often rows past their view's retention (the job spec's `retention`) are dropped, in ms");
  weir::AddMaxMessageFlag(app, flags.max_message_mib);
  weir::AddMetricsAndLogFlags(app, flags.metrics_listen, flags.log_level);
  weir::AddServerSecurityFlags(app, flags.security);
  if (auto exit_code = weir::ParseDaemonFlags(app, argc, argv, "featurestore", flags.log_level)) return *exit_code;
  if (flags.retention_interval_ms <= 0) {
    std::cerr << "weir-featurestore: --retention-interval-ms must be positive\n";
    return 2;
  }
  if (auto s = flags.security.Validate(); !s.ok()) {
    std::cerr << "weir-featurestore: " << s.message() << "\n";
    return 2;
  }
  return Run(flags);
}
