// Whole-file writes that survive a crash: write a temporary file beside the
// target, fsync it, rename it over the target, fsync the directory. Readers
// see the old content or the new, never a torn file. Used for the
// coordinator's state and, later, checkpoints.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace weir {

// Replaces `path` with `bytes` durably. Errors name the path and the reason.
Status WriteFileDurably(const std::string& path, std::string_view bytes);

// fsync of the directory holding `path`, so a rename or link there is durable.
Status SyncParent(const std::string& path);

// Reads all of `path`. NotFound when it does not exist.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace weir
