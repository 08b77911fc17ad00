// DDSketch: the mergeable quantile sketch behind percentile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/byte_codec.h"

namespace weir::engine {

// Estimates quantiles of a stream of doubles with relative accuracy
// kRelativeAccuracy (Masson, Rim, Lee: "DDSketch", VLDB 2019): for every q the
// estimate e of the true value v of that rank satisfies |e - v| <= alpha*|v|
// (plus a few ulps of floating-point rounding).
//
// A value v with |v| >= kMinIndexableValue goes to bucket i = ceil(log_gamma |v|),
// gamma = (1+alpha)/(1-alpha), of the positive or the negative store; bucket i
// stands for 2*gamma^i/(gamma+1). Values with |v| < kMinIndexableValue
// (zero and subnormals) are counted as exactly zero: below the smallest normal
// double, "relative accuracy" means nothing useful. Non-finite values
// (NaN, +-inf) are ignored. min and max are kept exactly; an estimate is
// clamped into [min, max], so q = 0 and q = 1 are exact.
//
// Buckets are never collapsed, so the guarantee holds for every quantile. The
// cost: each store is a dense array of uint64 counts spanning its lowest to
// highest index, ln(max|v| / min|v|) / ln(gamma) buckets, i.e. about 1.84 KB
// per decade of magnitude (230 buckets of 8 bytes): ~11 KB for values in
// [1e-3, 1e3], and at worst ~1.1 MB per store for the full range of finite
// doubles. Growing a store leaves up to 1/8 of slack for amortized growth.
//
// Memory: sizeof(DDSketch) == 64 and no heap while empty; one value adds one
// 8-byte bucket of heap.
//
// Lifecycle: default-constructed empty; grows by Add / Merge; copyable and
// movable. Thread use: single-threaded (owned by one processing thread).
class DDSketch {
 public:
  static constexpr double kRelativeAccuracy = 0.005;  // alpha; guarantee |est - true| <= alpha*|true|
  // The smallest positive normal double (DBL_MIN); smaller magnitudes count as zero.
  static constexpr double kMinIndexableValue = 2.2250738585072014e-308;

  // Adds one value. Finite values are counted (see the class comment for the
  // zero threshold); NaN and infinities are ignored.
  void Add(double v);

  // Makes this sketch the sketch of the values added to either; exact (the
  // result equals one sketch fed all the values).
  void Merge(const DDSketch& other);

  // The q-quantile, q in [0,1] (clamped into it): an estimate of the value of
  // rank floor(q * (count()-1)) (0-based) in sorted order, within relative
  // accuracy kRelativeAccuracy and inside [min, max]; exact at ranks 0 and
  // count()-1. REQUIRES: count() > 0 (returns NaN otherwise). O(buckets).
  double Quantile(double q) const;

  // Number of values added (non-finite ones excluded).
  uint64_t count() const { return count_; }

  // Inline plus heap bytes held, for state-size reporting.
  size_t MemoryBytes() const;

  // Appends a self-delimiting encoding: version, counts, exact min/max, and
  // each store's non-zero range as varints.
  void Serialize(ByteWriter& w) const;

  // Reads one sketch written by Serialize into *out. Returns false, leaving
  // *out unspecified but valid, on truncated or malformed input (bad version,
  // indices out of range, zero counts at a range's ends, count overflow,
  // non-finite or inconsistent min/max).
  [[nodiscard]] static bool Deserialize(ByteReader& r, DDSketch* out);

  // True if both hold the same counts per bucket, zero count, min and max.
  bool operator==(const DDSketch& other) const;

 private:
  // Counts per bucket index over a contiguous range of indices, grown at
  // either end on demand; holds no heap while empty.
  class Store {
   public:
    Store() = default;
    Store(const Store& other);
    Store& operator=(const Store& other);
    Store(Store&&) noexcept = default;
    Store& operator=(Store&&) noexcept = default;
    ~Store() = default;

    // Adds n to the count of bucket `index`, growing the range if needed.
    void Add(int32_t index, uint64_t n);
    // Adds every count of `other`.
    void Merge(const Store& other);
    bool empty() const { return size_ == 0; }
    // Heap bytes held.
    size_t HeapBytes() const { return size_t{size_} * sizeof(uint64_t); }
    // Lowest and highest index with a non-zero count. REQUIRES: !empty().
    int32_t MinIndex() const;
    int32_t MaxIndex() const;
    // Count of bucket `index` (0 outside the range).
    uint64_t Get(int32_t index) const;
    // Writes the non-zero range: first index, length, counts.
    void Serialize(ByteWriter& w) const;
    // Reads what Serialize wrote; false on malformed input. Returns the sum of
    // counts in *total (false on overflow).
    [[nodiscard]] bool Deserialize(ByteReader& r, uint64_t* total);
    bool operator==(const Store& other) const;

   private:
    // Makes the range cover [lo, hi], keeping counts, with slack for growth.
    void Grow(int32_t lo, int32_t hi);

    // size_ counts, counts_[i] for index offset_ + i. Growth leaves slack
    // (zero counts) at the growing end, so the ends of the range may be zero;
    // size_ == 0 (no allocation) exactly when every count is zero.
    std::unique_ptr<uint64_t[]> counts_;
    int32_t offset_ = 0;
    uint32_t size_ = 0;
  };

  Store positive_;
  Store negative_;  // indexed by |v|
  uint64_t zero_count_ = 0;
  uint64_t count_ = 0;
  double min_ = 0;  // meaningful only while count_ > 0
  double max_ = 0;
};

}  // namespace weir::engine
