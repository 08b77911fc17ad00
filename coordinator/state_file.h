// StateFile: the durable copy of the coordinator's state (`state.pb`), written
// without the coordinator's lock.
//
// The JobStore changes its state in memory, under the coordinator's lock, and
// offers each new version's serialized bytes here (Offer: no I/O). Whoever
// must not answer before a version is durable calls Sync(version) after
// releasing that lock: it writes the newest offered bytes (so one write
// covers every change offered so far) unless a write of that version or a
// newer one already succeeded. Writes are serialized and only ever write the
// newest bytes, so an older version never overwrites a newer one.
//
// A failed write changes nothing on disk and leaves the bytes offered: the
// next Sync tries again. Thread-safe: two leaf mutexes, `slot_mu_` (held
// for a pointer swap) and `write_mu_` (held across one file write; the
// coordinator's lock is never taken under it).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "common/mutex.h"
#include "common/status.h"
#include "coordinator/file_writer.h"

namespace weir::coordinator {

// The file's framing: "WEIRSTAT", a little-endian uint32 format version (1),
// the XXH64 of the payload, then the payload (the serialized
// CoordinatorState). A flipped bit anywhere is caught at start-up rather than
// loaded as a different state (a view name, an epoch).
std::string SealState(std::string_view payload);
// The payload of a sealed file; DataLoss naming `path` when it is torn or
// corrupt. A file without the framing (written before it existed) is taken
// whole as the payload, unchecked.
Result<std::string_view> UnsealState(std::string_view file, const std::string& path);

class StateFile {
 public:
  // `durable_version`: the version already on disk (what Open read).
  StateFile(std::string path, FileWriter writer, uint64_t durable_version);

  // Keeps `bytes` as version `version`, unless a newer version is offered
  // already. Never blocks on I/O: callable with the coordinator's lock held.
  void Offer(uint64_t version, std::string bytes) ABSL_LOCKS_EXCLUDED(slot_mu_);

  // Returns once `version` (or a newer one) is durable, writing the newest
  // offered bytes if needed; the writer's error otherwise (nothing changed
  // on disk). Should not be called while holding the coordinator's lock.
  Status Sync(uint64_t version) ABSL_LOCKS_EXCLUDED(write_mu_, slot_mu_);

  uint64_t durable_version() const { return durable_.load(); }
  const std::string& path() const { return path_; }

 private:
  struct Offered {
    uint64_t version = 0;
    std::shared_ptr<const std::string> bytes;
  };

  const std::string path_;
  const FileWriter writer_;
  weir::Mutex write_mu_;         // held across one write: one writer at a time
  mutable weir::Mutex slot_mu_;  // a leaf: guards offered_ only
  Offered offered_ ABSL_GUARDED_BY(slot_mu_);
  std::atomic<uint64_t> durable_;  // written with write_mu_ held; read without it
};

}  // namespace weir::coordinator
