#include "worker/snapshot_file.h"

#include <xxhash.h>

#include <filesystem>

#include "common/byte_codec.h"
#include "common/durable_file.h"

namespace weir::worker {
namespace {

constexpr std::string_view kMagic = "WEIRSNAP";
constexpr uint32_t kVersion = 1;
constexpr uint32_t kVersionRekeyed = 2;

}  // namespace

std::string EncodeSnapshotFile(const PartitionSnapshot& s) {
  ByteWriter w;
  w.PutRaw(kMagic);
  w.Put<uint32_t>(s.rekey_state.empty() ? kVersion : kVersionRekeyed);
  w.PutString(s.job);
  w.Put<int32_t>(s.partition);
  w.Put<uint64_t>(s.epoch);
  w.Put<uint64_t>(s.checkpoint);
  w.Put<int64_t>(s.next_offset);
  w.PutString(s.engine_state);
  if (!s.rekey_state.empty()) w.PutString(s.rekey_state);
  const uint64_t sum = XXH64(w.bytes().data(), w.bytes().size(), 0);
  w.Put<uint64_t>(sum);
  return w.Take();
}

Result<PartitionSnapshot> DecodeSnapshotFile(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 8 || bytes.substr(0, kMagic.size()) != kMagic) {
    return DataLoss("not a Weir snapshot file (bad magic or too short)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  ByteReader tail(bytes.substr(bytes.size() - 8));
  if (tail.Get<uint64_t>() != XXH64(body.data(), body.size(), 0)) {
    return DataLoss("snapshot checksum mismatch (the file is torn or corrupt)");
  }
  ByteReader r(body.substr(kMagic.size()));
  const uint32_t version = r.Get<uint32_t>();
  if (r.ok() && version != kVersion && version != kVersionRekeyed)
    return DataLoss("snapshot version " + std::to_string(version) + " is unknown");
  PartitionSnapshot s;
  s.job = std::string(r.GetString());
  s.partition = r.Get<int32_t>();
  s.epoch = r.Get<uint64_t>();
  s.checkpoint = r.Get<uint64_t>();
  s.next_offset = r.Get<int64_t>();
  s.engine_state = std::string(r.GetString());
  if (version == kVersionRekeyed) s.rekey_state = std::string(r.GetString());
  if (!r.ok() || !r.done()) return DataLoss("snapshot is malformed");
  return s;
}

Status WriteSnapshotBytes(const std::string& path, std::string_view bytes) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) return Internal("cannot create the directory of " + path + ": " + ec.message());
  return weir::WriteFileDurably(path, bytes);
}

Result<int64_t> LinkSnapshotFile(const std::string& from, const std::string& to) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(to).parent_path(), ec);
  if (ec) return Internal("cannot create the directory of " + to + ": " + ec.message());
  std::filesystem::remove(to, ec);
  std::filesystem::create_hard_link(from, to, ec);
  if (ec) {  // no links on this storage (or across devices): copy the bytes
    auto bytes = ReadWholeFile(from);
    if (!bytes.ok()) return bytes.status();
    WEIR_RETURN_IF_ERROR(WriteSnapshotBytes(to, *bytes));
    return static_cast<int64_t>(bytes->size());
  }
  WEIR_RETURN_IF_ERROR(weir::SyncParent(to));
  const auto size = std::filesystem::file_size(to, ec);
  if (ec) return Internal("cannot read the size of " + to + ": " + ec.message());
  return static_cast<int64_t>(size);
}

Result<PartitionSnapshot> ReadSnapshotFile(const std::string& path) {
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  auto snapshot = DecodeSnapshotFile(*bytes);
  if (!snapshot.ok()) return DataLoss(path + ": " + snapshot.status().message());
  return snapshot;
}

}  // namespace weir::worker
