// weir_checkpoint_bench: what a checkpoint costs one partition, by key count.
// For 10k, 100k and 1M keys (each with state in a 1-minute tumbling count
// and sum, two events per key, windows still open), it prints:
//   pause     PartitionEngine::Snapshot(): the time the partition stands still
//   write     encoding the snapshot file and writing it durably (temp file,
//             fsync, rename; done by the worker's checkpoint writer thread)
//   total     pause + write: the checkpoint's duration for this partition
//   size/key  snapshot bytes per key
//   restore   reading the file back, checking it, Restore() into a new engine
// Median of 3 runs each. Target: a checkpoint of 1M keys within 1 s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/partition_engine.h"
#include "spec/job_spec_yaml.h"
#include "worker/snapshot_file.h"

namespace {

using Clock = std::chrono::steady_clock;

class NullSink : public weir::engine::RowSink {
 public:
  void OnRow(const weir::engine::FeatureRow&) override {}
  void OnDeadLetter(weir::engine::DeadLetterReason, const weir::engine::Event&, std::string_view) override {}
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  auto spec = weir::ParseJobSpecYaml(R"(
name: bench
source: { kafka: { brokers: "127.0.0.1:9092", topic: t } }
key: user_id
event_time: { field: ts }
view: v
features:
  - { name: n, agg: count, window: { tumbling: 1m } }
  - { name: amount, agg: sum, field: amount, window: { tumbling: 1m } }
sink: { feature_store: "127.0.0.1:7070" }
)");
  auto plan = weir::engine::CompilePlan(*spec);
  if (!plan.ok()) {
    std::fprintf(stderr, "%s\n", plan.status().message().c_str());
    return 1;
  }
  const auto dir = std::filesystem::temp_directory_path() / "weir-checkpoint-bench";
  std::filesystem::create_directories(dir);
  std::printf("%10s %12s %12s %12s %12s %14s\n", "keys", "pause ms", "write ms", "total ms", "bytes/key", "restore ms");
  for (int keys : {10'000, 100'000, 1'000'000}) {
    NullSink sink;
    weir::engine::PartitionEngine engine(*plan, &sink);
    weir::engine::FieldValue amount{weir::engine::ValueType::kNumber, false, 12.5, {}};
    std::vector<std::string> names;
    names.reserve(static_cast<size_t>(keys));
    for (int k = 0; k < keys; ++k) names.push_back("user-" + std::to_string(k));
    int64_t offset = 0;
    for (int round = 0; round < 2; ++round) {
      for (int k = 0; k < keys; ++k) {
        weir::engine::Event e;
        e.key = names[static_cast<size_t>(k)];
        e.time = 1'700'000'000'000 + int64_t{round} * 1000;  // one open window per key
        e.offset = weir::KafkaOffset(offset++);
        e.fields = &amount;
        engine.Process(e);
      }
    }
    std::vector<double> pause, write, restore;
    size_t bytes = 0;
    for (int run = 0; run < 3; ++run) {
      auto t0 = Clock::now();
      weir::worker::PartitionSnapshot snapshot;
      snapshot.job = "bench";
      snapshot.next_offset = offset;
      snapshot.engine_state = engine.Snapshot();
      auto t1 = Clock::now();
      const std::string file = weir::worker::EncodeSnapshotFile(snapshot);
      const std::string path = (dir / "p0.snap").string();
      if (auto s = weir::worker::WriteSnapshotBytes(path, file); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.message().c_str());
        return 1;
      }
      auto t2 = Clock::now();
      auto back = weir::worker::ReadSnapshotFile(path);
      weir::engine::PartitionEngine restored(*plan, &sink);
      if (!back.ok() || !restored.Restore(back->engine_state).ok() || restored.stats().keys != engine.stats().keys) {
        std::fprintf(stderr, "restore failed\n");
        return 1;
      }
      auto t3 = Clock::now();
      pause.push_back(Ms(t1 - t0));
      write.push_back(Ms(t2 - t1));
      restore.push_back(Ms(t3 - t2));
      bytes = file.size();
    }
    std::printf("%10d %12.1f %12.1f %12.1f %12.1f %14.1f\n", keys, Median(pause), Median(write),
                Median(pause) + Median(write), static_cast<double>(bytes) / keys, Median(restore));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
