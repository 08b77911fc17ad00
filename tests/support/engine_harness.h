// EngineHarness: runs one PartitionEngine over JSON records the way a worker
// and `weirctl replay` do (decode, then process), and collects what comes out
// as short strings tests can compare:
//   rows:         "<feature> <key> [<start>,<end>) <value> r<revision>"
//   dead letters: "<reason> @<offset>"
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "decode/record_decoder.h"
#include "engine/partition_engine.h"

namespace weir::testing {

// A complete job spec around `features` (YAML list items, indented by two
// spaces), with key `k`, time field `ts` in ms, and `extra` top-level lines
// (watermark, allowed_lateness). The view is `v`.
std::string JobYaml(std::string_view features, std::string_view extra = "");

// Compiles a job spec; fails the test (throws) when it is invalid.
std::shared_ptr<const engine::JobPlan> MustCompile(std::string_view yaml);

class EngineHarness : public engine::RowSink {
 public:
  explicit EngineHarness(std::shared_ptr<const engine::JobPlan> plan);
  explicit EngineHarness(std::string_view yaml) : EngineHarness(MustCompile(yaml)) {}

  // Decodes and processes one record at the next offset.
  void Feed(std::string_view json);
  // Shorthand for {"k":"<key>","ts":<ts>} plus `more` fields (",\"x\":1").
  void Event(std::string_view key, int64_t ts, std::string_view more = "");
  // Raises the watermark to +inf: every window fires and all state goes.
  void Flush() { engine_->AdvanceWatermark(kMaxTime); }

  // The rows emitted since the last call, in firing order.
  std::vector<std::string> TakeRows();
  // Every row emitted so far, in firing order.
  const std::vector<std::string>& all_rows() const { return all_rows_; }
  // Every row's available_at so far, in firing order (parallel to all_rows).
  const std::vector<int64_t>& all_available_at() const { return all_available_at_; }
  const std::vector<std::string>& dead_letters() const { return dead_letters_; }
  engine::PartitionEngine& engine() { return *engine_; }
  // Replaces the engine with a fresh one restored from `snapshot`.
  void RestoreInto(const std::string& snapshot);
  int64_t next_offset() const { return offset_; }
  void set_next_offset(int64_t o) { offset_ = o; }

  void OnRow(const engine::FeatureRow& row) override;
  void OnDeadLetter(engine::DeadLetterReason reason, const engine::Event& event, std::string_view detail) override;

 private:
  std::shared_ptr<const engine::JobPlan> plan_;
  std::unique_ptr<engine::PartitionEngine> engine_;
  decode::RecordDecoder decoder_;
  int64_t offset_ = 0;
  std::vector<std::string> rows_;
  std::vector<std::string> all_rows_;
  std::vector<int64_t> all_available_at_;
  std::vector<std::string> dead_letters_;
};

}  // namespace weir::testing
