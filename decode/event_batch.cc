#include "decode/event_batch.h"

#include <cstring>
#include <new>

namespace weir::decode {
namespace {

constexpr size_t kBlockBytes = 64 << 10;

}  // namespace

EventBatch::EventBatch(size_t fields_per_event) : fields_per_event_(fields_per_event) {}

void* EventBatch::Allocate(size_t bytes, size_t align) {
  if (bytes > kBlockBytes / 4) {
    large_.push_back(std::make_unique<std::byte[]>(bytes));
    return large_.back().get();
  }
  for (;;) {
    if (block_ < blocks_.size()) {
      const size_t start = (used_ + align - 1) & ~(align - 1);
      if (start + bytes <= kBlockBytes) {
        used_ = start + bytes;
        return blocks_[block_].get() + start;
      }
      ++block_;
      used_ = 0;
      continue;
    }
    blocks_.push_back(std::make_unique<std::byte[]>(kBlockBytes));
    block_ = blocks_.size() - 1;
    used_ = 0;
  }
}

std::string_view EventBatch::Copy(std::string_view text) {
  if (text.empty()) return {};
  auto* out = static_cast<char*>(Allocate(text.size(), 1));
  std::memcpy(out, text.data(), text.size());
  return {out, text.size()};
}

void EventBatch::Add(const engine::Event& event) {
  engine::Event copy = event;
  copy.key = Copy(event.key);
  if (fields_per_event_ > 0) {
    auto* fields = static_cast<engine::FieldValue*>(
        Allocate(fields_per_event_ * sizeof(engine::FieldValue), alignof(engine::FieldValue)));
    for (size_t i = 0; i < fields_per_event_; ++i) {
      engine::FieldValue* f = new (fields + i) engine::FieldValue(event.fields[i]);
      if (!f->text.empty()) f->text = Copy(f->text);
    }
    copy.fields = fields;
  }
  events_.push_back(copy);
}

void EventBatch::Clear() {
  events_.clear();
  large_.clear();
  block_ = 0;
  used_ = 0;
}

}  // namespace weir::decode
