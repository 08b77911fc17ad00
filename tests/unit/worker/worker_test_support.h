// Helpers of the worker's unit tests: a small job, and a feature store served
// over gRPC on loopback from a temporary RocksDB directory.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "featurestore/feature_store_service.h"
#include "featurestore/key_owners.h"
#include "spec/job_spec_yaml.h"
#include "tests/support/temp_dir.h"
#include "worker/job_runtime.h"

namespace weir::worker::testing {

// Counts per user in 1-minute tumbling windows, watermark delay 0.
inline std::shared_ptr<const JobRuntime> CountJob(const std::string& sink = "127.0.0.1:1") {
  auto spec = ParseJobSpecYaml(R"(
name: clicks
source: { kafka: { brokers: "127.0.0.1:1", topic: events } }
key: user
event_time: { field: ts }
watermark: { max_out_of_orderness: 0s }
view: clicks
features:
  - { name: n, agg: count, window: { tumbling: 1m } }
sink: { feature_store: ")" + sink +
                               R"(" }
)");
  REQUIRE(spec.ok());
  auto job = MakeJobRuntime(*spec);
  REQUIRE(job.ok());
  return *job;
}

// A weir-featurestore's services on 127.0.0.1:`port` (0: a free one),
// receiving messages up to `max_message_bytes` (0: gRPC's default, 4 MiB).
class StoreServer {
 public:
  explicit StoreServer(const std::string& dir, int port = 0, int max_message_bytes = 0) {
    auto store = featurestore::RowStore::Open(dir);
    REQUIRE(store.ok());
    store_ = std::move(*store);
    services_ = featurestore::MakeFeatureStoreServices(store_.get(), nullptr, nullptr, &key_owners_);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(), &port_);
    if (max_message_bytes > 0) builder.SetMaxReceiveMessageSize(max_message_bytes);
    builder.RegisterService(services_.sink.get());
    builder.RegisterService(services_.store.get());
    server_ = builder.BuildAndStart();
    REQUIRE(server_ != nullptr);
  }
  ~StoreServer() { server_->Shutdown(std::chrono::system_clock::now()); }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  featurestore::RowStore& store() { return *store_; }

 private:
  std::unique_ptr<featurestore::RowStore> store_;
  featurestore::KeyOwners key_owners_{size_t{1} << 16};
  featurestore::FeatureStoreServices services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Polls `done` every 10 ms for up to 20 s.
inline bool Eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace weir::worker::testing
