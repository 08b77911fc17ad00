// RowStore: the feature store's storage (docs/architecture.md) on RocksDB.
//
// Rows are kept under (view, key, feature, window_end, revision); writing a
// row again with the same identity overwrites it with the same value, so
// replayed batches are idempotent upserts. Writes carry a fencing triple (job,
// partition, epoch): a batch whose epoch is lower than the highest seen for
// its (job, partition) is rejected, so a zombie owner cannot write after its
// partition moved (docs/checkpoints.md).
//
// A full disk never stops it: a write that would leave less free space than
// the reserve (RowStoreOptions) is refused with UNAVAILABLE before it reaches
// RocksDB, reads go on, and writes resume by themselves once space is back.
// A storage failure RocksDB reports in the background (a flush or compaction
// that found the disk full) stops writes the same way until CheckStorage() or
// the next write finds room again and resumes the database (DB::Resume).
//
// Lifecycle: Open() a directory, use, destroy. Thread-safe: reads run
// concurrently. Writes of different (job, partition)s run concurrently, so
// RocksDB commits them together (one WAL write and one fsync for every
// writer waiting); writes of the same (job, partition) are serialized by a
// lock striped by that fencing key, held from the epoch check until the
// rows are durable, so the epoch check and the rows of a batch commit
// atomically and a fenced writer can never land rows after a newer one.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "featurestore/disk_space.h"
#include "weir/v1/feature.pb.h"

namespace rocksdb {
class DB;
struct Options;
}  // namespace rocksdb

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
  // The job's retention of the rows' view (0: none); imports leave it alone.
  int64_t view_retention_ms = 0;
  std::vector<weir::v1::FeatureRow> rows;
};

struct RowStoreOptions {
  // Free space in the data directory that writes must leave untouched: room
  // for RocksDB's flushes and compactions (--min-free-disk-mib).
  uint64_t min_free_disk_bytes = 0;
  // (view, key, feature)s whose newest row online reads keep in memory
  // (LatestCache, roughly 150 bytes each); 0 turns the cache off.
  size_t latest_cache_entries = size_t{1} << 18;
};

// Whether writes are accepted now, and why not.
struct StorageHealth {
  bool writable = true;
  uint64_t free_bytes = 0;  // in the data directory, when last looked at
  std::string reason;       // why writes are refused; empty when writable
};

class StorageErrorListener;
class LatestCache;

class RowStore {
 public:
  // Opens (creating if needed) the store in `dir`. An error names the
  // directory and RocksDB's reason.
  static Result<std::unique_ptr<RowStore>> Open(const std::string& dir, RowStoreOptions options = {});
  ~RowStore();
  // The RocksDB options Open uses (weir_store_bench opens its raw baseline
  // with them).
  static rocksdb::Options DbOptions();
  RowStore(const RowStore&) = delete;
  RowStore& operator=(const RowStore&) = delete;

  // Upserts every row of `batch` atomically and durably (WAL, synced).
  // Unavailable when the disk is full or storage failed (see the class
  // comment); nothing is written then. FailedPrecondition when batch.epoch is lower than the highest epoch seen
  // for (batch.job, batch.partition): the writer has been fenced off.
  Status Write(const RowBatch& batch);
  // Writes several batches with one synced RocksDB write (one fsync instead
  // of one per batch), checking each batch's epoch in order as Write does.
  // Stops at the first fenced batch: the batches before it are written,
  // *applied says how many, and the result is FailedPrecondition.
  Status WriteGroup(const std::vector<RowBatch>& batches, size_t* applied);

  // For each key and feature: the row with the greatest (window_end,
  // revision) among those with available_at <= as_of_ms (docs/semantics.md,
  // "Point-in-time reads"); kMaxTime for the latest row of all. An empty
  // `features` means every feature the key has. Keys or features with no such
  // row are absent from the result. NotFound, naming it, for a view never
  // written or a feature the view never had.
  Result<std::vector<weir::v1::FeatureRow>> GetOnline(const std::string& view, const std::vector<std::string>& keys,
                                                      const std::vector<std::string>& features, int64_t as_of_ms) const;

  // The point-in-time join (docs/semantics.md, "Historical features"): for
  // entity row i, (keys[i], timestamps[i]), each feature's row as GetOnline
  // with as_of = timestamps[i] would return it. One column per feature (in
  // the order of `features`; every feature of the view, by name, when it is
  // empty), one entry per entity row. Sorts the entity rows by key and
  // seeks once per key and feature. NotFound as GetOnline. Defined in
  // row_store_history.cc.
  Status GetHistorical(const std::string& view, const std::vector<std::string>& features,
                       const std::vector<std::string_view>& keys, const std::vector<int64_t>& timestamps,
                       std::vector<weir::v1::HistoricalColumn>* columns) const;

  // Calls `fn` with every row of `view` (every window and revision), by key,
  // then feature, then newest window first. Stops early when `fn` returns false.
  // NotFound for a view never written.
  Status Export(const std::string& view, const std::function<bool(const weir::v1::FeatureRow&)>& fn) const;

  // Every feature ever written to `view`, by name; empty for an unknown view.
  Result<std::vector<std::string>> Features(const std::string& view) const;

  // The highest epoch written for (job, partition) by writers of `kind`; 0 when none.
  Result<uint64_t> HighestEpoch(const std::string& job, int32_t partition, WriterKind kind = WriterKind::kJob) const;

  // Retention (row_store_retention.cc). Drops, for every view whose jobs set
  // a retention, the rows whose window_end < now_ms - retention; returns how
  // many per view (views with none dropped are absent). Does I/O; scans each
  // such view once. Called periodically (weir-featurestore
  // --retention-interval).
  Result<std::map<std::string, uint64_t>> ExpireRows(int64_t now_ms);
  // The retention of each view that has one, in ms.
  std::map<std::string, int64_t> Retentions() const;

  // Looks at the free space again and, when writes were stopped by a storage
  // error and there is room now, resumes the database. Called periodically
  // (weir-featurestore: every second) so writes come back without traffic.
  // Does I/O; takes the resume mutex.
  StorageHealth CheckStorage();

 private:
  RowStore(rocksdb::DB* db, DiskSpace disk, std::shared_ptr<StorageErrorListener> listener,
           size_t latest_cache_entries);

  // Builds the catalog of (view, feature) from the rows, once, in a store
  // written before it existed; then loads it into catalog_.
  Status BuildCatalog();
  // Reads the database's catalog into catalog_.
  Status LoadCatalog();
  // Reads the views' retention ('T' keys) into retention_.
  Status LoadRetention();
  // Records the retention that the first `applied` batches (job writes) carry
  // for their views, in retention_ and, when it changed, in the database.
  Status NoteRetention(const std::vector<RowBatch>& batches, size_t applied);
  // Adds (view, feature) to catalog_ (not to the database).
  void Catalog(std::string_view view, std::string_view feature);
  // NotFound naming `view` when it was never written, or the first of
  // `features` it never had.
  Status CheckKnown(const std::string& view, const std::vector<std::string>& features) const;
  // Ok when a write of `bytes` may go to RocksDB now: there is room, and a
  // stopped database has been resumed. Takes resume_mu_; does I/O.
  Status EnsureWritable(uint64_t bytes);
  // Records the outcome of a write check in health_.
  void SetHealth(const Status& s);

  std::unique_ptr<rocksdb::DB> db_;
  const DiskSpace disk_;
  const std::shared_ptr<StorageErrorListener> listener_;  // RocksDB's background errors
  // Stripe i serializes the epoch check-then-write of the fencing keys that
  // hash to i; a group locks its stripes in index order.
  static constexpr size_t kEpochStripes = 64;
  std::array<std::mutex, kEpochStripes> epoch_mu_;
  std::mutex resume_mu_;  // serializes the free-space check and DB::Resume
  // Every (view, feature) ever written: the database's 'F' keys, in memory,
  // so a read checks names without a seek. Entries are added before the
  // rows that need them are written.
  mutable std::shared_mutex catalog_mu_;
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> catalog_;  // guarded by catalog_mu_
  const std::unique_ptr<LatestCache> latest_;                                       // null when off
  mutable std::mutex health_mu_;
  StorageHealth health_;  // guarded by health_mu_
  mutable std::mutex retention_mu_;
  std::map<std::string, int64_t, std::less<>> retention_;  // view -> ms (> 0); guarded by retention_mu_
};

}  // namespace weir::featurestore
