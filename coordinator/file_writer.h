// How the coordinator writes a whole file durably (`state.pb`, a checkpoint's
// `_metadata`): WriteFileDurably unless a test swaps in one that is slow,
// blocked or failing, to pin what runs without the coordinator's lock.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/durable_file.h"
#include "common/status.h"

namespace weir::coordinator {

// Replaces `path` with `bytes` durably (see WriteFileDurably). Called from
// several threads at once, never with the coordinator's lock held.
using FileWriter = std::function<Status(const std::string& path, std::string_view bytes)>;

// `writer`, or WriteFileDurably when it is empty.
inline FileWriter OrDurable(FileWriter writer) {
  if (writer) return writer;
  return [](const std::string& path, std::string_view bytes) { return WriteFileDurably(path, bytes); };
}

}  // namespace weir::coordinator
