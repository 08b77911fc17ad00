#include "coordinator/state_file.h"

#include <xxhash.h>

#include <utility>

#include "common/byte_codec.h"

namespace weir::coordinator {
namespace {

constexpr std::string_view kStateMagic = "WEIRSTAT";
constexpr uint32_t kStateFraming = 1;
constexpr size_t kStateHeader = kStateMagic.size() + sizeof(uint32_t) + sizeof(uint64_t);

}  // namespace

std::string SealState(std::string_view payload) {
  ByteWriter w;
  w.PutRaw(kStateMagic);
  w.Put<uint32_t>(kStateFraming);
  w.Put<uint64_t>(XXH64(payload.data(), payload.size(), 0));
  w.PutRaw(payload);
  return w.Take();
}

Result<std::string_view> UnsealState(std::string_view file, const std::string& path) {
  if (!file.starts_with(kStateMagic)) return file;  // written before the framing: no checksum to check
  const std::string fix = " (move it away to start with no jobs, then resubmit them)";
  if (file.size() < kStateHeader) {
    return DataLoss("coordinator state \"" + path + "\" is truncated" + fix);
  }
  ByteReader r(file.substr(kStateMagic.size(), sizeof(uint32_t) + sizeof(uint64_t)));
  const auto framing = r.Get<uint32_t>();
  const auto checksum = r.Get<uint64_t>();
  if (framing != kStateFraming) {
    return FailedPrecondition("coordinator state \"" + path + "\" has framing " + std::to_string(framing) +
                              ", newer than this coordinator understands");
  }
  const std::string_view payload = file.substr(kStateHeader);
  if (XXH64(payload.data(), payload.size(), 0) != checksum) {
    return DataLoss("coordinator state \"" + path + "\" is corrupt (checksum mismatch)" + fix);
  }
  return payload;
}

StateFile::StateFile(std::string path, FileWriter writer, uint64_t durable_version)
    : path_(std::move(path)), writer_(OrDurable(std::move(writer))), durable_(durable_version) {}

void StateFile::Offer(uint64_t version, std::string bytes) {
  auto shared = std::make_shared<const std::string>(std::move(bytes));
  weir::MutexLock lock(&slot_mu_);
  if (version <= offered_.version) return;
  offered_ = Offered{version, std::move(shared)};
}

Status StateFile::Sync(uint64_t version) {
  if (durable_.load() >= version) return Status::Ok();
  weir::MutexLock write(&write_mu_);
  if (durable_.load() >= version) return Status::Ok();  // a write that finished meanwhile covered it
  Offered newest;
  {
    weir::MutexLock lock(&slot_mu_);
    newest = offered_;
  }
  if (newest.bytes == nullptr || newest.version < version) {
    return Internal("coordinator state version " + std::to_string(version) + " was never offered for \"" + path_ +
                    "\" (a bug)");
  }
  if (Status s = writer_(path_, *newest.bytes); !s.ok()) {
    return Internal(
        "cannot write the coordinator state (the change is kept in memory and written by the next "
        "successful write; check the data directory's disk and permissions): " +
        s.message());
  }
  durable_.store(newest.version);
  return Status::Ok();
}

}  // namespace weir::coordinator
