#include "engine/ddsketch.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace weir::engine {
namespace {

constexpr double kAlpha = DDSketch::kRelativeAccuracy;
constexpr double kGamma = (1 + kAlpha) / (1 - kAlpha);

// ln(gamma) = ln((1+a)/(1-a)) = 2 atanh(a), by its power series (a is small,
// so 20 terms are far past double precision); constexpr so no static init.
constexpr double LogGamma() {
  double sum = 0;
  double term = kAlpha;
  for (int k = 1; k < 40; k += 2) {
    sum += term / k;
    term *= kAlpha * kAlpha;
  }
  return 2 * sum;
}
constexpr double kLogGamma = LogGamma();
constexpr double kInvLogGamma = 1 / kLogGamma;
// Bucket i covers (gamma^(i-1), gamma^i] and stands for 2 gamma^i / (gamma+1),
// whose relative distance to both ends is (gamma-1)/(gamma+1) = alpha.
constexpr double kBucketValueFactor = 2 / (kGamma + 1);
// |index| of any finite |v| >= kMinIndexableValue is below 71000; indices
// beyond this bound are malformed input.
constexpr int32_t kIndexLimit = 80000;
constexpr uint8_t kSerialVersion = 1;

int32_t IndexOf(double magnitude) { return static_cast<int32_t>(std::ceil(std::log(magnitude) * kInvLogGamma)); }

double ValueOf(int32_t index) { return std::exp(index * kLogGamma) * kBucketValueFactor; }

}  // namespace

// ---- Store ----

DDSketch::Store::Store(const Store& other) : offset_(other.offset_), size_(other.size_) {
  if (size_ > 0) {
    counts_ = std::make_unique<uint64_t[]>(size_);
    std::memcpy(counts_.get(), other.counts_.get(), size_t{size_} * sizeof(uint64_t));
  }
}

DDSketch::Store& DDSketch::Store::operator=(const Store& other) {
  if (this != &other) {
    Store copy(other);
    *this = std::move(copy);
  }
  return *this;
}

void DDSketch::Store::Grow(int32_t lo, int32_t hi) {
  int64_t new_lo = lo;
  int64_t new_hi = hi;
  if (size_ > 0) {
    const int64_t cur_lo = offset_;
    const int64_t cur_hi = int64_t{offset_} + size_ - 1;
    new_lo = std::min(new_lo, cur_lo);
    new_hi = std::max(new_hi, cur_hi);
    if (new_lo == cur_lo && new_hi == cur_hi) return;
    // Slack of 1/8 at the growing end keeps growth amortized O(1) per bucket
    // when values arrive in increasing or decreasing order.
    const int64_t extra = size_ / 8;
    if (new_lo < cur_lo) new_lo = std::max<int64_t>(new_lo - extra, -kIndexLimit);
    if (new_hi > cur_hi) new_hi = std::min<int64_t>(new_hi + extra, kIndexLimit);
  }
  const auto new_size = static_cast<uint32_t>(new_hi - new_lo + 1);
  auto grown = std::make_unique<uint64_t[]>(new_size);  // zeroed
  if (size_ > 0) {
    std::memcpy(grown.get() + (offset_ - new_lo), counts_.get(), size_t{size_} * sizeof(uint64_t));
  }
  counts_ = std::move(grown);
  offset_ = static_cast<int32_t>(new_lo);
  size_ = new_size;
}

void DDSketch::Store::Add(int32_t index, uint64_t n) {
  if (size_ == 0 || index < offset_ || int64_t{index} >= int64_t{offset_} + size_) Grow(index, index);
  counts_[index - offset_] += n;
}

void DDSketch::Store::Merge(const Store& other) {
  if (other.empty()) return;
  const int32_t lo = other.MinIndex();
  const int32_t hi = other.MaxIndex();
  Grow(lo, hi);
  for (int32_t i = lo; i <= hi; ++i) counts_[i - offset_] += other.counts_[i - other.offset_];
}

int32_t DDSketch::Store::MinIndex() const {
  uint32_t i = 0;
  while (counts_[i] == 0) ++i;  // some count is non-zero while size_ > 0
  return offset_ + static_cast<int32_t>(i);
}

int32_t DDSketch::Store::MaxIndex() const {
  uint32_t i = size_ - 1;
  while (counts_[i] == 0) --i;
  return offset_ + static_cast<int32_t>(i);
}

uint64_t DDSketch::Store::Get(int32_t index) const {
  if (size_ == 0 || index < offset_ || int64_t{index} >= int64_t{offset_} + size_) return 0;
  return counts_[index - offset_];
}

void DDSketch::Store::Serialize(ByteWriter& w) const {
  if (empty()) {
    w.PutVarint(0);
    return;
  }
  const int32_t lo = MinIndex();
  const int32_t hi = MaxIndex();
  w.PutVarint(static_cast<uint64_t>(int64_t{hi} - lo + 1));
  w.PutSignedVarint(lo);
  for (int32_t i = lo; i <= hi; ++i) w.PutVarint(counts_[i - offset_]);
}

bool DDSketch::Store::Deserialize(ByteReader& r, uint64_t* total) {
  *this = Store();
  *total = 0;
  const uint64_t n = r.GetVarint();
  if (!r.ok()) return false;
  if (n == 0) return true;
  // Each count takes at least one byte, which bounds the allocation by the input.
  if (n > 2 * uint64_t{kIndexLimit} + 1 || n > r.remaining()) return false;
  const int64_t lo = r.GetSignedVarint();
  if (!r.ok() || lo < -kIndexLimit || lo + static_cast<int64_t>(n) - 1 > kIndexLimit) return false;
  auto counts = std::make_unique<uint64_t[]>(n);
  uint64_t sum = 0;
  for (uint64_t i = 0; i < n; ++i) {
    counts[i] = r.GetVarint();
    if (!r.ok() || counts[i] > std::numeric_limits<uint64_t>::max() - sum) return false;
    sum += counts[i];
  }
  if (counts[0] == 0 || counts[n - 1] == 0) return false;  // Serialize trims zero ends
  counts_ = std::move(counts);
  offset_ = static_cast<int32_t>(lo);
  size_ = static_cast<uint32_t>(n);
  *total = sum;
  return true;
}

bool DDSketch::Store::operator==(const Store& other) const {
  if (empty() || other.empty()) return empty() == other.empty();
  const int32_t lo = MinIndex();
  const int32_t hi = MaxIndex();
  if (lo != other.MinIndex() || hi != other.MaxIndex()) return false;
  for (int32_t i = lo; i <= hi; ++i) {
    if (counts_[i - offset_] != other.counts_[i - other.offset_]) return false;
  }
  return true;
}

// ---- DDSketch ----

void DDSketch::Add(double v) {
  if (!std::isfinite(v)) return;
  if (count_ == 0) {
    min_ = v;
    max_ = v;
  } else {
    min_ = std::min(min_, v);
    max_ = std::max(max_, v);
  }
  ++count_;
  const double magnitude = std::fabs(v);
  if (magnitude < kMinIndexableValue) {
    ++zero_count_;
  } else if (v > 0) {
    positive_.Add(IndexOf(magnitude), 1);
  } else {
    negative_.Add(IndexOf(magnitude), 1);
  }
}

void DDSketch::Merge(const DDSketch& other) {
  if (other.count_ == 0) return;
  if (this == &other) {
    // Merging into itself reads what it writes: merge a copy.
    const DDSketch copy(other);  // NOLINT(performance-unnecessary-copy-initialization)
    Merge(copy);
    return;
  }
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  zero_count_ += other.zero_count_;
  positive_.Merge(other.positive_);
  negative_.Merge(other.negative_);
}

double DDSketch::Quantile(double q) const {
  if (count_ == 0) return std::numeric_limits<double>::quiet_NaN();
  if (!(q > 0)) q = 0;  // also maps NaN to 0
  if (q > 1) q = 1;
  const auto rank = static_cast<uint64_t>(std::floor(q * static_cast<double>(count_ - 1)));
  if (rank == 0) return min_;
  if (rank >= count_ - 1) return max_;
  // Walk buckets in increasing value order until more than `rank` values are
  // behind: negatives by decreasing magnitude, zeros, positives.
  uint64_t seen = 0;
  if (!negative_.empty()) {
    for (int32_t i = negative_.MaxIndex(), lo = negative_.MinIndex(); i >= lo; --i) {
      seen += negative_.Get(i);
      if (seen > rank) return std::clamp(-ValueOf(i), min_, max_);
    }
  }
  seen += zero_count_;
  if (seen > rank) return std::clamp(0.0, min_, max_);
  if (!positive_.empty()) {
    for (int32_t i = positive_.MinIndex(), hi = positive_.MaxIndex(); i <= hi; ++i) {
      seen += positive_.Get(i);
      if (seen > rank) return std::clamp(ValueOf(i), min_, max_);
    }
  }
  return max_;  // unreachable while the counts add up to count_
}

size_t DDSketch::MemoryBytes() const { return sizeof(*this) + positive_.HeapBytes() + negative_.HeapBytes(); }

void DDSketch::Serialize(ByteWriter& w) const {
  w.Put<uint8_t>(kSerialVersion);
  w.PutVarint(zero_count_);
  positive_.Serialize(w);
  negative_.Serialize(w);
  if (count_ > 0) {
    w.Put<double>(min_);
    w.Put<double>(max_);
  }
}

bool DDSketch::Deserialize(ByteReader& r, DDSketch* out) {
  DDSketch result;
  const auto version = r.Get<uint8_t>();
  if (!r.ok() || version != kSerialVersion) return false;
  result.zero_count_ = r.GetVarint();
  uint64_t positive_total = 0;
  uint64_t negative_total = 0;
  if (!r.ok() || !result.positive_.Deserialize(r, &positive_total) ||
      !result.negative_.Deserialize(r, &negative_total)) {
    return false;
  }
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  if (positive_total > kMax - negative_total || positive_total + negative_total > kMax - result.zero_count_) {
    return false;
  }
  result.count_ = positive_total + negative_total + result.zero_count_;
  if (result.count_ > 0) {
    result.min_ = r.Get<double>();
    result.max_ = r.Get<double>();
    if (!r.ok() || !std::isfinite(result.min_) || !std::isfinite(result.max_) || result.min_ > result.max_) {
      return false;
    }
    // min and max must lie in the lowest and the highest non-empty bucket.
    const double min_mag = std::fabs(result.min_);
    const double max_mag = std::fabs(result.max_);
    bool min_ok;
    if (!result.negative_.empty()) {
      min_ok = result.min_ < 0 && min_mag >= kMinIndexableValue && IndexOf(min_mag) == result.negative_.MaxIndex();
    } else if (result.zero_count_ > 0) {
      min_ok = min_mag < kMinIndexableValue;
    } else {
      min_ok = result.min_ > 0 && min_mag >= kMinIndexableValue && IndexOf(min_mag) == result.positive_.MinIndex();
    }
    bool max_ok;
    if (!result.positive_.empty()) {
      max_ok = result.max_ > 0 && max_mag >= kMinIndexableValue && IndexOf(max_mag) == result.positive_.MaxIndex();
    } else if (result.zero_count_ > 0) {
      max_ok = max_mag < kMinIndexableValue;
    } else {
      max_ok = result.max_ < 0 && max_mag >= kMinIndexableValue && IndexOf(max_mag) == result.negative_.MinIndex();
    }
    if (!min_ok || !max_ok) return false;
  }
  *out = std::move(result);
  return true;
}

bool DDSketch::operator==(const DDSketch& other) const {
  if (count_ != other.count_ || zero_count_ != other.zero_count_) return false;
  if (count_ > 0 && (min_ != other.min_ || max_ != other.max_)) return false;
  return positive_ == other.positive_ && negative_ == other.negative_;
}

}  // namespace weir::engine
