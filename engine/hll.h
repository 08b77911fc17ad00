// HyperLogLog: the mergeable distinct-count sketch behind count_distinct.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "common/byte_codec.h"

namespace weir::engine {

// Estimates the number of distinct 64-bit hashes it has seen, within about
// 1.04/sqrt(2^14) = 0.8% relative standard error, in at most 16 KiB.
//
// The engine keeps one sketch per (key, window slice) and most of them see few
// values, so a sketch starts SPARSE: a sorted vector of 32-bit tokens, one per
// distinct 25-bit hash prefix, each holding (prefix, rank of the remaining 39
// bits). That is a HyperLogLog of precision 25 whose empty registers are not
// stored, and its estimate is exact in practice for the <= 1024 tokens it may
// hold. Once it would need more than kMaxSparseEntries tokens (a quarter of
// the dense size) it turns DENSE: 2^14 one-byte registers. A token determines
// its precision-14 register update exactly, so the switch loses nothing.
//
// The representation is a pure function of the set of hashes added: sparse if
// that set has <= kMaxSparseEntries distinct 25-bit prefixes, else dense with
// the register-wise maximum. Adding, merging and deserializing in any order
// therefore give identical sketches, and operator== compares representations.
//
// Memory: sizeof(HyperLogLog) == 32 and no heap while empty; 4 bytes of heap
// per token (vector capacity, at most 4 KiB) while sparse; 16 KiB dense.
//
// Estimates use Ertl's improved raw estimator ("New cardinality estimation
// algorithms for HyperLogLog sketches", 2017), which needs no bias tables or
// range switching; it is deterministic for a given set of hashes.
//
// Lifecycle: default-constructed empty; grows by AddHash / Merge; copyable and
// movable. Thread use: single-threaded (owned by one processing thread).
class HyperLogLog {
 public:
  static constexpr int kPrecision = 14;  // m = 16384 registers
  static constexpr int kSparsePrecision = 25;
  static constexpr size_t kNumRegisters = size_t{1} << kPrecision;
  // Sparse holds at most this many tokens: a quarter of the dense bytes.
  static constexpr size_t kMaxSparseEntries = kNumRegisters / 4 / sizeof(uint32_t);

  HyperLogLog() = default;
  HyperLogLog(const HyperLogLog& other);
  HyperLogLog& operator=(const HyperLogLog& other);
  HyperLogLog(HyperLogLog&&) noexcept = default;
  HyperLogLog& operator=(HyperLogLog&&) noexcept = default;
  ~HyperLogLog() = default;

  // Adds one value by its 64-bit hash. The caller hashes with a good 64-bit
  // hash (e.g. XXH3_64bits); all 64 bits are used. Adding a hash again is a
  // no-op. Amortized O(log n + n) while sparse (n <= 1024), O(1) dense.
  void AddHash(uint64_t hash);

  // Makes this sketch the union of itself and `other`: afterwards it is
  // exactly the sketch of all hashes added to either (register-wise maximum).
  void Merge(const HyperLogLog& other);

  // Estimated number of distinct hashes added; 0 for an empty sketch.
  // O(tokens) sparse, O(2^14) dense.
  double Estimate() const;

  // Inline plus heap bytes held, for state-size reporting.
  size_t MemoryBytes() const;

  // True while the sketch uses the sparse representation (for tests and stats).
  bool is_sparse() const { return dense_ == nullptr; }

  // Appends a self-delimiting encoding: a version byte, a mode byte, then
  // delta-varint tokens (sparse) or 6-bit-packed registers (12 KiB, dense).
  void Serialize(ByteWriter& w) const;

  // Reads one sketch written by Serialize into *out. Returns false, leaving
  // *out unspecified but valid, on truncated or malformed input (bad version,
  // unsorted or out-of-range tokens, too many tokens, register > 51).
  [[nodiscard]] static bool Deserialize(ByteReader& r, HyperLogLog* out);

  // True if both hold the same set of registers/tokens (same logical content).
  bool operator==(const HyperLogLog& other) const;

 private:
  static constexpr int kMaxRank = 64 - kPrecision + 1;  // 51: register values 0..51

  // Switches from sparse to dense, folding every token into the registers.
  void ConvertToDense();
  // Sets the dense register for a sparse token to at least its rank.
  void AddTokenToDense(uint32_t token);

  // Sorted by token (equivalently by 25-bit prefix, which is unique); empty
  // once dense.
  std::vector<uint32_t> sparse_;
  // kNumRegisters registers once dense, null while sparse.
  std::unique_ptr<uint8_t[]> dense_;
};

}  // namespace weir::engine
