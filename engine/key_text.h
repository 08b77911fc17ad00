// KeyText: an entity key's bytes in 16 bytes. Keys of up to 15 bytes (most
// ids: "user-12345", UUIDs without dashes do not fit) live inline; longer
// ones in one heap allocation of exactly their length. Half a std::string,
// which matters with a key table entry per key of a partition.
// Single-threaded, like the key table that holds it.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

namespace weir::engine {

class KeyText {
 public:
  KeyText() { bytes_[kTag] = 0; }
  ~KeyText() { Free(); }
  KeyText(KeyText&& o) noexcept {
    std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
    o.bytes_[kTag] = 0;
  }
  KeyText& operator=(KeyText&& o) noexcept {
    if (this != &o) {
      Free();
      std::memcpy(bytes_, o.bytes_, sizeof(bytes_));
      o.bytes_[kTag] = 0;
    }
    return *this;
  }
  KeyText(const KeyText&) = delete;
  KeyText& operator=(const KeyText&) = delete;

  void Assign(std::string_view s) {
    Free();
    if (s.size() <= kInline) {
      if (!s.empty()) std::memcpy(bytes_, s.data(), s.size());
      bytes_[kTag] = static_cast<char>(s.size());
      return;
    }
    char* heap = new char[s.size()];
    std::memcpy(heap, s.data(), s.size());
    const auto size = static_cast<uint32_t>(s.size());
    std::memcpy(bytes_, &heap, sizeof(heap));
    std::memcpy(bytes_ + sizeof(heap), &size, sizeof(size));
    bytes_[kTag] = kHeapTag;
  }

  std::string_view view() const {
    if (!IsHeap()) return {bytes_, static_cast<size_t>(bytes_[kTag])};
    char* heap = nullptr;
    uint32_t size = 0;
    std::memcpy(&heap, bytes_, sizeof(heap));
    std::memcpy(&size, bytes_ + sizeof(heap), sizeof(size));
    return {heap, size};
  }
  // Bytes held outside the object.
  size_t HeapBytes() const { return IsHeap() ? view().size() : 0; }

 private:
  static constexpr size_t kTag = 15;  // the length of an inline key, or kHeapTag
  static constexpr size_t kInline = 15;
  static constexpr char kHeapTag = static_cast<char>(0x80);

  bool IsHeap() const { return bytes_[kTag] == kHeapTag; }
  void Free() {
    if (!IsHeap()) return;
    char* heap = nullptr;
    std::memcpy(&heap, bytes_, sizeof(heap));
    delete[] heap;
    bytes_[kTag] = 0;
  }

  char bytes_[16];  // unaligned: the pointer and length are memcpy'd, so entries pack to 4 bytes
};

}  // namespace weir::engine
