// The aggregate states. Each is a small value type with the same shape, so
// window operators are templates over it and the hot path has no virtual call:
//   static bool Usable(const FieldValue&)   can this field value be aggregated?
//   void Add(const FieldValue&, int64_t time, int64_t offset)
//   void Merge(const Agg&)                   combine two slices or sessions
//   RowValue Value(const FeaturePlan&) const the feature's value (REQUIRES: non-empty)
//   void Serialize(ByteWriter&) const / bool Deserialize(ByteReader&)
//   size_t HeapBytes() const                 bytes owned outside the object
// A default-constructed state is empty and merges as the identity.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include <xxhash.h>

#include "common/byte_codec.h"
#include "engine/ddsketch.h"
#include "engine/event.h"
#include "engine/hll.h"
#include "engine/plan.h"
#include "engine/row.h"

namespace weir::engine {

inline bool IsNumber(const FieldValue& v) { return v.type == ValueType::kNumber && std::isfinite(v.number); }

inline RowValue NumberValue(double d) { return RowValue{false, d, {}}; }

// The engine snapshot version from which sums carry their compensation and
// stddev its scale; older snapshots restore with both zero.
inline constexpr uint32_t kSnapshotWithCompensation = 2;

// A sum of doubles with Neumaier's compensation (Kahan-Babuska): `c` keeps
// the low-order bits each addition rounds away, so sums stay exact far longer
// than a plain running sum (1e16 + 1 - 1e16 is 1, not 0). Deterministic: the
// same additions in the same order give the same bits.
struct CompensatedSum {
  double sum = 0;
  double c = 0;

  void Add(double x) {
    const double t = sum + x;
    if (std::isfinite(t)) {
      c += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
    }
    sum = t;
  }
  void Merge(const CompensatedSum& o) {
    Add(o.sum);
    c += o.c;
  }
  // The best estimate; not finite once the true sum is beyond double's range.
  double Value() const { return std::isfinite(sum) ? sum + c : sum; }
  void Serialize(ByteWriter& w) const {
    w.Put(sum);
    w.Put(c);
  }
  void Deserialize(ByteReader& r) {
    sum = r.Get<double>();
    c = r.format_version() >= kSnapshotWithCompensation ? r.Get<double>() : 0.0;
  }
};

// count: events (with a field: events where that field is present and not null).
struct CountAgg {
  int64_t n = 0;
  static bool Usable(const FieldValue& v) { return v.type != ValueType::kMissing && v.type != ValueType::kNull; }
  void Add(const FieldValue&, int64_t, int64_t) { ++n; }
  void Merge(const CountAgg& o) { n += o.n; }
  RowValue Value(const FeaturePlan&) const { return NumberValue(static_cast<double>(n)); }
  void Serialize(ByteWriter& w) const { w.PutVarint(static_cast<uint64_t>(n)); }
  bool Deserialize(ByteReader& r) {
    n = static_cast<int64_t>(r.GetVarint());
    return r.ok();
  }
  size_t HeapBytes() const { return 0; }
};

struct SumAgg {
  CompensatedSum sum;
  static bool Usable(const FieldValue& v) { return IsNumber(v); }
  void Add(const FieldValue& v, int64_t, int64_t) { sum.Add(v.number); }
  void Merge(const SumAgg& o) { sum.Merge(o.sum); }
  RowValue Value(const FeaturePlan&) const { return NumberValue(sum.Value()); }
  void Serialize(ByteWriter& w) const { sum.Serialize(w); }
  bool Deserialize(ByteReader& r) {
    sum.Deserialize(r);
    return r.ok();
  }
  size_t HeapBytes() const { return 0; }
};

struct MinAgg {
  double min = std::numeric_limits<double>::infinity();
  static bool Usable(const FieldValue& v) { return IsNumber(v); }
  void Add(const FieldValue& v, int64_t, int64_t) { min = std::min(min, v.number); }
  void Merge(const MinAgg& o) { min = std::min(min, o.min); }
  RowValue Value(const FeaturePlan&) const { return NumberValue(min); }
  void Serialize(ByteWriter& w) const { w.Put(min); }
  bool Deserialize(ByteReader& r) {
    min = r.Get<double>();
    return r.ok();
  }
  size_t HeapBytes() const { return 0; }
};

struct MaxAgg {
  double max = -std::numeric_limits<double>::infinity();
  static bool Usable(const FieldValue& v) { return IsNumber(v); }
  void Add(const FieldValue& v, int64_t, int64_t) { max = std::max(max, v.number); }
  void Merge(const MaxAgg& o) { max = std::max(max, o.max); }
  RowValue Value(const FeaturePlan&) const { return NumberValue(max); }
  void Serialize(ByteWriter& w) const { w.Put(max); }
  bool Deserialize(ByteReader& r) {
    max = r.Get<double>();
    return r.ok();
  }
  size_t HeapBytes() const { return 0; }
};

struct AvgAgg {
  CompensatedSum sum;
  int64_t n = 0;
  static bool Usable(const FieldValue& v) { return IsNumber(v); }
  void Add(const FieldValue& v, int64_t, int64_t) {
    sum.Add(v.number);
    ++n;
  }
  void Merge(const AvgAgg& o) {
    sum.Merge(o.sum);
    n += o.n;
  }
  RowValue Value(const FeaturePlan&) const { return NumberValue(sum.Value() / static_cast<double>(n)); }
  void Serialize(ByteWriter& w) const {
    sum.Serialize(w);
    w.PutVarint(static_cast<uint64_t>(n));
  }
  bool Deserialize(ByteReader& r) {
    sum.Deserialize(r);
    n = static_cast<int64_t>(r.GetVarint());
    return r.ok();
  }
  size_t HeapBytes() const { return 0; }
};

// Population standard deviation; Welford's update and Chan's parallel merge,
// which stay accurate where sum-of-squares would cancel. The state is kept
// for the values scaled by 2^-shift: shift is 0 until a value beyond 2^480
// arrives, then kScaledShift, so that deviations between values near
// double's limit (1e308 and -1e308) neither overflow nor cancel to 0.
struct StddevAgg {
  static constexpr int kScaledShift = 540;
  static constexpr double kScaleAbove = 0x1p480;

  int64_t n = 0;
  double mean = 0;
  double m2 = 0;
  int32_t shift = 0;

  static bool Usable(const FieldValue& v) { return IsNumber(v); }
  void Add(const FieldValue& v, int64_t, int64_t) {
    if (shift == 0 && std::fabs(v.number) > kScaleAbove) Rescale(kScaledShift);
    const double x = std::ldexp(v.number, -shift);
    ++n;
    double delta = x - mean;
    mean += delta / static_cast<double>(n);
    m2 += delta * (x - mean);
  }
  void Merge(const StddevAgg& o) {
    if (o.n == 0) return;
    if (n == 0) {
      *this = o;
      return;
    }
    StddevAgg other = o;
    if (other.shift > shift) Rescale(other.shift);
    if (shift > other.shift) other.Rescale(shift);
    double total = static_cast<double>(n + other.n);
    double delta = other.mean - mean;
    mean += delta * static_cast<double>(other.n) / total;
    m2 += other.m2 + delta * delta * static_cast<double>(n) * static_cast<double>(other.n) / total;
    n += other.n;
  }
  RowValue Value(const FeaturePlan&) const {
    return NumberValue(std::ldexp(std::sqrt(std::max(0.0, m2 / static_cast<double>(n))), shift));
  }
  void Serialize(ByteWriter& w) const {
    w.PutVarint(static_cast<uint64_t>(n));
    w.Put(mean);
    w.Put(m2);
    w.Put<uint8_t>(shift == 0 ? 0 : 1);
  }
  bool Deserialize(ByteReader& r) {
    n = static_cast<int64_t>(r.GetVarint());
    mean = r.Get<double>();
    m2 = r.Get<double>();
    shift = r.format_version() >= kSnapshotWithCompensation && r.Get<uint8_t>() != 0 ? kScaledShift : 0;
    return r.ok();
  }
  size_t HeapBytes() const { return 0; }

 private:
  // Re-expresses the state for values scaled by 2^-to (to > shift). Tiny
  // values lose low bits (or vanish) next to the huge ones that caused this,
  // which is all a double could have kept of them anyway.
  void Rescale(int32_t to) {
    const int d = to - shift;
    mean = std::ldexp(mean, -d);
    m2 = std::ldexp(m2, -2 * d);
    shift = to;
  }
};

// last: the value of the event with the greatest event time; ties go to the
// later offset. Numbers and strings.
struct LastAgg {
  int64_t time = std::numeric_limits<int64_t>::min();
  int64_t offset = -1;
  bool is_text = false;
  double number = 0;
  std::string text;

  static bool Usable(const FieldValue& v) { return IsNumber(v) || v.type == ValueType::kString; }
  void Add(const FieldValue& v, int64_t t, int64_t off) {
    if (t < time || (t == time && off < offset)) return;
    time = t;
    offset = off;
    is_text = v.type == ValueType::kString;
    if (is_text) {
      text.assign(v.text);
    } else {
      number = v.number;
      text.clear();
    }
  }
  void Merge(const LastAgg& o) {
    if (o.offset < 0) return;
    if (o.time > time || (o.time == time && o.offset > offset)) *this = o;
  }
  RowValue Value(const FeaturePlan&) const { return is_text ? RowValue{true, 0, text} : NumberValue(number); }
  void Serialize(ByteWriter& w) const {
    w.PutSignedVarint(time);
    w.PutSignedVarint(offset);
    w.Put<uint8_t>(is_text ? 1 : 0);
    if (is_text) {
      w.PutString(text);
    } else {
      w.Put(number);
    }
  }
  bool Deserialize(ByteReader& r) {
    time = r.GetSignedVarint();
    offset = r.GetSignedVarint();
    is_text = r.Get<uint8_t>() != 0;
    if (is_text) {
      text.assign(r.GetString());
    } else {
      number = r.Get<double>();
    }
    return r.ok();
  }
  size_t HeapBytes() const { return text.capacity() > 15 ? text.capacity() : 0; }
};

// The 64-bit hash count_distinct sketches: numbers by value (so 5 and 5.0 are
// one value), strings by bytes, with different seeds so "5" and 5 differ.
inline uint64_t DistinctHash(const FieldValue& v) {
  if (v.type == ValueType::kString) return XXH3_64bits_withSeed(v.text.data(), v.text.size(), 0x5eed'0002);
  double d = v.number == 0 ? 0.0 : v.number;  // -0 and +0 are one value
  uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof(bits));
  return XXH3_64bits_withSeed(&bits, sizeof(bits), 0x5eed'0001);
}

// count_distinct: approximate, HyperLogLog (within 2%).
struct CountDistinctAgg {
  HyperLogLog hll;
  static bool Usable(const FieldValue& v) { return IsNumber(v) || v.type == ValueType::kString; }
  void Add(const FieldValue& v, int64_t, int64_t) { hll.AddHash(DistinctHash(v)); }
  void Merge(const CountDistinctAgg& o) { hll.Merge(o.hll); }
  RowValue Value(const FeaturePlan&) const { return NumberValue(std::round(hll.Estimate())); }
  void Serialize(ByteWriter& w) const { hll.Serialize(w); }
  bool Deserialize(ByteReader& r) { return HyperLogLog::Deserialize(r, &hll) && r.ok(); }
  size_t HeapBytes() const { return hll.MemoryBytes() - sizeof(HyperLogLog); }
};

// percentile: approximate, DDSketch (within 1% of the value).
struct PercentileAgg {
  DDSketch sketch;
  static bool Usable(const FieldValue& v) { return IsNumber(v); }
  void Add(const FieldValue& v, int64_t, int64_t) { sketch.Add(v.number); }
  void Merge(const PercentileAgg& o) { sketch.Merge(o.sketch); }
  RowValue Value(const FeaturePlan& f) const { return NumberValue(sketch.Quantile(f.p)); }
  void Serialize(ByteWriter& w) const { sketch.Serialize(w); }
  bool Deserialize(ByteReader& r) { return DDSketch::Deserialize(r, &sketch) && r.ok(); }
  size_t HeapBytes() const { return sketch.MemoryBytes() - sizeof(DDSketch); }
};

}  // namespace weir::engine
