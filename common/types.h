// Strong types for the ids and times that a mix-up would otherwise confuse:
// event time, Kafka offset, partition id, checkpoint id, assignment epoch.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>

namespace weir {

// A distinct integer type: explicit to build, explicit to read, comparable.
template <typename Tag, typename Rep = int64_t>
class StrongInt {
 public:
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongInt&) const =
      default;  // NOLINT(modernize-use-nullptr): clang-tidy 14 misreads a defaulted <=>

 private:
  Rep v_{};
};

using KafkaOffset = StrongInt<struct KafkaOffsetTag, int64_t>;
using PartitionId = StrongInt<struct PartitionIdTag, int32_t>;
using CheckpointId = StrongInt<struct CheckpointIdTag, uint64_t>;
using Epoch = StrongInt<struct EpochTag, uint64_t>;

// Event time and watermarks are integer milliseconds since the Unix epoch.
// They stay plain int64_t inside the engine's arithmetic; these bounds stand
// for -inf (the watermark before any record) and +inf (a flushed partition).
inline constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();

// a + b, clamped to [kMinTime, kMaxTime] instead of overflowing.
constexpr int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kMaxTime : kMinTime;
  return r;
}

// a - b, clamped to [kMinTime, kMaxTime].
constexpr int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? kMaxTime : kMinTime;
  return r;
}

// floor(a / b) for b > 0, correct for negative a.
constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

}  // namespace weir

template <typename Tag, typename Rep>
struct std::hash<weir::StrongInt<Tag, Rep>> {
  size_t operator()(const weir::StrongInt<Tag, Rep>& v) const { return std::hash<Rep>()(v.value()); }
};
