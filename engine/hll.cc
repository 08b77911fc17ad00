#include "engine/hll.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace weir::engine {
namespace {

// A sparse token is (25-bit hash prefix << 6) | rank, where rank in [1, 40] is
// 1 + the number of leading zeros of the remaining 39 hash bits (40 if all zero).
constexpr int kSparseRankBits = 6;
constexpr int kSparseRemainderBits = 64 - HyperLogLog::kSparsePrecision;                   // 39
constexpr int kSparseMaxRank = kSparseRemainderBits + 1;                                   // 40
constexpr int kPrefixExtraBits = HyperLogLog::kSparsePrecision - HyperLogLog::kPrecision;  // 11
constexpr uint32_t kSparsePrefixLimit = uint32_t{1} << HyperLogLog::kSparsePrecision;
constexpr uint8_t kSerialVersion = 1;
constexpr uint8_t kModeSparse = 0;
constexpr uint8_t kModeDense = 1;
constexpr size_t kPackedDenseBytes = HyperLogLog::kNumRegisters / 4 * 3;  // 6 bits per register

uint32_t MakeToken(uint64_t hash) {
  const auto prefix = static_cast<uint32_t>(hash >> kSparseRemainderBits);
  const uint64_t rest = hash & ((uint64_t{1} << kSparseRemainderBits) - 1);
  const int rank = rest == 0 ? kSparseMaxRank : std::countl_zero(rest) - HyperLogLog::kSparsePrecision + 1;
  return (prefix << kSparseRankBits) | static_cast<uint32_t>(rank);
}

uint32_t TokenPrefix(uint32_t token) { return token >> kSparseRankBits; }
int TokenRank(uint32_t token) { return static_cast<int>(token & ((1u << kSparseRankBits) - 1)); }

// sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), from Ertl (2017); +inf at x == 1.
double Sigma(double x) {
  if (x == 1.0) return std::numeric_limits<double>::infinity();
  double y = 1.0;
  double z = x;
  double z_prev;
  do {
    x *= x;
    z_prev = z;
    z += x * y;
    y += y;
  } while (z != z_prev);
  return z;
}

// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, from Ertl (2017).
double Tau(double x) {
  if (x == 0.0 || x == 1.0) return 0.0;
  double y = 1.0;
  double z = 1.0 - x;
  double z_prev;
  do {
    x = std::sqrt(x);
    z_prev = z;
    y *= 0.5;
    z -= (1.0 - x) * (1.0 - x) * y;
  } while (z != z_prev);
  return z / 3.0;
}

// Ertl's improved raw estimator for m registers of q+1-bit-wide ranks, given
// the register histogram hist[0..q+1].
double ErtlEstimate(const uint32_t* hist, int q, double m) {
  double z = m * Tau(1.0 - hist[q + 1] / m);
  for (int k = q; k >= 1; --k) z = 0.5 * (z + hist[k]);
  z += m * Sigma(hist[0] / m);
  return m * m / (2.0 * std::log(2.0) * z);
}

}  // namespace

HyperLogLog::HyperLogLog(const HyperLogLog& other) : sparse_(other.sparse_) {
  if (other.dense_ != nullptr) {
    dense_ = std::make_unique<uint8_t[]>(kNumRegisters);
    std::memcpy(dense_.get(), other.dense_.get(), kNumRegisters);
  }
}

HyperLogLog& HyperLogLog::operator=(const HyperLogLog& other) {
  if (this != &other) {
    HyperLogLog copy(other);
    *this = std::move(copy);
  }
  return *this;
}

void HyperLogLog::AddTokenToDense(uint32_t token) {
  const uint32_t prefix = TokenPrefix(token);
  const uint32_t index = prefix >> kPrefixExtraBits;
  const uint32_t extra = prefix & ((1u << kPrefixExtraBits) - 1);
  // The precision-14 rank counts leading zeros of the 50 bits after the index:
  // the 11 extra prefix bits first, then the 39 bits the token's rank covers.
  const int rank =
      extra != 0 ? std::countl_zero(extra) - (32 - kPrefixExtraBits) + 1 : kPrefixExtraBits + TokenRank(token);
  uint8_t& reg = dense_[index];
  if (rank > reg) reg = static_cast<uint8_t>(rank);
}

void HyperLogLog::ConvertToDense() {
  dense_ = std::make_unique<uint8_t[]>(kNumRegisters);  // value-initialized: all zero
  for (uint32_t token : sparse_) AddTokenToDense(token);
  std::vector<uint32_t>().swap(sparse_);  // release the heap block
}

void HyperLogLog::AddHash(uint64_t hash) {
  const uint32_t token = MakeToken(hash);
  if (dense_ != nullptr) {
    AddTokenToDense(token);
    return;
  }
  const uint32_t prefix_key = TokenPrefix(token) << kSparseRankBits;
  auto it = std::lower_bound(sparse_.begin(), sparse_.end(), prefix_key);
  if (it != sparse_.end() && TokenPrefix(*it) == TokenPrefix(token)) {
    if (token > *it) *it = token;  // same prefix: the larger token has the larger rank
    return;
  }
  if (sparse_.size() >= kMaxSparseEntries) {
    ConvertToDense();
    AddTokenToDense(token);
    return;
  }
  sparse_.insert(it, token);
}

void HyperLogLog::Merge(const HyperLogLog& other) {
  if (this == &other) return;  // union with itself
  if (other.dense_ != nullptr) {
    if (dense_ == nullptr) ConvertToDense();
    uint8_t* mine = dense_.get();
    const uint8_t* theirs = other.dense_.get();
    for (size_t i = 0; i < kNumRegisters; ++i) mine[i] = std::max(mine[i], theirs[i]);
    return;
  }
  if (dense_ != nullptr) {
    for (uint32_t token : other.sparse_) AddTokenToDense(token);
    return;
  }
  if (other.sparse_.empty()) return;
  // Both sparse: a sorted union that keeps the larger rank per prefix. Count
  // first so the result is allocated once at its exact size.
  const std::vector<uint32_t>& a = sparse_;
  const std::vector<uint32_t>& b = other.sparse_;
  size_t merged_size = 0;
  for (size_t i = 0, j = 0; i < a.size() || j < b.size(); ++merged_size) {
    if (j == b.size() || (i < a.size() && TokenPrefix(a[i]) < TokenPrefix(b[j]))) {
      ++i;
    } else if (i == a.size() || TokenPrefix(b[j]) < TokenPrefix(a[i])) {
      ++j;
    } else {
      ++i;
      ++j;
    }
  }
  if (merged_size > kMaxSparseEntries) {
    ConvertToDense();
    for (uint32_t token : b) AddTokenToDense(token);
    return;
  }
  if (merged_size == a.size()) {
    // Every prefix of b is already present: update ranks in place.
    size_t i = 0;
    for (uint32_t token : b) {
      while (TokenPrefix(sparse_[i]) < TokenPrefix(token)) ++i;
      sparse_[i] = std::max(sparse_[i], token);
    }
    return;
  }
  std::vector<uint32_t> merged;
  merged.reserve(merged_size);
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && TokenPrefix(a[i]) < TokenPrefix(b[j]))) {
      merged.push_back(a[i++]);
    } else if (i == a.size() || TokenPrefix(b[j]) < TokenPrefix(a[i])) {
      merged.push_back(b[j++]);
    } else {
      merged.push_back(std::max(a[i++], b[j++]));
    }
  }
  sparse_ = std::move(merged);
}

double HyperLogLog::Estimate() const {
  if (dense_ == nullptr) {
    // A precision-25 HyperLogLog whose absent registers are zero.
    constexpr int kQ = kSparseRemainderBits;  // 39
    std::array<uint32_t, kQ + 2> hist{};
    hist[0] = kSparsePrefixLimit - static_cast<uint32_t>(sparse_.size());
    for (uint32_t token : sparse_) ++hist[TokenRank(token)];
    return ErtlEstimate(hist.data(), kQ, static_cast<double>(kSparsePrefixLimit));
  }
  constexpr int kQ = 64 - kPrecision;  // 50
  std::array<uint32_t, kQ + 2> hist{};
  for (size_t i = 0; i < kNumRegisters; ++i) ++hist[dense_[i]];
  return ErtlEstimate(hist.data(), kQ, static_cast<double>(kNumRegisters));
}

size_t HyperLogLog::MemoryBytes() const {
  return sizeof(*this) + sparse_.capacity() * sizeof(uint32_t) + (dense_ != nullptr ? kNumRegisters : 0);
}

void HyperLogLog::Serialize(ByteWriter& w) const {
  w.Put<uint8_t>(kSerialVersion);
  if (dense_ == nullptr) {
    w.Put<uint8_t>(kModeSparse);
    w.PutVarint(sparse_.size());
    uint32_t prev = 0;
    for (uint32_t token : sparse_) {
      w.PutVarint(token - prev);
      prev = token;
    }
    return;
  }
  w.Put<uint8_t>(kModeDense);
  std::string packed(kPackedDenseBytes, '\0');
  for (size_t i = 0, o = 0; i < kNumRegisters; i += 4, o += 3) {
    const uint32_t v = uint32_t{dense_[i]} | (uint32_t{dense_[i + 1]} << 6) | (uint32_t{dense_[i + 2]} << 12) |
                       (uint32_t{dense_[i + 3]} << 18);
    packed[o] = static_cast<char>(v & 0xff);
    packed[o + 1] = static_cast<char>((v >> 8) & 0xff);
    packed[o + 2] = static_cast<char>((v >> 16) & 0xff);
  }
  w.PutRaw(packed);
}

bool HyperLogLog::Deserialize(ByteReader& r, HyperLogLog* out) {
  HyperLogLog result;
  const auto version = r.Get<uint8_t>();
  const auto mode = r.Get<uint8_t>();
  if (!r.ok() || version != kSerialVersion) return false;
  if (mode == kModeSparse) {
    const uint64_t n = r.GetVarint();
    if (!r.ok() || n > kMaxSparseEntries || n > r.remaining()) return false;
    result.sparse_.reserve(n);
    uint64_t prev = 0;
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t delta = r.GetVarint();
      if (!r.ok() || delta == 0 || delta >= (uint64_t{kSparsePrefixLimit} << kSparseRankBits)) return false;
      const uint64_t token = prev + delta;
      if (token >= (uint64_t{kSparsePrefixLimit} << kSparseRankBits)) return false;
      const auto t = static_cast<uint32_t>(token);
      const int rank = TokenRank(t);
      if (rank < 1 || rank > kSparseMaxRank) return false;
      if (i > 0 && TokenPrefix(t) == TokenPrefix(static_cast<uint32_t>(prev))) return false;  // one token per prefix
      result.sparse_.push_back(t);
      prev = token;
    }
  } else if (mode == kModeDense) {
    const std::string_view packed = r.GetRaw(kPackedDenseBytes);
    if (!r.ok()) return false;
    result.dense_ = std::make_unique<uint8_t[]>(kNumRegisters);
    for (size_t i = 0, o = 0; i < kNumRegisters; i += 4, o += 3) {
      const uint32_t v = uint32_t{static_cast<uint8_t>(packed[o])} |
                         (uint32_t{static_cast<uint8_t>(packed[o + 1])} << 8) |
                         (uint32_t{static_cast<uint8_t>(packed[o + 2])} << 16);
      for (size_t k = 0; k < 4; ++k) {
        const auto reg = static_cast<uint8_t>((v >> (6 * k)) & 0x3f);
        if (reg > kMaxRank) return false;
        result.dense_[i + k] = reg;
      }
    }
  } else {
    return false;
  }
  *out = std::move(result);
  return true;
}

bool HyperLogLog::operator==(const HyperLogLog& other) const {
  if ((dense_ == nullptr) != (other.dense_ == nullptr)) return false;
  if (dense_ == nullptr) return sparse_ == other.sparse_;
  return std::memcmp(dense_.get(), other.dense_.get(), kNumRegisters) == 0;
}

}  // namespace weir::engine
