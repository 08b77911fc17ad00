// What the engine consumes (decoded events) and what it emits besides rows
// (dead letters). Decoding lives in worker/decode; the engine sees only these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/types.h"

namespace weir::engine {

// The JSON type of one field of a record, as far as aggregates and filters care.
enum class ValueType : uint8_t {
  kMissing,  // the record has no such field
  kNull,
  kBool,
  kNumber,  // every JSON number, held as a double
  kString,
  kOther,  // an object or an array
};

// One field of a decoded record. `text` points into the decoder's buffer and is
// valid only while the record is being processed.
struct FieldValue {
  ValueType type = ValueType::kMissing;
  bool boolean = false;
  double number = 0;
  std::string_view text;
};

// One decoded record: the entity key, its event time, its offset in the
// partition, and the fields the plan asked for (JobPlan::fields, by slot).
struct Event {
  std::string_view key;
  int64_t time = 0;  // ms since the Unix epoch
  KafkaOffset offset{0};
  const FieldValue* fields = nullptr;  // JobPlan::fields.size() entries
};

// Why a record went to the dead-letter output (docs/semantics.md).
enum class DeadLetterReason : uint8_t {
  kDecode,        // not a JSON object
  kMissingField,  // no key or no time field
  kBadType,       // a key or time of the wrong type
  kLate,          // every window it belongs to is gone
  kSinkRefused,   // feature rows the store refused for good (too large, invalid): never retried
};
// How many reasons there are: the size of per-reason tables (metrics, counters,
// summaries). Keep it after the last reason.
inline constexpr size_t kDeadLetterReasons = static_cast<size_t>(DeadLetterReason::kSinkRefused) + 1;

// The name used in dead-letter output and metrics labels: "decode",
// "missing_field", "bad_type", "late", "sink_refused".
inline const char* DeadLetterReasonName(DeadLetterReason r) {
  switch (r) {
    case DeadLetterReason::kDecode: return "decode";
    case DeadLetterReason::kMissingField: return "missing_field";
    case DeadLetterReason::kBadType: return "bad_type";
    case DeadLetterReason::kLate: return "late";
    case DeadLetterReason::kSinkRefused: return "sink_refused";
  }
  return "unknown";
}

}  // namespace weir::engine
