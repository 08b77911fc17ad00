// DiskSpace: how much room the store's data directory has left, and the rule
// that refuses a write which would eat into the reserve RocksDB needs for its
// own flushes and compactions (and that keeps its WAL from ever failing on a
// full disk: a failed WAL write is the one error RocksDB cannot resume from).
//
// Stateless apart from its two settings; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace weir::featurestore {

class DiskSpace {
 public:
  // `reserve_bytes`: free space a write must leave untouched.
  DiskSpace(std::string dir, uint64_t reserve_bytes) : dir_(std::move(dir)), reserve_bytes_(reserve_bytes) {}

  // The bytes an unprivileged writer may still use in the directory (statvfs).
  [[nodiscard]] Result<uint64_t> FreeBytes() const;

  // Ok when a write of `bytes` leaves the reserve free; otherwise Unavailable
  // with a message naming the directory, the free space and the reserve.
  // `free_bytes` is what was seen (unchanged when statvfs failed, in which
  // case the write is let through: RocksDB still reports a real failure).
  [[nodiscard]] Status CheckRoomFor(uint64_t bytes, uint64_t* free_bytes) const;

  uint64_t reserve_bytes() const { return reserve_bytes_; }

 private:
  const std::string dir_;
  const uint64_t reserve_bytes_;
};

}  // namespace weir::featurestore
