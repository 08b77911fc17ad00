// Where checkpoints live in the checkpoint storage (a local or shared
// directory, `checkpoint.storage: file:///path` in the job spec). Workers
// write snapshot files; the coordinator writes each committed checkpoint's
// `_metadata` and prunes old checkpoints. Both use these names:
//
//   <root>/<job>/chk-<id>/p<partition>-e<epoch>.snap   a partition's snapshot
//   <root>/<job>/chk-<id>/_metadata                    the commit (CheckpointInfo)
//   <root>/<job>/handoff/p<partition>-e<epoch>.snap    a SIGTERM handoff snapshot
//
// The epoch in a snapshot's name keeps a stalled old owner (a zombie) from
// overwriting its successor's file.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace weir {

// The directory of a `file:///path` storage URL. InvalidArgument otherwise.
Result<std::string> CheckpointRoot(const std::string& storage_url);

std::string JobCheckpointsDir(const std::string& root, const std::string& job);
std::string CheckpointDir(const std::string& root, const std::string& job, uint64_t checkpoint);
std::string CheckpointMetadataPath(const std::string& root, const std::string& job, uint64_t checkpoint);
std::string SnapshotPath(const std::string& root, const std::string& job, uint64_t checkpoint, int32_t partition,
                         uint64_t epoch);
std::string HandoffPath(const std::string& root, const std::string& job, int32_t partition, uint64_t epoch);

}  // namespace weir
