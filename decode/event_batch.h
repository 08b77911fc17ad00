// EventBatch: decoded events that own their bytes, so a whole poll of records
// can be decoded first and then processed as one engine batch
// (PartitionEngine::ProcessBatch). RecordDecoder's events view the decoder's
// buffers, which the next Decode overwrites; Add copies an event's key, field
// slots and string values into the batch's arena, where they stay valid until
// Clear().
//
// Lifecycle: one per processing thread or task, reused batch after batch (the
// arena keeps its blocks, so the steady state allocates nothing).
// Thread: not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/event.h"

namespace weir::decode {

class EventBatch {
 public:
  // `fields_per_event`: the plan's JobPlan::fields.size().
  explicit EventBatch(size_t fields_per_event);
  EventBatch(const EventBatch&) = delete;
  EventBatch& operator=(const EventBatch&) = delete;

  // Appends a copy of `event`, owning everything it points to.
  void Add(const engine::Event& event);
  // Forgets the events (their views dangle from here on); keeps the memory.
  void Clear();

  const engine::Event* data() const { return events_.data(); }
  size_t size() const { return events_.size(); }
  bool empty() const { return events_.empty(); }
  const engine::Event& operator[](size_t i) const { return events_[i]; }

 private:
  // Bytes from the arena, `align`ed; stable until Clear().
  void* Allocate(size_t bytes, size_t align);
  std::string_view Copy(std::string_view text);

  const size_t fields_per_event_;
  std::vector<engine::Event> events_;
  std::vector<std::unique_ptr<std::byte[]>> blocks_;  // kBlockBytes each, kept across batches
  size_t block_ = 0;                                  // the block being filled
  size_t used_ = 0;                                   // bytes used in blocks_[block_]
  std::vector<std::unique_ptr<std::byte[]>> large_;   // one per allocation bigger than a block; freed by Clear
};

}  // namespace weir::decode
