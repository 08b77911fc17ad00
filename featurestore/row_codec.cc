#include "featurestore/row_codec.h"

#include <algorithm>
#include <cstring>

namespace weir::featurestore {
namespace {

using weir::v1::FeatureRow;

constexpr char kCompactValue = 0x01;    // without available_at (taken as window_end)
constexpr char kAvailableValue = 0x02;  // with available_at
constexpr char kKindNone = 0;
constexpr char kKindNumber = 1;
constexpr char kKindText = 2;

void AppendVarint(std::string* out, uint64_t n) {
  while (n >= 0x80) {
    out->push_back(static_cast<char>(n | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
}

bool ReadVarint(std::string_view s, size_t* at, uint64_t* n) {
  *n = 0;
  for (int shift = 0; shift < 64 && *at < s.size(); shift += 7) {
    const auto b = static_cast<uint8_t>(s[(*at)++]);
    *n |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

uint64_t ReadBigEndian(std::string_view s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

}  // namespace

bool ReadComponent(std::string_view s, size_t* at, std::string_view* out) {
  uint64_t n = 0;
  if (!ReadVarint(s, at, &n) || n > s.size() - *at) return false;
  *out = s.substr(*at, n);
  *at += n;
  return true;
}

void AppendComponent(std::string* out, std::string_view s) {
  AppendVarint(out, s.size());
  out->append(s);
}

void AppendBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Sign bit flipped so negative times order too, then inverted: descending.
uint64_t DescendingTime(int64_t t) { return ~(static_cast<uint64_t>(t) ^ (uint64_t{1} << 63)); }

void AppendFeaturePrefix(std::string* out, std::string_view view, std::string_view key, std::string_view feature) {
  out->push_back(kRowTag);
  AppendComponent(out, view);
  AppendComponent(out, key);
  AppendComponent(out, feature);
}

void AppendRowKey(std::string* out, const FeatureRow& row) {
  AppendFeaturePrefix(out, row.view(), row.key(), row.feature());
  AppendBigEndian(out, DescendingTime(row.window_end()), 8);
  AppendBigEndian(out, ~static_cast<uint32_t>(row.revision()), 4);
}

namespace {
uint64_t ZigZag(int64_t a, int64_t b) {  // a - b, wrapping, zigzag-encoded
  const uint64_t d = static_cast<uint64_t>(a) - static_cast<uint64_t>(b);
  return (d << 1) ^ static_cast<uint64_t>(static_cast<int64_t>(d) >> 63);
}
int64_t UnZigZag(int64_t base, uint64_t zigzag) {  // base + the difference
  const uint64_t d = (zigzag >> 1) ^ (~(zigzag & 1) + 1);
  return static_cast<int64_t>(static_cast<uint64_t>(base) + d);
}
}  // namespace

void AppendRowValue(std::string* out, const FeatureRow& row) {
  out->push_back(kAvailableValue);
  const uint64_t zigzag = ZigZag(row.window_end(), row.window_start());
  // Rows that lack it (imports of old exports) are available at their end.
  const uint64_t available = ZigZag(row.has_available_at() ? row.available_at() : row.window_end(), row.window_end());
  switch (row.value().kind_case()) {
    case weir::v1::FeatureValue::kNumber: {
      out->push_back(kKindNumber);
      AppendVarint(out, zigzag);
      AppendVarint(out, available);
      const double number = row.value().number();
      char bytes[sizeof number];
      std::memcpy(bytes, &number, sizeof number);
      if constexpr (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) std::reverse(bytes, bytes + sizeof bytes);
      out->append(bytes, sizeof bytes);
      break;
    }
    case weir::v1::FeatureValue::kText:
      out->push_back(kKindText);
      AppendVarint(out, zigzag);
      AppendVarint(out, available);
      out->append(row.value().text());
      break;
    default:
      out->push_back(kKindNone);
      AppendVarint(out, zigzag);
      AppendVarint(out, available);
      break;
  }
}

int64_t RowKeyWindowEnd(std::string_view key) {
  return static_cast<int64_t>(~ReadBigEndian(key, key.size() - kRowKeySuffixBytes, 8) ^ (uint64_t{1} << 63));
}

bool RowKeyFeature(std::string_view key, std::string_view* feature) {
  size_t at = 1;
  std::string_view view, k;
  return !key.empty() && key[0] == kRowTag && ReadComponent(key, &at, &view) && ReadComponent(key, &at, &k) &&
         ReadComponent(key, &at, feature) && key.size() - at == kRowKeySuffixBytes;
}

int64_t RowAvailableAt(std::string_view key, std::string_view value) {
  const int64_t window_end = RowKeyWindowEnd(key);
  if (value.size() < 2 || value[0] != kAvailableValue) return window_end;
  size_t at = 2;
  uint64_t n = 0;
  if (!ReadVarint(value, &at, &n) || !ReadVarint(value, &at, &n)) return window_end;
  return UnZigZag(window_end, n);
}

bool DecodeRow(std::string_view key, std::string_view value, FeatureRow* row) {
  row->Clear();
  if (value.empty()) return false;
  if (value[0] != kCompactValue && value[0] != kAvailableValue) {  // a protobuf, from before the compact form
    if (!row->ParseFromArray(value.data(), static_cast<int>(value.size()))) return false;
    if (!row->has_available_at()) row->set_available_at(row->window_end());
    return true;
  }
  size_t at = 1;
  std::string_view view, k, feature;
  if (key.empty() || key[0] != kRowTag || !ReadComponent(key, &at, &view) || !ReadComponent(key, &at, &k) ||
      !ReadComponent(key, &at, &feature) || key.size() - at != kRowKeySuffixBytes) {
    return false;
  }
  const auto window_end = static_cast<int64_t>(~ReadBigEndian(key, at, 8) ^ (uint64_t{1} << 63));
  const auto revision = static_cast<uint32_t>(~ReadBigEndian(key, at + 8, 4));
  if (value.size() < 2) return false;
  const char kind = value[1];
  size_t vat = 2;
  uint64_t zigzag = 0;
  if (!ReadVarint(value, &vat, &zigzag)) return false;
  const uint64_t length = (zigzag >> 1) ^ (~(zigzag & 1) + 1);
  uint64_t available = 0;  // window_end for the 0x01 form
  if (value[0] == kAvailableValue && !ReadVarint(value, &vat, &available)) return false;
  row->mutable_view()->assign(view);
  row->mutable_key()->assign(k);
  row->mutable_feature()->assign(feature);
  row->set_window_end(window_end);
  row->set_window_start(static_cast<int64_t>(static_cast<uint64_t>(window_end) - length));
  row->set_revision(revision);
  row->set_available_at(UnZigZag(window_end, available));
  switch (kind) {
    case kKindNumber: {
      if (value.size() - vat != sizeof(double)) return false;
      char bytes[sizeof(double)];
      std::memcpy(bytes, value.data() + vat, sizeof bytes);
      if constexpr (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) std::reverse(bytes, bytes + sizeof bytes);
      double number = 0;
      std::memcpy(&number, bytes, sizeof number);
      row->mutable_value()->set_number(number);
      return true;
    }
    case kKindText: row->mutable_value()->mutable_text()->assign(value.substr(vat)); return true;
    case kKindNone: return vat == value.size();
    default: return false;
  }
}

}  // namespace weir::featurestore
