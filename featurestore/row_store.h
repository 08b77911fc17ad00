// RowStore: the feature store's storage (docs/architecture.md) on RocksDB.
//
// Rows are kept under (view, key, feature, window_end, revision); writing a
// row again with the same identity overwrites it with the same value, so
// replayed batches are idempotent upserts. Writes carry a fencing triple (job,
// partition, epoch): a batch whose epoch is lower than the highest seen for
// its (job, partition) is rejected, so a zombie owner cannot write after its
// partition moved (docs/checkpoints.md).
//
// Lifecycle: Open() a directory, use, destroy. Thread-safe: reads run
// concurrently; writes are serialized by an internal mutex (the epoch check
// and the rows of a batch commit atomically).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "weir/v1/feature.pb.h"

namespace rocksdb {
class DB;
}

namespace weir::featurestore {

// Whose fencing a batch's (job, partition, epoch) is checked against.
enum class WriterKind {
  kJob,     // a job's partition, from its owning worker (FeatureSink.Write)
  kImport,  // an offline backfill (FeatureSink.Import): `job` is the importer's own identity
};

// One write: rows plus the fencing triple of the partition that produced them.
// Jobs and imports are fenced in separate namespaces: an import named like a
// job neither reads nor raises that job's epochs.
struct RowBatch {
  std::string job;
  int32_t partition = 0;
  uint64_t epoch = 0;
  WriterKind writer = WriterKind::kJob;
  std::vector<weir::v1::FeatureRow> rows;
};

class RowStore {
 public:
  // Opens (creating if needed) the store in `dir`. An error names the
  // directory and RocksDB's reason.
  static Result<std::unique_ptr<RowStore>> Open(const std::string& dir);
  ~RowStore();
  RowStore(const RowStore&) = delete;
  RowStore& operator=(const RowStore&) = delete;

  // Upserts every row of `batch` atomically and durably (WAL, synced).
  // FailedPrecondition when batch.epoch is lower than the highest epoch seen
  // for (batch.job, batch.partition): the writer has been fenced off.
  Status Write(const RowBatch& batch);
  // Writes several batches with one synced RocksDB write (one fsync instead
  // of one per batch), checking each batch's epoch in order as Write does.
  // Stops at the first fenced batch: the batches before it are written,
  // *applied says how many, and the result is FailedPrecondition.
  Status WriteGroup(const std::vector<RowBatch>& batches, size_t* applied);

  // For each key and feature: the row of the latest window (greatest
  // window_end, then greatest revision) with window_end <= as_of_ms. An empty
  // `features` means every feature the key has. Keys or features with no such
  // row are absent from the result.
  Result<std::vector<weir::v1::FeatureRow>> GetOnline(const std::string& view, const std::vector<std::string>& keys,
                                                      const std::vector<std::string>& features, int64_t as_of_ms) const;

  // Calls `fn` with every row of `view` (every window and revision), by key,
  // then feature, then newest window first. Stops early when `fn` returns false.
  Status Export(const std::string& view, const std::function<bool(const weir::v1::FeatureRow&)>& fn) const;

  // The highest epoch written for (job, partition) by writers of `kind`; 0 when none.
  Result<uint64_t> HighestEpoch(const std::string& job, int32_t partition, WriterKind kind = WriterKind::kJob) const;

 private:
  explicit RowStore(rocksdb::DB* db);

  std::unique_ptr<rocksdb::DB> db_;
  std::mutex write_mu_;  // serializes Write: guards the epoch check-then-write
};

}  // namespace weir::featurestore
