// RecordDecoder's fast path: a scanner for the common record shape, a flat
// JSON object of ASCII names and values (strings without escapes, numbers,
// true, false, null). It accepts only input that simdjson accepts too and
// yields exactly what the DOM path yields for it; anything else (an escape, a
// byte >= 0x80, a nested value, a number it cannot convert exactly, a key or
// time of the wrong type, any syntax error) makes it give up, and Decode
// runs the simdjson path, which decides — so dead letters and their details
// never depend on this file.
#include <charconv>
#include <cstring>
#include <iterator>

#include "decode/record_decoder.h"

namespace weir::decode {
namespace {

using engine::FieldValue;
using engine::TimeEncoding;
using engine::ValueType;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Where a value may end: whitespace, a comma or the closing brace.
bool EndsValue(char c) { return IsSpace(c) || c == ',' || c == '}'; }

// A scalar value as scanned: a string (no escapes), a number, or a literal.
struct Scanned {
  ValueType type = ValueType::kMissing;
  bool boolean = false;
  bool is_integer = false;
  int64_t integer = 0;
  double number = 0;
  std::string_view text;
};

class Scanner {
 public:
  Scanner(const char* p, const char* end) : p_(p), end_(end) {}

  void SkipSpace() {
    while (p_ < end_ && IsSpace(*p_)) ++p_;
  }
  bool Consume(char c) {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool AtEnd() const { return p_ == end_; }

  // A string of printable ASCII without escapes; the opening quote is next.
  bool String(std::string_view* out) {
    if (!Consume('"')) return false;
    const char* start = p_;
    while (p_ < end_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        *out = std::string_view(start, static_cast<size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c < 0x20 || c >= 0x80 || c == '\\') return false;
      ++p_;
    }
    return false;
  }

  bool Value(Scanned* v) {
    if (p_ >= end_) return false;
    switch (*p_) {
      case '"': v->type = ValueType::kString; return String(&v->text);
      case 't': return Literal("true", ValueType::kBool, true, v);
      case 'f': return Literal("false", ValueType::kBool, false, v);
      case 'n': return Literal("null", ValueType::kNull, false, v);
      default: return Number(v);
    }
  }

 private:
  bool Literal(std::string_view word, ValueType type, bool boolean, Scanned* v) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0) return false;
    p_ += word.size();
    if (p_ < end_ && !EndsValue(*p_)) return false;
    v->type = type;
    v->boolean = boolean;
    return true;
  }

  // JSON's number grammar. Integers of up to 18 digits are exact int64s (as
  // simdjson's INT64); other numbers go through from_chars, correctly rounded
  // like simdjson's, and are refused when out of double's range. "-0" is left
  // to simdjson.
  bool Number(Scanned* v) {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    const char* digits = p_;
    if (p_ < end_ && *p_ == '0') {
      ++p_;
    } else {
      if (p_ >= end_ || *p_ < '1' || *p_ > '9') return false;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    const size_t int_digits = static_cast<size_t>(p_ - digits);
    bool integer = true;
    if (p_ < end_ && *p_ == '.') {
      integer = false;
      ++p_;
      const char* frac = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      if (p_ == frac) return false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      const char* exp = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      if (p_ == exp) return false;
    }
    if (p_ < end_ && !EndsValue(*p_)) return false;
    v->type = ValueType::kNumber;
    if (integer) {
      if (int_digits > 18) return false;
      int64_t n = 0;
      for (const char* d = digits; d < p_; ++d) n = n * 10 + (*d - '0');
      if (*start == '-') {
        if (n == 0) return false;
        n = -n;
      }
      v->is_integer = true;
      v->integer = n;
      v->number = static_cast<double>(n);
      return true;
    }
    const auto [ptr, ec] = std::from_chars(start, p_, v->number);
    return ec == std::errc() && ptr == p_;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

bool RecordDecoder::DecodeFast(size_t size, KafkaOffset offset, engine::Event* event) {
  const TimeEncoding encoding = plan_->time_encoding;
  if (encoding == TimeEncoding::kRfc3339) return false;
  const char* begin = reinterpret_cast<const char*>(padded_.get());
  Scanner s(begin, begin + size);
  for (FieldValue& f : fields_) f = FieldValue{};
  Scanned key;
  Scanned time;
  s.SkipSpace();
  if (!s.Consume('{')) return false;
  s.SkipSpace();
  if (!s.Consume('}')) {
    for (;;) {
      std::string_view name;
      if (!s.String(&name)) return false;
      s.SkipSpace();
      if (!s.Consume(':')) return false;
      s.SkipSpace();
      Scanned v;
      if (!s.Value(&v)) return false;
      FieldRole* role = Find(name);
      if (role != nullptr && role->seen_in != record_seq_) {  // read, and the first of its name
        role->seen_in = record_seq_;
        if (role->is_key) key = v;
        if (role->is_time) time = v;
        if (!role->slots.empty()) {
          FieldValue f;
          f.type = v.type;
          f.boolean = v.boolean;
          f.number = v.number;
          f.text = v.text;
          for (int slot : role->slots) fields_[slot] = f;
        }
      }
      s.SkipSpace();
      if (s.Consume('}')) break;
      if (!s.Consume(',')) return false;
      s.SkipSpace();
    }
  }
  s.SkipSpace();
  if (!s.AtEnd()) return false;

  if (key.type == ValueType::kString) {
    event->key = key.text;
  } else if (key.type == ValueType::kNumber && key.is_integer) {
    const auto [end, ec] = std::to_chars(key_digits_, std::end(key_digits_), key.integer);
    if (ec != std::errc()) return false;
    event->key = std::string_view(key_digits_, static_cast<size_t>(end - key_digits_));
  } else {
    return false;
  }
  if (time.type != ValueType::kNumber || !time.is_integer) return false;
  switch (encoding) {
    case TimeEncoding::kMillis: event->time = time.integer; break;
    case TimeEncoding::kSeconds:
      if (__builtin_mul_overflow(time.integer, int64_t{1000}, &event->time)) return false;
      break;
    case TimeEncoding::kMicros: event->time = FloorDiv(time.integer, 1000); break;
    case TimeEncoding::kRfc3339: return false;
  }
  if (event->time < -kMaxAbsTime || event->time > kMaxAbsTime) return false;
  event->offset = offset;
  event->fields = fields_.data();
  return true;
}

}  // namespace weir::decode
