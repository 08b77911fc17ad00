// Little-endian binary encoding for snapshots: a writer that appends to a
// string, and a reader that never reads past its input and reports truncation.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace weir {

// Appends fixed-width little-endian integers, doubles, varints and
// length-prefixed strings to a byte string it owns.
class ByteWriter {
 public:
  template <typename T>
  requires std::is_arithmetic_v<T>
  void Put(T v) {
    char buf[sizeof(T)];
    std::memcpy(buf, &v, sizeof(T));  // x86-64 and arm64 are little-endian
    out_.append(buf, sizeof(T));
  }
  void PutVarint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  // Zig-zag encoded signed varint.
  void PutSignedVarint(int64_t v) { PutVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void PutString(std::string_view s) {
    PutVarint(s.size());
    out_.append(s);
  }
  void PutRaw(std::string_view s) { out_.append(s); }

  std::string& bytes() { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what ByteWriter wrote. After any read past the end, ok() is false and
// every further read returns zero values; callers check ok() once at the end.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  // The format version of what is being read, set by whoever read the header
  // (the engine's snapshot version), so that value types can read older
  // layouts of themselves. 0 until set.
  uint32_t format_version() const { return format_version_; }
  void set_format_version(uint32_t v) { format_version_ = v; }

  template <typename T>
  requires std::is_arithmetic_v<T> T Get() {
    T v{};
    if (!Need(sizeof(T))) return v;
    std::memcpy(&v, in_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  uint64_t GetVarint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!Need(1)) return 0;
      auto b = static_cast<uint8_t>(in_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    ok_ = false;
    return 0;
  }
  int64_t GetSignedVarint() {
    uint64_t u = GetVarint();
    return static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
  }
  std::string_view GetString() {
    uint64_t n = GetVarint();
    if (!Need(n)) return {};
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view GetRaw(size_t n) {
    if (!Need(n)) return {};
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  // Marks the input as malformed (a value out of its allowed range).
  void Fail() { ok_ = false; }

  bool ok() const { return ok_; }
  bool done() const { return pos_ == in_.size(); }
  size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }

 private:
  bool Need(uint64_t n) {
    if (!ok_ || in_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }

  std::string_view in_;
  uint32_t format_version_ = 0;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace weir
