// The in-process coordinator behind a real gRPC server on loopback, shared
// by the gRPC service tests: a fixture, specs, and helpers.
#pragma once

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <sstream>
#include <thread>

#include "cli/jobs.h"
#include "common/checkpoint_paths.h"
#include "coordinator/coordinator_service.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/coordinator/coordinator_fixture.h"
#include "weir/v1/services.grpc.pb.h"

namespace weir::coordinator::grpc_testing {

namespace pb = weir::v1;
using weir::coordinator::Coordinator;
using weir::coordinator::CoordinatorMetrics;
using weir::coordinator::testing::FakeDiscovery;
using weir::coordinator::testing::OpenCoordinator;
using weir::testing::TempDir;

// A spec of job `name` on `topic` that checkpoints to `storage` (default: the
// spec's default storage).
inline pb::JobSpec Spec(const std::string& name, const std::string& topic, const std::string& storage = "") {
  return weir::coordinator::testing::Spec(name, topic, storage.empty() ? "" : "storage: \"file://" + storage + "\"");
}

// A coordinator behind both services, reached through an in-process channel,
// on a clock the test sets.
struct Fixture {
  TempDir dir;
  FakeDiscovery discovery{{{"events", 2}}};  // one topic, of 2 partitions
  std::unique_ptr<Coordinator> coordinator;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<CoordinatorMetrics> metrics;
  weir::coordinator::CoordinatorServices services;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<pb::JobService::Stub> jobs;
  std::unique_ptr<pb::ControlPlane::Stub> control;
  std::atomic<int64_t> now_ms{1'700'000'000'000};  // read by gRPC handler threads through the clock
  int port = 0;
  std::string address;  // where weirctl reaches it

  Fixture() {
    coordinator = OpenCoordinator(dir.path, &discovery, now_ms);
    metrics = std::make_unique<CoordinatorMetrics>(registry.get());
    services =
        weir::coordinator::MakeCoordinatorServices(coordinator.get(), metrics.get(), [this] { return now_ms.load(); });
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(services.jobs.get());
    builder.RegisterService(services.control.get());
    server = builder.BuildAndStart();
    REQUIRE(server != nullptr);
    REQUIRE(port > 0);
    address = "127.0.0.1:" + std::to_string(port);
    auto channel = server->InProcessChannel(grpc::ChannelArguments());
    jobs = pb::JobService::NewStub(channel);
    control = pb::ControlPlane::NewStub(channel);
  }
  ~Fixture() { server->Shutdown(); }

  std::string Metrics() const { return prometheus::TextSerializer().Serialize(registry->Collect()); }

  // Acknowledges checkpoint `id` of every partition of job `name` as its
  // owner `worker` (epoch 1), partition p at offset 100 * (p + 1).
  void AckAll(const std::string& worker, const std::string& name, uint64_t id, int64_t bytes = 768) {
    auto job = coordinator->GetJob(name);
    REQUIRE(job.ok());
    std::vector<pb::PartitionStatus> acks;
    for (const auto& p : job->partitions()) {
      pb::PartitionStatus& s = acks.emplace_back();
      s.set_job(name);
      s.set_partition(p.partition());
      s.set_epoch(p.epoch());
      s.mutable_snapshot()->set_checkpoint(id);
      s.mutable_snapshot()->set_epoch(p.epoch());
      s.mutable_snapshot()->set_path(weir::SnapshotPath(storage.path.string(), name, id, p.partition(), p.epoch()));
      s.mutable_snapshot()->set_next_offset(100 * (p.partition() + 1));
      s.mutable_snapshot()->set_bytes(bytes);
    }
    REQUIRE(coordinator->Heartbeat(worker, acks, now_ms).ok());
  }

  TempDir storage{"weir-grpc-chk"};
};

// A loopback address nothing listens on: a port the kernel just handed out
// and that was closed again (port 1 may be taken by another test's server).
inline std::string ClosedAddress() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
}

// Runs `weirctl checkpoint --wait` of job a on a thread and calls `step`
// every 10 ms (at most 2000 times) until the command returns; its status.
inline weir::Status CheckpointAndWait(Fixture& f, std::ostream& out, const std::function<void()>& step) {
  std::atomic<bool> done{false};
  weir::Status result;
  std::thread command([&] {
    result = weir::cli::JobCheckpoint(f.address, "a", true, out, std::chrono::seconds(20));
    done = true;
  });
  for (int i = 0; i < 2000 && !done; ++i) {
    step();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  command.join();
  return result;
}

}  // namespace weir::coordinator::grpc_testing
