// Engine throughput and state size (Google Benchmark; run a Release build):
//   weir_engine_bench [--benchmark_filter=...]
// Every benchmark reports items_per_second = events per second on one core.
//
// The stream: 100k keys chosen uniformly at random, 400k events per minute of
// event time, in order (so ~4 events per key per minute). Each timed iteration
// processes one more minute of events through an engine that was first warmed
// up to steady state (for the 1h sliding window: a full hour of slices).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "decode/record_decoder.h"
#include "engine/partition_engine.h"
#include "spec/job_spec_yaml.h"

namespace {

using weir::engine::Event;
using weir::engine::FeatureRow;
using weir::engine::FieldValue;
using weir::engine::ValueType;

constexpr int kKeys = 100'000;
constexpr int kEventsPerMinute = 400'000;
constexpr int64_t kMinute = 60'000;

class CountingSink : public weir::engine::RowSink {
 public:
  void OnRow(const FeatureRow& row) override {
    ++rows;
    checksum += row.value.number;
  }
  void OnDeadLetter(weir::engine::DeadLetterReason, const Event&, std::string_view) override { ++dead; }
  uint64_t rows = 0;
  uint64_t dead = 0;
  double checksum = 0;
};

std::shared_ptr<const weir::engine::JobPlan> Plan(const std::string& feature) {
  std::string yaml =
      "name: bench\nsource: { kafka: { brokers: \"127.0.0.1:9092\", topic: t } }\nkey: user_id\n"
      "event_time: { field: ts }\nview: v\nsink: { feature_store: \"127.0.0.1:7070\" }\n"
      "features:\n  - " +
      feature + "\n";
  auto spec = weir::ParseJobSpecYaml(yaml);
  if (!spec.ok()) throw std::runtime_error(spec.status().message());
  auto plan = weir::engine::CompilePlan(*spec);
  if (!plan.ok()) throw std::runtime_error(plan.status().message());
  return *plan;
}

// One minute of pre-decoded events: keys, offsets within the minute, amounts.
struct MinuteOfEvents {
  std::vector<std::string> keys;
  std::vector<uint32_t> key_of;    // per event
  std::vector<int64_t> time_in;    // per event, [0, kMinute)
  std::vector<FieldValue> amount;  // per event: the one field slot

  MinuteOfEvents() {
    std::mt19937_64 rng(1);
    for (int k = 0; k < kKeys; ++k) keys.push_back("user-" + std::to_string(k));
    for (int i = 0; i < kEventsPerMinute; ++i) {
      key_of.push_back(static_cast<uint32_t>(rng() % kKeys));
      time_in.push_back(static_cast<int64_t>(i) * kMinute / kEventsPerMinute);
      amount.push_back(FieldValue{ValueType::kNumber, false, static_cast<double>(rng() % 10'000) / 100.0, {}});
    }
  }

  // Feeds the minute starting at `minute_start` into `engine`, in batches as
  // a worker does with what one consumer poll returns.
  void Feed(weir::engine::PartitionEngine& engine, int64_t minute_start, int64_t* offset) const {
    constexpr size_t kBatch = 1024;
    Event batch[kBatch];
    for (size_t i = 0; i < key_of.size();) {
      size_t n = 0;
      for (; n < kBatch && i < key_of.size(); ++n, ++i) {
        batch[n].key = keys[key_of[i]];
        batch[n].time = minute_start + time_in[i];
        batch[n].offset = weir::KafkaOffset((*offset)++);
        batch[n].fields = &amount[i];
      }
      engine.ProcessBatch(batch, n);
    }
  }
};

const MinuteOfEvents& Events() {
  static const MinuteOfEvents kEvents;
  return kEvents;
}

// Warms an engine up for `warm_minutes`, then times one minute per iteration.
void RunSteadyState(benchmark::State& state, const std::string& feature, int warm_minutes) {
  const auto& events = Events();
  CountingSink sink;
  weir::engine::PartitionEngine engine(Plan(feature), &sink);
  int64_t offset = 0;
  int64_t minute = 0;
  for (; minute < warm_minutes; ++minute) events.Feed(engine, minute * kMinute, &offset);
  const uint64_t rows_before = sink.rows;
  for (auto _ : state) {
    events.Feed(engine, minute * kMinute, &offset);
    ++minute;
  }
  state.SetItemsProcessed(state.iterations() * kEventsPerMinute);
  state.counters["rows_per_event"] =
      static_cast<double>(sink.rows - rows_before) / static_cast<double>(state.iterations() * kEventsPerMinute);
  state.counters["keys"] = static_cast<double>(engine.stats().keys);
  state.counters["state_bytes_per_key"] =
      static_cast<double>(engine.StateBytes()) / static_cast<double>(std::max<size_t>(1, engine.stats().keys));
  benchmark::DoNotOptimize(sink.checksum);
}

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark's BM_ names
void BM_TumblingCount(benchmark::State& state) {
  RunSteadyState(state, "{ name: n, agg: count, window: { tumbling: 1m } }", 2);
}
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark's BM_ names
void BM_TumblingSum(benchmark::State& state) {
  RunSteadyState(state, "{ name: s, agg: sum, field: amount, window: { tumbling: 1m } }", 2);
}
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark's BM_ names
void BM_Sliding1h1mSum(benchmark::State& state) {
  RunSteadyState(state, "{ name: s, agg: sum, field: amount, window: { sliding: { size: 1h, slide: 1m } } }", 61);
}
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark's BM_ names
void BM_SessionCount(benchmark::State& state) {
  RunSteadyState(state, "{ name: s, agg: count, window: { session: { gap: 30s } } }", 2);
}

// JSON records decoded with simdjson and aggregated into a tumbling count.
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark's BM_ names
void BM_JsonDecodeTumblingCount(benchmark::State& state) {
  constexpr int kRecords = 1'000'000;
  std::vector<std::string> lines;
  std::mt19937_64 rng(2);
  size_t bytes = 0;
  for (int i = 0; i < kRecords; ++i) {
    lines.push_back("{\"user_id\":\"user-" + std::to_string(rng() % kKeys) +
                    "\",\"ts\":" + std::to_string(1'700'000'000'000 + i * kMinute / kEventsPerMinute) +
                    ",\"amount\":" + std::to_string(rng() % 10'000) + ".25,\"type\":\"click\",\"country\":\"NL\"}");
    bytes += lines.back().size();
  }
  const auto plan = Plan("{ name: n, agg: count, window: { tumbling: 1m } }");
  for (auto _ : state) {
    state.PauseTiming();
    CountingSink sink;
    auto engine = std::make_unique<weir::engine::PartitionEngine>(plan, &sink);
    weir::decode::RecordDecoder decoder(plan);
    state.ResumeTiming();
    Event e;
    weir::decode::DecodeError error;
    for (int i = 0; i < kRecords; ++i) {
      if (decoder.Decode(lines[i], weir::KafkaOffset(i), &e, &error)) engine->Process(e);
    }
    state.PauseTiming();
    engine.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kRecords);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

}  // namespace

BENCHMARK(BM_TumblingCount)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_TumblingSum)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_Sliding1h1mSum)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_SessionCount)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_JsonDecodeTumblingCount)->Unit(benchmark::kMillisecond)->MinTime(2);

BENCHMARK_MAIN();
