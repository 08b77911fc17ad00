#include "tools/devkafka/kafka_rewrite.h"

#include <iostream>
#include <utility>

namespace weir::devkafka {
namespace {

// ---------------------------------------------------------------------------
// Kafka wire primitives (big-endian; see the Kafka protocol guide).

// Reads Kafka protocol primitives from one frame. It never reads past the
// end: a short read yields zeros, moves to the end and clears ok(), so a
// parser checks ok() once when done instead of after every field.
class WireReader {
 public:
  WireReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool ok() const { return ok_; }
  size_t pos() const { return pos_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  int16_t Int16() {
    if (!Need(2)) return 0;
    const auto v = static_cast<int16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  int32_t Int32() {
    if (!Need(4)) return 0;
    const int32_t v = ReadInt32(data_ + pos_);
    pos_ += 4;
    return v;
  }
  // UNSIGNED_VARINT: 7 bits per byte, least significant group first.
  uint32_t Uvarint() {
    uint32_t v = 0;
    for (int shift = 0; shift <= 28; shift += 7) {
      if (!Need(1)) return 0;
      const uint8_t b = data_[pos_++];
      v |= uint32_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return v;
    }
    Fail();  // longer than 5 bytes
    return 0;
  }
  // STRING (int16 length) or COMPACT_STRING (uvarint length + 1).
  std::string String(bool compact) {
    const int64_t n = compact ? int64_t{Uvarint()} - 1 : Int16();
    if (n < 0 || !Need(static_cast<size_t>(n))) {
      Fail();  // null where a string is required
      return {};
    }
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  // NULLABLE_STRING or COMPACT_NULLABLE_STRING (length -1 / 0 means null).
  void SkipNullableString(bool compact) {
    const int64_t n = compact ? int64_t{Uvarint()} - 1 : Int16();
    if (n > 0) Skip(static_cast<size_t>(n));
  }
  // ARRAY (int32 count) or COMPACT_ARRAY (uvarint count + 1); null reads as 0.
  int32_t ArrayLength(bool compact) {
    const int64_t n = compact ? int64_t{Uvarint()} - 1 : Int32();
    return n < 0 ? 0 : static_cast<int32_t>(n);
  }
  // TAG_BUFFER: uvarint count, then per field uvarint tag, uvarint size, bytes.
  void SkipTaggedFields() {
    const uint32_t count = Uvarint();
    for (uint32_t i = 0; i < count && ok_; ++i) {
      Uvarint();  // tag
      Skip(Uvarint());
    }
  }
  void Skip(size_t n) {
    if (Need(n)) pos_ += n;
  }

 private:
  bool Need(size_t n) {
    if (ok_ && size_ - pos_ >= n) return true;
    Fail();
    return false;
  }
  void Fail() {
    ok_ = false;
    pos_ = size_;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Builds one Kafka frame; Frame() prefixes the int32 size.
class WireWriter {
 public:
  void Int32(int32_t v) {
    const auto u = static_cast<uint32_t>(v);
    const uint8_t b[4] = {static_cast<uint8_t>(u >> 24), static_cast<uint8_t>(u >> 16), static_cast<uint8_t>(u >> 8),
                          static_cast<uint8_t>(u)};
    out_.insert(out_.end(), b, b + 4);
  }
  void Uvarint(uint32_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<uint8_t>(v));
  }
  // STRING or COMPACT_STRING.
  void String(const std::string& s, bool compact) {
    if (compact) {
      Uvarint(static_cast<uint32_t>(s.size() + 1));
    } else {
      out_.push_back(static_cast<uint8_t>(s.size() >> 8));
      out_.push_back(static_cast<uint8_t>(s.size()));
    }
    out_.insert(out_.end(), s.begin(), s.end());
  }
  // Copies the bytes `r` consumed since `start` unchanged.
  void CopySince(const WireReader& r, size_t start) {
    if (start < r.pos()) out_.insert(out_.end(), r.data() + start, r.data() + r.pos());
  }
  // Copies the bytes `r` has not consumed yet unchanged.
  void CopyRest(const WireReader& r) { out_.insert(out_.end(), r.data() + r.pos(), r.data() + r.size()); }
  std::vector<uint8_t> Frame() && {
    WireWriter frame;
    frame.Int32(static_cast<int32_t>(out_.size()));
    frame.out_.insert(frame.out_.end(), out_.begin(), out_.end());
    return std::move(frame.out_);
  }

 private:
  std::vector<uint8_t> out_;
};

constexpr int16_t kMetadata = 3;
constexpr int16_t kFindCoordinator = 10;

// Reads the host and port of broker `node_id` and writes its advertised ones
// instead; ids that are not brokers (-1: no coordinator) keep theirs.
void RewriteHostPort(int32_t node_id, bool compact, const AdvertisedBrokers& brokers, WireReader& r, WireWriter& w) {
  std::string host = r.String(compact);
  int32_t port = r.Int32();
  if (brokers.Has(node_id)) {
    host = brokers.host;
    port = brokers.Port(node_id);
  }
  w.String(host, compact);
  w.Int32(port);
}

// Metadata response body (v0..12) up to the end of the brokers array:
// [throttle_time_ms (v3+)] brokers: [node_id host port rack (v1+) tags (v9+)].
void RewriteMetadata(int16_t version, const AdvertisedBrokers& brokers, WireReader& r, WireWriter& w) {
  const bool flexible = version >= 9;
  size_t start = r.pos();
  if (version >= 3) r.Int32();  // throttle_time_ms
  const int32_t count = r.ArrayLength(flexible);
  w.CopySince(r, start);
  for (int32_t i = 0; i < count && r.ok(); ++i) {
    const int32_t node_id = r.Int32();
    w.Int32(node_id);
    RewriteHostPort(node_id, flexible, brokers, r, w);
    start = r.pos();
    if (version >= 1) r.SkipNullableString(flexible);  // rack
    if (flexible) r.SkipTaggedFields();
    w.CopySince(r, start);
  }
}

// FindCoordinator response body (v0..4) up to the last address:
//   v0:   error_code node_id host port
//   v1-3: throttle_time_ms error_code error_message node_id host port [tags (v3)]
//   v4:   throttle_time_ms coordinators: [key node_id host port error_code error_message tags] tags
void RewriteFindCoordinator(int16_t version, const AdvertisedBrokers& brokers, WireReader& r, WireWriter& w) {
  const bool flexible = version >= 3;
  size_t start = r.pos();
  if (version >= 1) r.Int32();  // throttle_time_ms
  if (version <= 3) {
    r.Int16();                                         // error_code
    if (version >= 1) r.SkipNullableString(flexible);  // error_message
    w.CopySince(r, start);
    const int32_t node_id = r.Int32();
    w.Int32(node_id);
    RewriteHostPort(node_id, flexible, brokers, r, w);
    return;
  }
  const int32_t count = r.ArrayLength(true);
  w.CopySince(r, start);
  for (int32_t i = 0; i < count && r.ok(); ++i) {
    start = r.pos();
    r.String(true);  // key
    w.CopySince(r, start);
    const int32_t node_id = r.Int32();
    w.Int32(node_id);
    RewriteHostPort(node_id, true, brokers, r, w);
    start = r.pos();
    r.Int16();                   // error_code
    r.SkipNullableString(true);  // error_message
    r.SkipTaggedFields();
    w.CopySince(r, start);
  }
}

}  // namespace

int32_t ReadInt32(const uint8_t* p) {
  return static_cast<int32_t>((uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]);
}

RequestHeader ReadRequestHeader(const uint8_t* frame) {
  WireReader r(frame + 4, 8);
  RequestHeader header;
  header.api.key = r.Int16();
  header.api.version = r.Int16();
  header.correlation_id = r.Int32();
  return header;
}

bool ResponseRewriter::Wants(const Api& api) {
  const char* name = api.key == kMetadata ? "Metadata" : api.key == kFindCoordinator ? "FindCoordinator" : nullptr;
  if (name == nullptr) return false;
  const int16_t max_version = api.key == kMetadata ? 12 : 4;
  const bool known = api.version >= 0 && api.version <= max_version;
  LogOnce(std::string(known ? "rewriting broker addresses in " : "cannot rewrite, passing unchanged: ") + name + " v" +
          std::to_string(api.version) + " responses");
  return known;
}

std::vector<uint8_t> ResponseRewriter::Rewrite(const Api& api, const uint8_t* frame, size_t size) {
  if (size < 4 || static_cast<size_t>(static_cast<uint32_t>(ReadInt32(frame))) != size - 4) {
    LogOnce("a response frame whose size prefix is not its length; passing it unchanged");
    return {frame, frame + size};
  }
  WireReader r(frame + 4, size - 4);
  WireWriter w;
  // Response header v1 (correlation_id, tags) from the first flexible
  // version on; v0 (correlation_id) before. (ApiVersions always uses v0,
  // but it carries no addresses.)
  const bool flexible_header = api.version >= (api.key == kMetadata ? 9 : 3);
  r.Int32();  // correlation_id
  if (flexible_header) r.SkipTaggedFields();
  w.CopySince(r, 0);
  if (api.key == kMetadata) {
    RewriteMetadata(api.version, brokers_, r, w);
  } else {
    RewriteFindCoordinator(api.version, brokers_, r, w);
  }
  if (!r.ok()) {
    LogOnce("a response to api key " + std::to_string(api.key) + " v" + std::to_string(api.version) +
            " does not parse; passing it unchanged");
    return {frame, frame + size};
  }
  w.CopyRest(r);  // everything after the addresses, verbatim
  return std::move(w).Frame();
}

void ResponseRewriter::LogOnce(const std::string& message) {
  if (logged_.insert(message).second) std::cerr << "weir-devkafka: " << message << std::endl;
}

}  // namespace weir::devkafka
