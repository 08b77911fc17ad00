#include "featurestore/row_store.h"

#include <algorithm>
#include <functional>

#include <map>
#include <set>

#include <rocksdb/db.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "featurestore/latest_cache.h"
#include "featurestore/row_codec.h"

namespace weir::featurestore {
namespace {

using weir::v1::FeatureRow;

constexpr char kEpochTag = 'E';        // a job's partitions
constexpr char kImportEpochTag = 'I';  // importers' own identities
// The catalog: one key per (view, feature) ever written, so a read names an
// unknown view or feature instead of answering nothing. 'C' marks it
// complete (a store from before the catalog gets it built once, at Open).
constexpr char kFeatureTag = 'F';
const std::string kCatalogBuiltKey = "C";
// How many of a view's features an error message lists.
constexpr size_t kFeaturesNamed = 20;

uint64_t ReadBigEndian(const rocksdb::Slice& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

std::string FeaturePrefix(std::string_view view, std::string_view key, std::string_view feature) {
  std::string k;
  AppendFeaturePrefix(&k, view, key, feature);
  return k;
}

std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// Tells the read cache about every row of a durable write batch.
class CacheUpdater : public rocksdb::WriteBatch::Handler {
 public:
  explicit CacheUpdater(LatestCache* cache) : cache_(cache) {}
  void Put(const rocksdb::Slice& key, const rocksdb::Slice& value) override {
    if (key.size() <= kRowKeySuffixBytes || key[0] != kRowTag) return;
    cache_->Written(View(key).substr(0, key.size() - kRowKeySuffixBytes), View(key), View(value));
  }

 private:
  LatestCache* cache_;
};

std::string CatalogPrefix(std::string_view view) {
  std::string k(1, kFeatureTag);
  AppendComponent(&k, view);
  return k;
}

std::string CatalogKey(std::string_view view, std::string_view feature) {
  std::string k = CatalogPrefix(view);
  AppendComponent(&k, feature);
  return k;
}

std::string EpochKey(const std::string& job, int32_t partition, WriterKind kind) {
  std::string k(1, kind == WriterKind::kImport ? kImportEpochTag : kEpochTag);
  AppendComponent(&k, job);
  AppendBigEndian(&k, static_cast<uint32_t>(partition), 4);
  return k;
}

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return DataLoss(what + ": " + s.ToString());
  return Internal(what + ": " + s.ToString());
}

}  // namespace

// Collects RocksDB's background errors (a flush, compaction or WAL write that
// failed) and turns RocksDB's own recovery off: RowStore resumes the database
// itself once DiskSpace finds room, so recovery follows one rule. RocksDB
// calls it on its background threads, never with RowStore's mutexes held.
class StorageErrorListener : public rocksdb::EventListener {
 public:
  void OnBackgroundError(rocksdb::BackgroundErrorReason, rocksdb::Status* bg_error) override {
    Set(bg_error->ToString());
  }
  void Set(std::string error) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::move(error);
  }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status bg_error, bool* auto_recovery) override {
    bg_error.PermitUncheckedError();
    *auto_recovery = false;
  }
  std::string error() const {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    error_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::string error_;  // guarded by mu_; empty when none since the last resume
};

RowStore::RowStore(rocksdb::DB* db, DiskSpace disk, std::shared_ptr<StorageErrorListener> listener,
                   size_t latest_cache_entries)
    : db_(db),
      disk_(std::move(disk)),
      listener_(std::move(listener)),
      latest_(latest_cache_entries > 0 ? std::make_unique<LatestCache>(latest_cache_entries) : nullptr) {}
RowStore::~RowStore() = default;

rocksdb::Options RowStore::DbOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  // Concurrent writers (one per stream) share one WAL write and fsync; the
  // WAL of the next group is written while this one fills the memtable.
  options.enable_pipelined_write = true;
  // A group's memtable inserts run on one thread, so the skiplist reuses the
  // position of the previous (sorted) insert; concurrent inserts search from
  // the top every time.
  options.allow_concurrent_memtable_write = false;
  options.write_buffer_size = 128 << 20;
  options.max_write_buffer_number = 4;
  return options;
}

Result<std::unique_ptr<RowStore>> RowStore::Open(const std::string& dir, RowStoreOptions store_options) {
  auto listener = std::make_shared<StorageErrorListener>();
  rocksdb::Options options = DbOptions();
  options.listeners.push_back(listener);
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) {
    return Status(StatusCode::kUnavailable, "cannot open the feature store in \"" + dir + "\": " + s.ToString() +
                                                " (is another weir-featurestore using it? is it writable? is its "
                                                "disk full?)");
  }
  std::unique_ptr<RowStore> store(new RowStore(db, DiskSpace(dir, store_options.min_free_disk_bytes),
                                               std::move(listener), store_options.latest_cache_entries));
  if (Status built = store->BuildCatalog(); !built.ok()) {
    return Status(built.code(), "cannot open the feature store in \"" + dir + "\": " + built.message());
  }
  if (Status loaded = store->LoadRetention(); !loaded.ok()) {
    return Status(loaded.code(), "cannot open the feature store in \"" + dir + "\": " + loaded.message());
  }
  return store;
}

Status RowStore::BuildCatalog() {
  std::string marker;
  const rocksdb::Status found = db_->Get(rocksdb::ReadOptions(), kCatalogBuiltKey, &marker);
  if (!found.ok() && !found.IsNotFound()) return FromRocks(found, "cannot read the feature catalog");
  if (found.ok()) return LoadCatalog();
  // One seek per (view, key, feature) group: each group's rows are skipped.
  rocksdb::WriteBatch wb;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  const std::string rows(1, kRowTag);
  for (it->Seek(rows); it->Valid() && it->key().starts_with(rows);) {
    FeatureRow row;
    if (!DecodeRow(View(it->key()), View(it->value()), &row)) {
      return DataLoss("a stored feature row is corrupt (building the feature catalog)");
    }
    wb.Put(CatalogKey(row.view(), row.feature()), "");
    std::string next = FeaturePrefix(row.view(), row.key(), row.feature());
    next.append(kRowKeySuffixBytes + 1, '\xff');
    it->Seek(next);
  }
  WEIR_RETURN_IF_ERROR(FromRocks(it->status(), "cannot build the feature catalog"));
  wb.Put(kCatalogBuiltKey, "");
  rocksdb::WriteOptions options;
  options.sync = true;
  WEIR_RETURN_IF_ERROR(FromRocks(db_->Write(options, &wb), "cannot write the feature catalog"));
  return LoadCatalog();
}

Status RowStore::LoadCatalog() {
  const std::string tag(1, kFeatureTag);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(tag); it->Valid() && it->key().starts_with(tag); it->Next()) {
    std::string_view rest = View(it->key()).substr(1);
    std::string_view parts[2];
    for (std::string_view& part : parts) {
      size_t at = 0;
      uint64_t n = 0;
      for (int shift = 0; at < rest.size(); shift += 7) {
        const auto b = static_cast<uint8_t>(rest[at++]);
        n |= static_cast<uint64_t>(b & 0x7f) << shift;
        if ((b & 0x80) == 0) break;
      }
      if (n > rest.size() - at) return DataLoss("a feature catalog entry is malformed");
      part = rest.substr(at, n);
      rest.remove_prefix(at + n);
    }
    Catalog(parts[0], parts[1]);
  }
  return FromRocks(it->status(), "cannot read the feature catalog");
}

void RowStore::Catalog(std::string_view view, std::string_view feature) {
  {
    std::shared_lock<std::shared_mutex> lock(catalog_mu_);
    auto it = catalog_.find(view);
    if (it != catalog_.end() && it->second.find(feature) != it->second.end()) return;
  }
  std::unique_lock<std::shared_mutex> lock(catalog_mu_);
  auto it = catalog_.find(view);
  if (it == catalog_.end()) it = catalog_.emplace(std::string(view), std::set<std::string, std::less<>>()).first;
  it->second.emplace(feature);
}

Result<std::vector<std::string>> RowStore::Features(const std::string& view) const {
  std::shared_lock<std::shared_mutex> lock(catalog_mu_);
  auto it = catalog_.find(view);
  if (it == catalog_.end()) return std::vector<std::string>();
  return std::vector<std::string>(it->second.begin(), it->second.end());
}

Status RowStore::CheckKnown(const std::string& view, const std::vector<std::string>& features) const {
  {
    std::shared_lock<std::shared_mutex> lock(catalog_mu_);
    auto it = catalog_.find(view);
    if (it != catalog_.end() && std::all_of(features.begin(), features.end(), [&](const std::string& f) {
          return it->second.find(f) != it->second.end();
        })) {
      return Status::Ok();
    }
  }
  auto known = Features(view);
  if (!known.ok()) return known.status();
  if (known->empty()) {
    return NotFound("view \"" + view +
                    "\" is not in this feature store: no row of it was ever written (check the name: it is the "
                    "job's `view`)");
  }
  const std::set<std::string> names(known->begin(), known->end());
  for (const std::string& feature : features) {
    if (names.count(feature) != 0) continue;
    std::string list;
    for (size_t i = 0; i < known->size() && i < kFeaturesNamed; ++i) list += (i > 0 ? ", " : "") + (*known)[i];
    if (known->size() > kFeaturesNamed) list += ", ... (" + std::to_string(known->size()) + " in all)";
    std::string message = "view \"";
    message += view;
    message += "\" has no feature \"";
    message += feature;
    message += "\" (its features: ";
    message += list;
    message += ")";
    return NotFound(std::move(message));
  }
  return Status::Ok();
}

Status RowStore::EnsureWritable(uint64_t bytes) {
  std::lock_guard<std::mutex> resume(resume_mu_);
  uint64_t free_bytes = 0;
  Status room = disk_.CheckRoomFor(bytes, &free_bytes);
  {
    std::lock_guard<std::mutex> lock(health_mu_);
    health_.free_bytes = free_bytes;
  }
  if (!room.ok()) return room;
  const std::string error = listener_->error();
  if (error.empty()) return Status::Ok();
  const rocksdb::Status resumed = db_->Resume();
  if (!resumed.ok()) {
    return Unavailable("the feature store's storage failed (" + error + ") and cannot resume yet (" +
                       resumed.ToString() + "); writes are refused until it does, reads still work");
  }
  listener_->Clear();
  return Status::Ok();
}

void RowStore::SetHealth(const Status& s) {
  std::lock_guard<std::mutex> lock(health_mu_);
  health_.writable = s.ok();
  health_.reason = s.message();
}

StorageHealth RowStore::CheckStorage() {
  SetHealth(EnsureWritable(0));
  std::lock_guard<std::mutex> lock(health_mu_);
  return health_;
}

Status RowStore::Write(const RowBatch& batch) {
  size_t applied = 0;
  return WriteGroup({batch}, &applied);
}

Status RowStore::WriteGroup(const std::vector<RowBatch>& batches, size_t* applied) {
  *applied = 0;
  // Lock the stripes of every fencing key of the group, in index order (no
  // two groups can deadlock), for the check and the write together.
  std::array<bool, kEpochStripes> stripes{};
  size_t rows = 0;
  for (const RowBatch& batch : batches) {
    stripes[std::hash<std::string>()(EpochKey(batch.job, batch.partition, batch.writer)) % kEpochStripes] = true;
    rows += batch.rows.size();
  }
  std::vector<std::unique_lock<std::mutex>> locks;
  for (size_t i = 0; i < kEpochStripes; ++i) {
    if (stripes[i]) locks.emplace_back(epoch_mu_[i]);
  }
  constexpr size_t kRowBytesGuess = 64;
  rocksdb::WriteBatch wb(rows * kRowBytesGuess);
  // The group's rows, encoded into one buffer, then put in key order: the
  // memtable's skiplist inserts sorted keys from where the previous insert
  // ended (RocksDB caches that splice) instead of searching from the top.
  struct Encoded {
    size_t at;
    uint32_t key_size;
    uint32_t value_size;
  };
  std::string encoded;
  encoded.reserve(rows * kRowBytesGuess);
  std::vector<Encoded> sorted;
  sorted.reserve(rows);
  // Epochs raised by earlier batches of this group, not yet in the database.
  std::map<std::string, uint64_t> raised;  // by EpochKey
  // (view, feature) of the rows written: few, so a vector searched from the
  // back (rows of one feature come together) beats a set.
  std::vector<std::pair<std::string_view, std::string_view>> catalog;
  Status fenced;
  for (const RowBatch& batch : batches) {
    const std::string epoch_key = EpochKey(batch.job, batch.partition, batch.writer);
    uint64_t highest = 0;
    if (auto it = raised.find(epoch_key); it != raised.end()) {
      highest = it->second;
    } else {
      auto stored = HighestEpoch(batch.job, batch.partition, batch.writer);
      if (!stored.ok()) return stored.status();
      highest = *stored;
    }
    if (batch.epoch < highest) {
      fenced = FailedPrecondition(
          batch.writer == WriterKind::kImport
              ? "import fenced: writer \"" + batch.job + "\" partition " + std::to_string(batch.partition) + " epoch " +
                    std::to_string(batch.epoch) + " is older than epoch " + std::to_string(highest) +
                    " (a newer import by that writer exists; import with a higher --epoch)"
              : "write fenced: job \"" + batch.job + "\" partition " + std::to_string(batch.partition) + " epoch " +
                    std::to_string(batch.epoch) + " is older than epoch " + std::to_string(highest) +
                    " (the partition has moved to another worker)");
      break;
    }
    for (const FeatureRow& row : batch.rows) {
      const size_t at = encoded.size();
      AppendRowKey(&encoded, row);
      const size_t key_end = encoded.size();
      AppendRowValue(&encoded, row);
      sorted.push_back(
          Encoded{at, static_cast<uint32_t>(key_end - at), static_cast<uint32_t>(encoded.size() - key_end)});
      const std::pair<std::string_view, std::string_view> names(row.view(), row.feature());
      if (std::find(catalog.rbegin(), catalog.rend(), names) == catalog.rend()) catalog.push_back(names);
    }
    if (batch.epoch > highest) {
      std::string epoch;
      AppendBigEndian(&epoch, batch.epoch, 8);
      wb.Put(epoch_key, epoch);
      raised[epoch_key] = batch.epoch;
    }
    ++*applied;
  }
  if (*applied > 0) {
    auto key_of = [&](const Encoded& e) { return std::string_view(encoded).substr(e.at, e.key_size); };
    // Stable: of two puts of one row identity, the later still wins.
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](const Encoded& a, const Encoded& b) { return key_of(a) < key_of(b); });
    for (const Encoded& e : sorted) {
      wb.Put(rocksdb::Slice(encoded.data() + e.at, e.key_size),
             rocksdb::Slice(encoded.data() + e.at + e.key_size, e.value_size));
    }
    std::sort(catalog.begin(), catalog.end());
    catalog.erase(std::unique(catalog.begin(), catalog.end()), catalog.end());
    for (const auto& [view, feature] : catalog) {
      wb.Put(CatalogKey(view, feature), "");
      Catalog(view, feature);
    }
    Status s = EnsureWritable(wb.GetDataSize());
    if (s.ok()) {
      rocksdb::WriteOptions options;
      options.sync = true;
      const rocksdb::Status written = db_->Write(options, &wb);
      if (written.IsIOError()) {  // the disk, most likely full
        listener_->Set(written.ToString());
        s = Unavailable("cannot write to the feature store: " + written.ToString() +
                        "; writes are refused until the storage recovers (free space in its data directory), "
                        "reads still work");
      } else {
        s = FromRocks(written, "cannot write to the feature store");
      }
    }
    SetHealth(s);
    if (!s.ok()) {
      *applied = 0;
      return s;
    }
    if (latest_ != nullptr) {
      // Still under the stripes: the cache sees one partition's rows in order.
      CacheUpdater updater(latest_.get());
      WEIR_RETURN_IF_ERROR(FromRocks(wb.Iterate(&updater), "cannot update the read cache"));
    }
  }
  WEIR_RETURN_IF_ERROR(NoteRetention(batches, *applied));
  return fenced;
}

Result<uint64_t> RowStore::HighestEpoch(const std::string& job, int32_t partition, WriterKind kind) const {
  std::string value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), EpochKey(job, partition, kind), &value);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return FromRocks(s, "cannot read the fencing epoch");
  if (value.size() != 8) return DataLoss("fencing epoch record of job \"" + job + "\" is malformed");
  return ReadBigEndian(value, 0, 8);
}

Result<std::vector<FeatureRow>> RowStore::GetOnline(const std::string& view, const std::vector<std::string>& keys,
                                                    const std::vector<std::string>& features, int64_t as_of_ms) const {
  WEIR_RETURN_IF_ERROR(CheckKnown(view, features));
  std::vector<FeatureRow> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  // Adds a stored row to the result.
  auto emit = [&](std::string_view row_key, std::string_view value) -> Status {
    FeatureRow row;
    if (!DecodeRow(row_key, value, &row)) return DataLoss("a stored feature row is corrupt (view \"" + view + "\")");
    out.push_back(std::move(row));
    return Status::Ok();
  };
  // Seeks the greatest (window_end, revision) under `prefix` (one feature)
  // available at as_of: rows with window_end > as_of never are (available_at
  // >= window_end), so the scan starts at as_of's window and walks back past
  // rows that became available later (windows the watermark had not closed
  // yet, later corrections).
  auto seek = [&](const std::string& prefix) -> Status {
    std::string target = prefix;
    AppendBigEndian(&target, DescendingTime(as_of_ms), 8);
    AppendBigEndian(&target, 0, 4);  // before every revision of that window
    for (it->Seek(target); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      if (RowAvailableAt(View(it->key()), View(it->value())) <= as_of_ms) {
        return emit(View(it->key()), View(it->value()));
      }
    }
    return FromRocks(it->status(), "cannot read features");
  };
  // The row available at as_of under `prefix`: from the cache when the
  // newest row of all was available by then, else from RocksDB (filling
  // the cache with the newest row of all on the way).
  LatestCache::Entry cached;
  auto latest = [&](const std::string& prefix) -> Status {
    if (latest_ == nullptr) return seek(prefix);
    if (latest_->Lookup(prefix, &cached)) {
      if (!cached.found) return Status::Ok();
      if (RowAvailableAt(cached.key, cached.value) <= as_of_ms) return emit(cached.key, cached.value);
      return seek(prefix);
    }
    const uint64_t generation = latest_->Generation(prefix);
    it->Seek(prefix);
    if (!it->Valid() || !it->key().starts_with(prefix)) {
      WEIR_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read features"));
      latest_->Fill(prefix, generation, LatestCache::Entry{});
      return Status::Ok();
    }
    latest_->Fill(prefix, generation, LatestCache::Entry{true, it->key().ToString(), it->value().ToString()});
    if (RowAvailableAt(View(it->key()), View(it->value())) <= as_of_ms) return emit(View(it->key()), View(it->value()));
    return seek(prefix);
  };
  // Every feature of a view of few features: each one by name, in key order
  // (length, then bytes), so the cache answers without a scan.
  constexpr size_t kFewFeatures = 16;
  std::vector<std::string> few;
  if (features.empty() && latest_ != nullptr) {
    auto all = Features(view);
    if (!all.ok()) return all.status();
    if (all->size() <= kFewFeatures) {
      few = std::move(*all);
      std::sort(few.begin(), few.end(), [](const std::string& a, const std::string& b) {
        return a.size() != b.size() ? a.size() < b.size() : a < b;
      });
    }
  }
  const std::vector<std::string>& named = features.empty() ? few : features;
  for (const std::string& key : keys) {
    if (!named.empty()) {
      for (const std::string& feature : named) WEIR_RETURN_IF_ERROR(latest(FeaturePrefix(view, key, feature)));
      continue;
    }
    // Every feature of the key: visit each feature's group once, jumping
    // past the rest of its rows.
    std::string key_prefix(1, kRowTag);
    AppendComponent(&key_prefix, view);
    AppendComponent(&key_prefix, key);
    std::string next = key_prefix;
    for (;;) {
      it->Seek(next);
      if (!it->Valid() || !it->key().starts_with(key_prefix)) break;
      std::string_view feature;
      if (!RowKeyFeature(View(it->key()), &feature)) {
        return DataLoss("a stored feature row's key is corrupt (view \"" + view + "\")");
      }
      const std::string prefix = FeaturePrefix(view, key, feature);
      WEIR_RETURN_IF_ERROR(latest(prefix));
      next = prefix;
      next.append(kRowKeySuffixBytes + 1, '\xff');  // past every 12-byte (window_end, revision) suffix of this feature
    }
    WEIR_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read features"));
  }
  return out;
}

Status RowStore::Export(const std::string& view, const std::function<bool(const FeatureRow&)>& fn) const {
  WEIR_RETURN_IF_ERROR(CheckKnown(view, {}));
  std::string prefix(1, kRowTag);
  AppendComponent(&prefix, view);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  FeatureRow row;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (!DecodeRow(View(it->key()), View(it->value()), &row)) {
      return DataLoss("a stored feature row is corrupt (view \"" + view + "\")");
    }
    if (!fn(row)) return Status::Ok();
  }
  return FromRocks(it->status(), "cannot export view \"" + view + "\"");
}

}  // namespace weir::featurestore
