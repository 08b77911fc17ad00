// RecordDecoder: raw Kafka record bytes (one JSON object each) to engine
// events, or to the reason the record goes to the dead-letter output
// (docs/semantics.md, "Bad records").
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "engine/event.h"
#include "engine/plan.h"

namespace weir::decode {

// Why one record could not be decoded. `detail` is for people (dead-letter
// output, logs): it names the field and says what was found and what was
// expected, e.g. `time field "ts" is a string, expected an integer (ms since the Unix epoch)`.
struct DecodeError {
  engine::DeadLetterReason reason = engine::DeadLetterReason::kDecode;
  std::string detail;
};

// Decodes the records of one job, one at a time, reusing its buffers (the
// padded input copy, the simdjson parser, the field slots) so that the steady
// state allocates nothing on success.
//
// Lifecycle: built once per job plan and partition task (or per processing
// thread), lives as long as the plan it was built from.
// Thread: not thread-safe; one decoder per processing thread. Decoders built
// from the same plan may run on different threads.
class RecordDecoder {
 public:
  // REQUIRES: plan != nullptr.
  explicit RecordDecoder(std::shared_ptr<const engine::JobPlan> plan);

  RecordDecoder(const RecordDecoder&) = delete;
  RecordDecoder& operator=(const RecordDecoder&) = delete;

  // Decodes one record. On success fills *event and returns true: the key and
  // every string field view this decoder's buffers, and event->fields points at
  // plan->fields.size() slots it owns; all stay valid until the next Decode call
  // or the decoder's destruction. On failure fills *error (the reason and a
  // detail) and returns false; *event is then unspecified. Never throws.
  //
  // Rules: `bytes` must be one JSON object (else kDecode; integers beyond the
  // uint64 range are a JSON error too); the key and time fields must be present
  // (else kMissingField, key checked first) and of the right type (else
  // kBadType); a JSON null counts as present, of the wrong type. Only top-level
  // fields are read; when a name repeats, its first occurrence wins.
  [[nodiscard]] bool Decode(std::string_view bytes, KafkaOffset offset, engine::Event* event, DecodeError* error);

 private:
  // One distinct top-level field name the plan reads, and what it feeds.
  struct FieldRole {
    std::string name;
    bool is_key = false;
    bool is_time = false;
    std::vector<int> slots;  // indexes into plan_->fields with this name
    uint64_t seen_in = 0;    // the record_seq_ of the last record that had it
  };

  // The fast path (record_decoder_fast.cc) over the record in padded_: true
  // with *event filled for a flat object of plain values whose key and time
  // are good; false when the simdjson path must decide. Never an error of
  // its own.
  bool DecodeFast(size_t size, KafkaOffset offset, engine::Event* event);
  // The role for `name`, or nullptr when the plan does not read that field.
  FieldRole* Find(std::string_view name);
  // Sets event->key from the key field's value and returns true, or fills
  // *error (kBadType) and returns false. An integer key's text lives in key_digits_.
  bool ReadKey(simdjson::dom::element value, engine::Event* event, DecodeError* error);
  // Sets event->time (ms) from the time field's value per plan_->time_encoding
  // and returns true, or fills *error (kBadType) and returns false.
  bool ReadTime(simdjson::dom::element value, engine::Event* event, DecodeError* error) const;

  // The engine's window arithmetic needs headroom below and above a time;
  // +-2^53 ms is +-285,000 years.
  static constexpr int64_t kMaxAbsTime = int64_t{1} << 53;

  std::shared_ptr<const engine::JobPlan> plan_;
  std::vector<FieldRole> roles_;
  // Open-addressing hash table over roles_: each entry is an index into roles_
  // or -1; its size is a power of two at least twice roles_.size().
  std::vector<int> table_;
  uint64_t table_mask_ = 0;

  simdjson::dom::parser parser_;
  std::unique_ptr<uint8_t[]> padded_;  // the current record plus simdjson::SIMDJSON_PADDING bytes
  size_t padded_capacity_ = 0;         // bytes of record padded_ can hold
  std::vector<engine::FieldValue> fields_;
  char key_digits_[24] = {};  // an integer key's decimal text
  uint64_t record_seq_ = 0;   // counts Decode calls, for FieldRole::seen_in
};

}  // namespace weir::decode
