// Fixtures shared by the coordinator's unit tests: a partition discovery the
// test controls, job specs, and a coordinator on a temp dir whose time is
// whatever the test passes. Used by weir_coordinator_tests, which builds
// without gRPC: this header must not include gRPC.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/durable_file.h"
#include "coordinator/coordinator.h"
#include "spec/job_spec_yaml.h"
#include "tests/support/temp_dir.h"

namespace weir::coordinator::testing {

// Topics and their partition counts. A topic not listed fails like a missing
// one; with `reachable` false every lookup fails like unreachable brokers.
class FakeDiscovery : public PartitionDiscovery {
 public:
  FakeDiscovery() = default;
  explicit FakeDiscovery(std::map<std::string, int32_t> topics) : topics(std::move(topics)) {}

  Result<TopicFound> FindTopic(const std::string& brokers, const std::string& topic,
                               const google::protobuf::Map<std::string, std::string>& /*properties*/,
                               const std::string& dead_letter_topic) override {
    ++calls;
    if (!reachable) return Unavailable("brokers " + brokers + " unreachable");
    auto it = topics.find(topic);
    if (it == topics.end()) return NotFound("topic \"" + topic + "\" does not exist");
    return TopicFound{it->second, 1, "dead-letter topic \"" + dead_letter_topic + "\" found"};
  }

  std::map<std::string, int32_t> topics;
  bool reachable = true;
  int calls = 0;  // lookups so far
};

// A FileWriter whose writes of paths containing `blocked` wait until
// Release() (after which nothing blocks); every other write goes through
// WriteFileDurably at once. Tests use it to hold a write in flight and show
// what the coordinator does meanwhile; waits are on conditions, bounded.
class GatedWriter {
 public:
  explicit GatedWriter(std::string blocked) : blocked_(std::move(blocked)) {}
  ~GatedWriter() { Release(); }

  FileWriter writer() {
    return [this](const std::string& path, std::string_view bytes) {
      if (path.find(blocked_) != std::string::npos) {
        std::unique_lock<std::mutex> lock(mu_);
        ++entered_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return released_; });
      }
      Status s = WriteFileDurably(path, bytes);
      std::lock_guard<std::mutex> lock(mu_);
      written_.push_back(path);
      return s;
    };
  }
  // Waits (at most `timeout`) until `n` blocked writes have started.
  bool WaitEntered(int n = 1, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return entered_ >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // The paths written so far, in order.
  std::vector<std::string> written() {
    std::lock_guard<std::mutex> lock(mu_);
    return written_;
  }

 private:
  const std::string blocked_;
  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;                   // guarded by mu_
  bool released_ = false;             // guarded by mu_
  std::vector<std::string> written_;  // guarded by mu_
};

// A valid spec of job `name` reading `topic` at 127.0.0.1:9092, one count
// feature into view `v`. `checkpoint`, when not empty, is the inside of its
// `checkpoint: { ... }` section; without it the spec's defaults apply.
inline v1::JobSpec Spec(const std::string& name, const std::string& topic = "events",
                        const std::string& checkpoint = "") {
  auto spec = ParseJobSpecYaml("name: " + name + "\nsource: { kafka: { brokers: \"127.0.0.1:9092\", topic: " + topic +
                               " } }\nkey: k\nevent_time: { field: ts }\nview: v\n"
                               "sink: { feature_store: \"127.0.0.1:7070\" }\n"
                               "features:\n  - { name: n, agg: count, window: { tumbling: 1m } }\n" +
                               (checkpoint.empty() ? "" : "checkpoint: { " + checkpoint + " }\n"));
  REQUIRE(spec.ok());
  return *spec;
}

// Opens a coordinator on `data_dir` at `now_ms`; fails the test if it cannot.
inline std::unique_ptr<Coordinator> OpenCoordinator(const std::filesystem::path& data_dir,
                                                    PartitionDiscovery* discovery, int64_t now_ms = 0,
                                                    const CoordinatorOptions& options = {}) {
  auto c = Coordinator::Open(data_dir.string(), discovery, options, now_ms);
  REQUIRE(c.ok());
  return std::move(*c);
}

// A coordinator over a FakeDiscovery with its data in a temp dir, opened at
// t=0 when the fixture is made (TEST_CASE_METHOD). Opening looks up nothing,
// so a test may still set `discovery.topics` before its first submit.
struct CoordinatorTest {
  explicit CoordinatorTest(std::map<std::string, int32_t> topics = {},
                           const CoordinatorOptions& coordinator_options = {})
      : discovery(std::move(topics)),
        options(coordinator_options),
        c(OpenCoordinator(data.path, &discovery, 0, options)) {}

  // Stops the coordinator and opens a new one on the same data at `now_ms`,
  // as a restart of the process does.
  void Restart(int64_t now_ms) {
    c.reset();
    c = OpenCoordinator(data.path, &discovery, now_ms, options);
  }

  // Submits `spec` and registers worker w1, both at t=0: w1 owns every
  // partition of the job.
  void RunJobOnW1(const v1::JobSpec& spec) {
    REQUIRE(c->SubmitJob(spec, 0).ok());
    REQUIRE(c->RegisterWorker("w1", "", 0).ok());
  }

  weir::testing::TempDir data{"weir-coord-data"};
  FakeDiscovery discovery;
  CoordinatorOptions options;
  std::unique_ptr<Coordinator> c;
};

}  // namespace weir::coordinator::testing
