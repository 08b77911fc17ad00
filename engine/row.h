// What the engine emits: feature rows (docs/semantics.md, "Feature rows")
// and dead letters, delivered synchronously to a RowSink.
#pragma once

#include <cstdint>
#include <string_view>

#include "engine/event.h"

namespace weir::engine {

// A row's value: a number, or a string for `last` over a string field.
struct RowValue {
  bool is_text = false;
  double number = 0;
  std::string_view text;  // valid during the RowSink call only
};

// One window's value of one feature for one key. Views are valid during the
// RowSink call only; a sink that keeps rows copies them.
struct FeatureRow {
  uint32_t feature = 0;  // index into JobPlan::features
  std::string_view key;
  int64_t window_start = 0;
  int64_t window_end = 0;
  RowValue value;
  uint32_t revision = 0;
  // The partition's greatest event time seen when the row was emitted, never
  // below window_end (docs/semantics.md, "Availability").
  int64_t available_at = 0;
};

// Receives the engine's output on the thread that drives the engine, in the
// order it fires. Implementations must not call back into the engine.
class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual void OnRow(const FeatureRow& row) = 0;
  // A record the engine refused (today only DeadLetterReason::kLate).
  virtual void OnDeadLetter(DeadLetterReason reason, const Event& event, std::string_view detail) = 0;
};

}  // namespace weir::engine
