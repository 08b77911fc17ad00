#include "common/checkpoint_paths.h"

namespace weir {

Result<std::string> CheckpointRoot(const std::string& storage_url) {
  constexpr std::string_view kPrefix = "file://";
  if (!storage_url.starts_with(kPrefix) || storage_url.size() <= kPrefix.size() || storage_url[kPrefix.size()] != '/') {
    return InvalidArgument("checkpoint storage \"" + storage_url + "\" is not supported (use file:///path)");
  }
  std::string root = storage_url.substr(kPrefix.size());
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}

std::string JobCheckpointsDir(const std::string& root, const std::string& job) { return root + "/" + job; }

std::string CheckpointDir(const std::string& root, const std::string& job, uint64_t checkpoint) {
  return JobCheckpointsDir(root, job) + "/chk-" + std::to_string(checkpoint);
}

std::string CheckpointMetadataPath(const std::string& root, const std::string& job, uint64_t checkpoint) {
  return CheckpointDir(root, job, checkpoint) + "/_metadata";
}

std::string SnapshotPath(const std::string& root, const std::string& job, uint64_t checkpoint, int32_t partition,
                         uint64_t epoch) {
  return CheckpointDir(root, job, checkpoint) + "/p" + std::to_string(partition) + "-e" + std::to_string(epoch) +
         ".snap";
}

std::string HandoffPath(const std::string& root, const std::string& job, int32_t partition, uint64_t epoch) {
  return JobCheckpointsDir(root, job) + "/handoff/p" + std::to_string(partition) + "-e" + std::to_string(epoch) +
         ".snap";
}

}  // namespace weir
