// weir-featurestore: the reference feature store (docs/architecture.md).
// Serves FeatureSink (writes) and FeatureStore (online reads, export) over
// gRPC, with rows in RocksDB under --data-dir. Stops cleanly on SIGTERM/SIGINT.
#include <csignal>
#include <iostream>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "daemon/daemon_flags.h"
#include "daemon/http_status_server.h"
#include "daemon/stop_signals.h"
#include "featurestore/feature_store_service.h"

int main(int argc, char** argv) {
  CLI::App app{"weir-featurestore: the Weir feature store (gRPC write, online read and export; RocksDB storage)"};
  std::string listen = "127.0.0.1:7070";
  std::string data_dir = "./data/featurestore";
  std::string log_level = "info";
  std::string metrics_listen = "127.0.0.1:9464";
  weir::AddDaemonFlag(app, "--listen", listen, "gRPC address HOST:PORT (port 0 picks a free one)");
  weir::AddDaemonFlag(app, "--data-dir", data_dir, "Directory of the RocksDB store (created if missing)");
  weir::AddMetricsAndLogFlags(app, metrics_listen, log_level);
  if (auto exit_code = weir::ParseDaemonFlags(app, argc, argv, "featurestore", log_level)) return *exit_code;

  // Before gRPC starts its own threads: they inherit the blocked signals.
  const weir::StopSignals signals;

  auto store = weir::featurestore::RowStore::Open(data_dir);
  if (!store.ok()) {
    spdlog::error("{}", store.status().message());
    return 1;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  auto services = weir::featurestore::MakeFeatureStoreServices(store->get(), registry.get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(services.sink.get());
  builder.RegisterService(services.store.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    spdlog::error("cannot listen on {} (is the address valid and the port free?)", listen);
    return 1;
  }
  const std::string host = listen.substr(0, listen.rfind(':'));
  // Ready once the gRPC server is up, which it is from here on.
  weir::HttpStatusServer http(registry, [] { return true; });
  if (auto s = http.Start(metrics_listen); !s.ok()) {
    spdlog::error("{}", s.message());
    server->Shutdown();
    return 1;
  }
  spdlog::info("listening on {}:{}, metrics on {}, data in {}", host, port, http.address(), data_dir);
  std::cout << "weir-featurestore listening on " << host << ":" << port << std::endl;
  std::cout << "weir-featurestore metrics on " << http.address() << std::endl;

  std::thread waiter([&] {
    spdlog::info("{} received, stopping", weir::StopSignals::Name(signals.Wait()));
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  });
  server->Wait();
  waiter.join();
  http.Stop();
  spdlog::info("stopped");
  return 0;
}
