// RowCodec: how the feature store lays a row out in RocksDB, one key and one
// value per (view, key, feature, window_end, revision).
//
// Key: 'R' + len|view + len|key + len|feature + ~window_end + ~revision
// (lengths as varints, times big-endian and inverted so the newest window
// sorts first: an online read is one seek per feature).
//
// Value: the parts of the row that are not in the key. A compact form: 0x02,
// a kind byte (0 none, 1 number, 2 text), the window length (window_end -
// window_start) as a zigzag varint, available_at - window_end as a zigzag
// varint, then the number as 8 little-endian bytes or the text's bytes.
// Older values are still read, as available at their window_end: the 0x01
// form (the same without available_at), and whole weir.v1.FeatureRow
// protobufs from before the compact form (they always start with 0x0a, field
// 1, the non-empty view).
//
// Free functions, no state: safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "weir/v1/feature.pb.h"

namespace weir::featurestore {

constexpr char kRowTag = 'R';
// Bytes after a feature's prefix in a row key: ~window_end (8) + ~revision (4).
constexpr size_t kRowKeySuffixBytes = 12;

// Appends `s` with its length in front (a varint), so no component can run
// into the next one.
void AppendComponent(std::string* out, std::string_view s);
// Reads a component AppendComponent wrote at s[*at], and moves *at past it;
// false when s holds none there.
bool ReadComponent(std::string_view s, size_t* at, std::string_view* out);
void AppendBigEndian(std::string* out, uint64_t v, int bytes);
// window_end or as_of, mapped so that later times sort first.
uint64_t DescendingTime(int64_t t);

// 'R' + len|view + len|key + len|feature: every row of one feature of one key.
void AppendFeaturePrefix(std::string* out, std::string_view view, std::string_view key, std::string_view feature);
// The full row key of `row`.
void AppendRowKey(std::string* out, const weir::v1::FeatureRow& row);
// The stored value of `row` (compact form).
void AppendRowValue(std::string* out, const weir::v1::FeatureRow& row);

// Rebuilds a row from its stored key and value, either value form. False
// when either is malformed.
[[nodiscard]] bool DecodeRow(std::string_view key, std::string_view value, weir::v1::FeatureRow* row);
// The available_at of a stored row, without decoding the rest (window_end
// for values written before it was kept, or malformed ones).
int64_t RowAvailableAt(std::string_view key, std::string_view value);
// The window_end of a row key that RowKeyFeature accepts (or any key at
// least kRowKeySuffixBytes long).
int64_t RowKeyWindowEnd(std::string_view key);
// Only the feature name of a row key (for skipping from feature to feature);
// false when the key is malformed.
[[nodiscard]] bool RowKeyFeature(std::string_view key, std::string_view* feature);

}  // namespace weir::featurestore
