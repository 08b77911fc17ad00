// A partition's snapshot file in the checkpoint storage: the engine's state,
// and where consumption resumes, taken at a record boundary.
//
//   "WEIRSNAP" | version u32 | job | partition i32 | epoch u64 | checkpoint u64
//   | next_offset i64 | engine state (length-prefixed)
//   [version 2: | re-keying state (length-prefixed)] | XXH64 of all before u64
//
// Version 2 is written only for a re-keyed job's partitions (stage 1: its
// watermark; stage 2: engine/rekey_merge.h's state); others stay version 1.
//
// The engine state carries its own checksum and plan fingerprint as well; the
// file checksum catches a torn or corrupted file before any of it is used.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace weir::worker {

struct PartitionSnapshot {
  std::string job;
  int32_t partition = 0;
  uint64_t epoch = 0;
  uint64_t checkpoint = 0;  // 0: a handoff snapshot
  // The next offset to read: an offset, or librdkafka's logical
  // OFFSET_BEGINNING (-2) / OFFSET_END (-1) when no record was read yet.
  int64_t next_offset = 0;
  std::string engine_state;
  std::string rekey_state;  // re-keyed jobs only; empty otherwise
};

std::string EncodeSnapshotFile(const PartitionSnapshot& snapshot);
// DataLoss for a file that is truncated, corrupt or of an unknown version.
Result<PartitionSnapshot> DecodeSnapshotFile(std::string_view bytes);

// Writes `bytes` durably (temporary file, fsync, rename, fsync directory),
// creating the file's directory.
Status WriteSnapshotBytes(const std::string& path, std::string_view bytes);
// Makes `to` a durable copy of the snapshot file `from` without reading it
// (a hard link; a byte copy where the storage has no links) and returns its
// size. The copy keeps `from`'s header, checkpoint id included: restores read
// the job, partition, offset and state, never that id.
Result<int64_t> LinkSnapshotFile(const std::string& from, const std::string& to);
// Reads and decodes; NotFound or DataLoss errors name the path.
Result<PartitionSnapshot> ReadSnapshotFile(const std::string& path);

}  // namespace weir::worker
