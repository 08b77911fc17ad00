// Fuzzes the record decoder and, through it, the engine and its snapshots.
// Input: records separated by '\n', each decoded and, when it decodes,
// processed in offset order by a fresh engine; then every window is flushed.
// Invariants: a refused record has one of the dead-letter reasons and a
// detail; a snapshot taken mid-stream restores, and a restored engine
// produces exactly the rows the original one does from there on.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "decode/record_decoder.h"
#include "engine/partition_engine.h"
#include "engine/row_format.h"
#include "tests/fuzz/fuzz_plan.h"

namespace weir::fuzz {
namespace {

// Collects rows as JSON lines, so two engines' outputs compare as text.
class Rows : public engine::RowSink {
 public:
  explicit Rows(const engine::JobPlan& plan) : plan_(plan) {}
  void OnRow(const engine::FeatureRow& row) override {
    Require(row.feature < plan_.features.size(), "a row names a feature of the plan");
    lines.emplace_back();
    engine::AppendRowJson(lines.back(), "v", plan_.features[row.feature].name, row);
  }
  void OnDeadLetter(engine::DeadLetterReason reason, const engine::Event&, std::string_view detail) override {
    Require(reason == engine::DeadLetterReason::kLate, "the engine refuses only late records");
    Require(!detail.empty(), "a late record has a detail");
  }
  std::vector<std::string> lines;

 private:
  const engine::JobPlan& plan_;
};

}  // namespace
}  // namespace weir::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;  // NOLINT(google-build-using-namespace): a fuzz entry point
  const auto plan = fuzz::FuzzPlan();
  static decode::RecordDecoder decoder(plan);
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  std::vector<std::string_view> records;
  for (size_t start = 0; start <= input.size();) {
    size_t end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    records.push_back(input.substr(start, end - start));
    start = end + 1;
  }

  fuzz::Rows rows(*plan);
  engine::PartitionEngine engine(plan, &rows);
  const size_t cut = records.size() / 2;  // where a snapshot is taken
  std::string snapshot;
  size_t rows_at_cut = 0;
  auto feed = [&](engine::PartitionEngine& e, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      engine::Event event;
      decode::DecodeError error;
      if (decoder.Decode(records[i], KafkaOffset(static_cast<int64_t>(i)), &event, &error)) {
        e.Process(event);
      } else {
        fuzz::Require(error.reason != engine::DeadLetterReason::kLate, "the decoder never says late");
        fuzz::Require(!error.detail.empty(), "a refused record has a detail");
      }
    }
  };
  feed(engine, 0, cut);
  snapshot = engine.Snapshot();
  rows_at_cut = rows.lines.size();
  feed(engine, cut, records.size());
  engine.AdvanceWatermark(kMaxTime);

  fuzz::Rows replayed(*plan);
  engine::PartitionEngine restored(plan, &replayed);
  fuzz::Require(restored.Restore(snapshot).ok(), "a snapshot restores");
  fuzz::Require(restored.Snapshot() == snapshot, "a restored engine snapshots to the same bytes");
  feed(restored, cut, records.size());
  restored.AdvanceWatermark(kMaxTime);
  const std::vector<std::string> after_cut(rows.lines.begin() + static_cast<std::ptrdiff_t>(rows_at_cut),
                                           rows.lines.end());
  fuzz::Require(replayed.lines == after_cut, "a restored engine emits what the original emitted after the snapshot");
  return 0;
}
