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

#include "decode/event_batch.h"
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

// JSON records decoded and aggregated into a tumbling 1m count: the same keys,
// times and aggregate as BM_TumblingCount (its same-run baseline), warmed the
// same way, so the two differ only by decoding. As a worker does, each poll of
// 1024 records is decoded into an EventBatch and run through ProcessBatch.
class JsonMinute {
 public:
  // Digits of the `ts` field, rewritten for every minute fed.
  static constexpr size_t kTimeDigits = 13;

  JsonMinute() {
    const MinuteOfEvents& events = Events();
    std::mt19937_64 rng(2);
    for (size_t i = 0; i < events.key_of.size(); ++i) {
      std::string line = "{\"user_id\":\"" + events.keys[events.key_of[i]] + "\",\"ts\":";
      time_at_.push_back(line.size());
      line += std::string(kTimeDigits, '0');
      line += ",\"amount\":" + std::to_string(rng() % 10'000) + ".25,\"type\":\"click\",\"country\":\"NL\"}";
      bytes_ += line.size();
      lines_.push_back(std::move(line));
    }
  }

  // Rewrites every record's time for the minute starting at `minute_start`
  // (not timed: it stands for the records a consumer poll returns).
  void SetMinute(int64_t minute_start) {
    const MinuteOfEvents& events = Events();
    for (size_t i = 0; i < lines_.size(); ++i) {
      std::string digits = std::to_string(kEpoch + minute_start + events.time_in[i]);
      digits.insert(0, kTimeDigits - digits.size(), '0');
      lines_[i].replace(time_at_[i], kTimeDigits, digits);
    }
  }

  void Feed(weir::decode::RecordDecoder& decoder, weir::decode::EventBatch& batch,
            weir::engine::PartitionEngine& engine, int64_t* offset) const {
    constexpr size_t kPoll = 1024;
    Event e;
    weir::decode::DecodeError error;
    for (size_t i = 0; i < lines_.size();) {
      batch.Clear();
      for (size_t n = 0; n < kPoll && i < lines_.size(); ++n, ++i) {
        if (decoder.Decode(lines_[i], weir::KafkaOffset((*offset)++), &e, &error)) batch.Add(e);
      }
      engine.ProcessBatch(batch.data(), batch.size());
    }
  }

  bool Decode(weir::decode::RecordDecoder& decoder, size_t i, int64_t offset, Event* e,
              weir::decode::DecodeError* error) const {
    return decoder.Decode(lines_[i], weir::KafkaOffset(offset), e, error);
  }
  size_t bytes() const { return bytes_; }

 private:
  static constexpr int64_t kEpoch = 1'700'000'000'000;
  std::vector<std::string> lines_;
  std::vector<size_t> time_at_;
  size_t bytes_ = 0;
};

// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark's BM_ names
void BM_JsonDecodeTumblingCount(benchmark::State& state) {
  JsonMinute json;
  const auto plan = Plan("{ name: n, agg: count, window: { tumbling: 1m } }");
  CountingSink sink;
  weir::engine::PartitionEngine engine(plan, &sink);
  weir::decode::RecordDecoder decoder(plan);
  weir::decode::EventBatch batch(plan->fields.size());
  int64_t offset = 0;
  int64_t minute = 0;
  for (; minute < 2; ++minute) {
    json.SetMinute(minute * kMinute);
    json.Feed(decoder, batch, engine, &offset);
  }
  const uint64_t rows_before = sink.rows;
  for (auto _ : state) {
    state.PauseTiming();
    json.SetMinute(minute * kMinute);
    state.ResumeTiming();
    json.Feed(decoder, batch, engine, &offset);
    ++minute;
  }
  state.SetItemsProcessed(state.iterations() * kEventsPerMinute);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * json.bytes()));
  state.counters["rows_per_event"] =
      static_cast<double>(sink.rows - rows_before) / static_cast<double>(state.iterations() * kEventsPerMinute);
  state.counters["dead_letters"] = static_cast<double>(sink.dead);
  benchmark::DoNotOptimize(sink.checksum);
}

// Decoding alone (no engine): where the JSON path's time goes.
// NOLINTNEXTLINE(readability-identifier-naming): Google Benchmark's BM_ names
void BM_JsonDecodeOnly(benchmark::State& state) {
  JsonMinute json;
  json.SetMinute(0);
  const auto plan = Plan("{ name: n, agg: count, window: { tumbling: 1m } }");
  weir::decode::RecordDecoder decoder(plan);
  weir::decode::EventBatch batch(plan->fields.size());
  int64_t offset = 0;
  for (auto _ : state) {
    Event e;
    weir::decode::DecodeError error;
    // One poll's worth, decoded into the batch, over the whole minute.
    for (int i = 0; i < kEventsPerMinute; ++i) {
      if ((i & 1023) == 0) batch.Clear();
      if (json.Decode(decoder, static_cast<size_t>(i), offset++, &e, &error)) batch.Add(e);
    }
    benchmark::DoNotOptimize(batch.size());
  }
  state.SetItemsProcessed(state.iterations() * kEventsPerMinute);
}

}  // namespace

// Each target's benchmark runs right after its baseline, so the two see the
// same machine (scripts/bench_summary.py divides them).
BENCHMARK(BM_TumblingCount)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_JsonDecodeTumblingCount)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_TumblingSum)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_Sliding1h1mSum)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_SessionCount)->Unit(benchmark::kMillisecond)->MinTime(2);
BENCHMARK(BM_JsonDecodeOnly)->Unit(benchmark::kMillisecond)->MinTime(1);

BENCHMARK_MAIN();
