#include "engine/rekey_merge.h"

#include <algorithm>
#include <charconv>

#include "common/byte_codec.h"

namespace weir::engine {
namespace {
constexpr uint8_t kVersion = 1;
}  // namespace

bool ParseHeaderNumber(std::string_view text, int64_t* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

RekeyMerge::RekeyMerge(int32_t source_partitions) : sources_(static_cast<size_t>(std::max(source_partitions, 0))) {}

bool RekeyMerge::Admit(int32_t source_partition, int64_t source_offset) {
  if (source_partition < 0 || source_partition >= source_partitions()) return false;
  Source& s = sources_[static_cast<size_t>(source_partition)];
  if (source_offset <= s.applied) {
    ++duplicates_;
    return false;
  }
  s.applied = source_offset;
  return true;
}

int64_t RekeyMerge::OnMarker(int32_t source_partition, int64_t watermark) {
  if (source_partition < 0 || source_partition >= source_partitions()) return watermark_;
  ++markers_;
  Source& s = sources_[static_cast<size_t>(source_partition)];
  s.marker = std::max(s.marker, watermark);
  s.seen_marker = true;
  int64_t low = kMaxTime;
  for (const Source& each : sources_) low = std::min(low, each.seen_marker ? each.marker : kMinTime);
  if (!sources_.empty()) watermark_ = std::max(watermark_, low);
  return watermark_;
}

std::string RekeyMerge::Snapshot() const {
  ByteWriter w;
  w.Put<uint8_t>(kVersion);
  w.PutVarint(sources_.size());
  for (const Source& s : sources_) {
    w.PutSignedVarint(s.applied);
    w.Put<int64_t>(s.marker);
    w.Put<uint8_t>(s.seen_marker ? 1 : 0);
  }
  w.Put<int64_t>(watermark_);
  w.PutVarint(duplicates_);
  w.PutVarint(markers_);
  return w.Take();
}

Status RekeyMerge::Restore(std::string_view bytes) {
  ByteReader r(bytes);
  const auto version = r.Get<uint8_t>();
  if (!r.ok() || version != kVersion) {
    return DataLoss("re-keying state version " + std::to_string(version) + " is unknown");
  }
  const uint64_t n = r.GetVarint();
  if (!r.ok() || n != sources_.size()) {
    return DataLoss("re-keying state is of " + std::to_string(n) + " source partitions, the job now has " +
                    std::to_string(sources_.size()));
  }
  std::vector<Source> sources(n);
  for (Source& s : sources) {
    s.applied = r.GetSignedVarint();
    s.marker = r.Get<int64_t>();
    s.seen_marker = r.Get<uint8_t>() != 0;
  }
  const auto watermark = r.Get<int64_t>();
  const uint64_t duplicates = r.GetVarint();
  const uint64_t markers = r.GetVarint();
  if (!r.ok() || !r.done()) return DataLoss("re-keying state is malformed");
  sources_ = std::move(sources);
  watermark_ = watermark;
  duplicates_ = duplicates;
  markers_ = markers;
  return Status::Ok();
}

}  // namespace weir::engine
