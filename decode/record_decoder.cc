#include "decode/record_decoder.h"

#include <cassert>
#include <charconv>
#include <cstring>
#include <iterator>
#include <new>
#include <utility>

#include "common/rfc3339.h"

namespace weir::decode {

namespace {

using engine::DeadLetterReason;
using engine::FieldValue;
using engine::TimeEncoding;
using engine::ValueType;
using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr size_t kInitialCapacity = 4096;

// FNV-1a: field names are short, so a simple byte-wise hash is cheapest.
uint64_t HashName(std::string_view name) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The JSON type of `value`, as a noun phrase for error details.
const char* TypeName(element value) {
  switch (value.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a floating-point number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "an unknown JSON value";
}

// What the time field must hold under `encoding`, for error details.
const char* ExpectedTime(TimeEncoding encoding) {
  switch (encoding) {
    case TimeEncoding::kMillis: return "an integer (milliseconds since the Unix epoch)";
    case TimeEncoding::kSeconds: return "an integer (seconds since the Unix epoch)";
    case TimeEncoding::kMicros: return "an integer (microseconds since the Unix epoch)";
    case TimeEncoding::kRfc3339: return "an RFC 3339 string such as \"2024-01-31T12:34:56.789Z\"";
  }
  return "a time";
}

FieldValue ToFieldValue(element value) {
  FieldValue out;
  switch (value.type()) {
    case element_type::INT64:
      out.type = ValueType::kNumber;
      out.number = static_cast<double>(value.get_int64().value_unsafe());
      break;
    case element_type::UINT64:
      out.type = ValueType::kNumber;
      out.number = static_cast<double>(value.get_uint64().value_unsafe());
      break;
    case element_type::DOUBLE:
      out.type = ValueType::kNumber;
      out.number = value.get_double().value_unsafe();
      break;
    case element_type::STRING:
      out.type = ValueType::kString;
      out.text = value.get_string().value_unsafe();
      break;
    case element_type::BOOL:
      out.type = ValueType::kBool;
      out.boolean = value.get_bool().value_unsafe();
      break;
    case element_type::NULL_VALUE: out.type = ValueType::kNull; break;
    case element_type::ARRAY:
    case element_type::OBJECT: out.type = ValueType::kOther; break;
  }
  return out;
}

bool Fail(DecodeError* error, DeadLetterReason reason, std::string detail) {
  error->reason = reason;
  error->detail = std::move(detail);
  return false;
}

}  // namespace

RecordDecoder::RecordDecoder(std::shared_ptr<const engine::JobPlan> plan) : plan_(std::move(plan)) {
  assert(plan_ != nullptr);
  auto role_for = [this](const std::string& name) -> FieldRole& {
    for (FieldRole& r : roles_) {
      if (r.name == name) return r;
    }
    FieldRole role;
    role.name = name;
    roles_.push_back(std::move(role));
    return roles_.back();
  };
  role_for(plan_->key_field).is_key = true;
  role_for(plan_->time_field).is_time = true;
  for (size_t i = 0; i < plan_->fields.size(); ++i) role_for(plan_->fields[i]).slots.push_back(static_cast<int>(i));

  size_t size = 8;
  while (size < roles_.size() * 2) size *= 2;
  table_.assign(size, -1);
  table_mask_ = size - 1;
  for (size_t i = 0; i < roles_.size(); ++i) {
    uint64_t at = HashName(roles_[i].name) & table_mask_;
    while (table_[at] != -1) at = (at + 1) & table_mask_;
    table_[at] = static_cast<int>(i);
  }

  fields_.resize(plan_->fields.size());
  padded_.reset(new uint8_t[kInitialCapacity + simdjson::SIMDJSON_PADDING]);
  padded_capacity_ = kInitialCapacity;
}

RecordDecoder::FieldRole* RecordDecoder::Find(std::string_view name) {
  for (uint64_t at = HashName(name) & table_mask_;; at = (at + 1) & table_mask_) {
    const int i = table_[at];
    if (i == -1) return nullptr;
    if (roles_[i].name == name) return &roles_[i];
  }
}

bool RecordDecoder::ReadKey(element value, engine::Event* event, DecodeError* error) {
  switch (value.type()) {
    case element_type::STRING: event->key = value.get_string().value_unsafe(); return true;
    case element_type::INT64: {
      const auto [end, ec] = std::to_chars(key_digits_, std::end(key_digits_), value.get_int64().value_unsafe());
      assert(ec == std::errc() && "24 chars hold any 64-bit integer");
      (void)ec;
      event->key = std::string_view(key_digits_, end - key_digits_);
      return true;
    }
    case element_type::UINT64: {
      const auto [end, ec] = std::to_chars(key_digits_, std::end(key_digits_), value.get_uint64().value_unsafe());
      assert(ec == std::errc() && "24 chars hold any 64-bit integer");
      (void)ec;
      event->key = std::string_view(key_digits_, end - key_digits_);
      return true;
    }
    default:
      return Fail(error, DeadLetterReason::kBadType,
                  "key field \"" + plan_->key_field + "\" is " + TypeName(value) + ", expected a string or an integer");
  }
}

bool RecordDecoder::ReadTime(element value, engine::Event* event, DecodeError* error) const {
  const TimeEncoding encoding = plan_->time_encoding;
  const std::string& name = plan_->time_field;
  if (encoding == TimeEncoding::kRfc3339) {
    if (value.type() != element_type::STRING) {
      return Fail(error, DeadLetterReason::kBadType,
                  "time field \"" + name + "\" is " + TypeName(value) + ", expected " + ExpectedTime(encoding));
    }
    Result<int64_t> ms = ParseRfc3339Millis(value.get_string().value_unsafe());
    if (!ms.ok()) {
      return Fail(error, DeadLetterReason::kBadType, "time field \"" + name + "\": " + ms.status().message());
    }
    event->time = *ms;
    return true;
  }
  if (value.type() == element_type::UINT64) {  // simdjson uses UINT64 only above INT64_MAX
    return Fail(error, DeadLetterReason::kBadType,
                "time field \"" + name + "\" is " + std::to_string(value.get_uint64().value_unsafe()) +
                    ", too large for a time (expected " + ExpectedTime(encoding) + ")");
  }
  if (value.type() != element_type::INT64) {
    return Fail(error, DeadLetterReason::kBadType,
                "time field \"" + name + "\" is " + TypeName(value) + ", expected " + ExpectedTime(encoding));
  }
  const int64_t raw = value.get_int64().value_unsafe();
  switch (encoding) {
    case TimeEncoding::kMillis: event->time = raw; return true;
    case TimeEncoding::kSeconds:
      if (__builtin_mul_overflow(raw, int64_t{1000}, &event->time)) {
        return Fail(error, DeadLetterReason::kBadType,
                    "time field \"" + name + "\" is " + std::to_string(raw) +
                        " seconds, too large for a time in milliseconds (expected " + ExpectedTime(encoding) + ")");
      }
      return true;
    case TimeEncoding::kMicros: event->time = FloorDiv(raw, 1000); return true;
    case TimeEncoding::kRfc3339: break;  // handled above
  }
  return Fail(error, DeadLetterReason::kBadType, "time field \"" + name + "\" has an unknown time encoding");
}

bool RecordDecoder::Decode(std::string_view bytes, KafkaOffset offset, engine::Event* event, DecodeError* error) {
  ++record_seq_;
  if (bytes.size() > padded_capacity_) {
    // Grows geometrically so that a run of ever larger records reallocates rarely.
    size_t capacity = padded_capacity_;
    while (capacity < bytes.size()) capacity *= 2;
    uint8_t* grown = new (std::nothrow) uint8_t[capacity + simdjson::SIMDJSON_PADDING];
    if (grown == nullptr) {
      return Fail(error, DeadLetterReason::kDecode,
                  "record of " + std::to_string(bytes.size()) + " bytes is too large to buffer");
    }
    padded_.reset(grown);
    padded_capacity_ = capacity;
  }
  if (!bytes.empty()) std::memcpy(padded_.get(), bytes.data(), bytes.size());
  std::memset(padded_.get() + bytes.size(), 0, simdjson::SIMDJSON_PADDING);
  if (DecodeFast(bytes.size(), offset, event)) return true;
  ++record_seq_;  // the fast path may have marked fields seen

  element root;
  const simdjson::error_code parse_error = parser_.parse(padded_.get(), bytes.size(), false).get(root);
  if (parse_error == simdjson::EMPTY) {
    return Fail(error, DeadLetterReason::kDecode, "record is empty, expected a JSON object");
  }
  if (parse_error != simdjson::SUCCESS) {
    return Fail(error, DeadLetterReason::kDecode,
                std::string("record is not valid JSON (") + simdjson::error_message(parse_error) + ")");
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return Fail(error, DeadLetterReason::kDecode,
                std::string("record is ") + TypeName(root) + ", expected a JSON object");
  }

  for (FieldValue& f : fields_) f = FieldValue{};
  element key_value;
  element time_value;
  bool has_key = false;
  bool has_time = false;
  for (simdjson::dom::key_value_pair member : object) {
    FieldRole* role = Find(member.key);
    if (role == nullptr || role->seen_in == record_seq_) continue;  // not read, or a repeat: first wins
    role->seen_in = record_seq_;
    if (role->is_key) {
      key_value = member.value;
      has_key = true;
    }
    if (role->is_time) {
      time_value = member.value;
      has_time = true;
    }
    if (!role->slots.empty()) {
      const FieldValue v = ToFieldValue(member.value);
      for (int slot : role->slots) fields_[slot] = v;
    }
  }

  if (!has_key) {
    return Fail(error, DeadLetterReason::kMissingField, "key field \"" + plan_->key_field + "\" is missing");
  }
  if (!ReadKey(key_value, event, error)) return false;
  if (!has_time) {
    return Fail(error, DeadLetterReason::kMissingField, "time field \"" + plan_->time_field + "\" is missing");
  }
  if (!ReadTime(time_value, event, error)) return false;
  // The engine's window arithmetic needs headroom below and above a time;
  // +-2^53 ms is +-285,000 years.
  if (event->time < -kMaxAbsTime || event->time > kMaxAbsTime) {
    return Fail(error, DeadLetterReason::kBadType,
                "time field \"" + plan_->time_field + "\" is " + std::to_string(event->time) +
                    " ms, outside the supported range of +-2^53 ms around the Unix epoch");
  }
  event->offset = offset;
  event->fields = fields_.data();
  return true;
}

}  // namespace weir::decode
