#include "featurestore/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

namespace weir::featurestore {
namespace {

// What a write needs beyond its batch: WAL block headers and the page it may
// start on.
constexpr uint64_t kWriteSlackBytes = uint64_t{64} * 1024;

std::string Mib(uint64_t bytes) { return std::to_string(bytes / (uint64_t{1024} * 1024)) + " MiB"; }

}  // namespace

Result<uint64_t> DiskSpace::FreeBytes() const {
  struct statvfs st {};
  if (statvfs(dir_.c_str(), &st) != 0) {
    return Internal("cannot read the free space of \"" + dir_ + "\": " + std::strerror(errno));
  }
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

Status DiskSpace::CheckRoomFor(uint64_t bytes, uint64_t* free_bytes) const {
  auto free = FreeBytes();
  if (!free.ok()) return Status::Ok();
  *free_bytes = *free;
  if (*free >= reserve_bytes_ + bytes + kWriteSlackBytes) return Status::Ok();
  return Unavailable("the feature store's disk is full: " + std::to_string(*free) + " bytes free in \"" + dir_ +
                     "\", a write of " + std::to_string(bytes) + " bytes must leave " + Mib(reserve_bytes_) +
                     " free (--min-free-disk-mib); writes are refused until space is freed there, then resume by "
                     "themselves; reads still work");
}

}  // namespace weir::featurestore
