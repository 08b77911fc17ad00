#include "featurestore/row_store.h"

#include <map>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace weir::featurestore {
namespace {

using weir::v1::FeatureRow;

constexpr char kRowTag = 'R';
constexpr char kEpochTag = 'E';        // a job's partitions
constexpr char kImportEpochTag = 'I';  // importers' own identities

// Length-prefixed, so no component can run into the next one.
void AppendComponent(std::string* out, const std::string& s) {
  uint64_t n = s.size();
  while (n >= 0x80) {
    out->push_back(static_cast<char>(n | 0x80));
    n >>= 7;
  }
  out->push_back(static_cast<char>(n));
  out->append(s);
}

void AppendBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t ReadBigEndian(const rocksdb::Slice& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<uint8_t>(s[at + i]);
  return v;
}

// Newest first: window_end descending (sign bit flipped so negative times
// order too), then revision descending.
uint64_t DescendingTime(int64_t t) { return ~(static_cast<uint64_t>(t) ^ (uint64_t{1} << 63)); }

std::string FeaturePrefix(const std::string& view, const std::string& key, const std::string& feature) {
  std::string k(1, kRowTag);
  AppendComponent(&k, view);
  AppendComponent(&k, key);
  AppendComponent(&k, feature);
  return k;
}

std::string RowKey(const FeatureRow& row) {
  std::string k = FeaturePrefix(row.view(), row.key(), row.feature());
  AppendBigEndian(&k, DescendingTime(row.window_end()), 8);
  AppendBigEndian(&k, ~static_cast<uint32_t>(row.revision()), 4);
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

RowStore::RowStore(rocksdb::DB* db) : db_(db) {}
RowStore::~RowStore() = default;

Result<std::unique_ptr<RowStore>> RowStore::Open(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) {
    return Status(StatusCode::kUnavailable, "cannot open the feature store in \"" + dir + "\": " + s.ToString() +
                                                " (is another weir-featurestore using it? is it writable?)");
  }
  return std::unique_ptr<RowStore>(new RowStore(db));
}

Status RowStore::Write(const RowBatch& batch) {
  size_t applied = 0;
  return WriteGroup({batch}, &applied);
}

Status RowStore::WriteGroup(const std::vector<RowBatch>& batches, size_t* applied) {
  std::lock_guard<std::mutex> lock(write_mu_);
  *applied = 0;
  rocksdb::WriteBatch wb;
  std::string value;
  // Epochs raised by earlier batches of this group, not yet in the database.
  std::map<std::string, uint64_t> raised;  // by EpochKey
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
      row.SerializeToString(&value);
      wb.Put(RowKey(row), value);
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
    rocksdb::WriteOptions options;
    options.sync = true;
    Status s = FromRocks(db_->Write(options, &wb), "cannot write to the feature store");
    if (!s.ok()) {
      *applied = 0;
      return s;
    }
  }
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
  std::vector<FeatureRow> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  // Reads the newest row at or before as_of under `prefix` (one feature).
  auto latest = [&](const std::string& prefix) -> Status {
    std::string target = prefix;
    AppendBigEndian(&target, DescendingTime(as_of_ms), 8);
    it->Seek(target);
    if (!it->Valid() || !it->key().starts_with(prefix)) return FromRocks(it->status(), "cannot read features");
    FeatureRow row;
    if (!row.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return DataLoss("a stored feature row is corrupt (view \"" + view + "\")");
    }
    out.push_back(std::move(row));
    return Status::Ok();
  };
  for (const std::string& key : keys) {
    if (!features.empty()) {
      for (const std::string& feature : features) WEIR_RETURN_IF_ERROR(latest(FeaturePrefix(view, key, feature)));
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
      FeatureRow row;
      if (!row.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return DataLoss("a stored feature row is corrupt (view \"" + view + "\")");
      }
      const std::string prefix = FeaturePrefix(view, key, row.feature());
      WEIR_RETURN_IF_ERROR(latest(prefix));
      next = prefix;
      next.append(13, '\xff');  // past every 12-byte (window_end, revision) suffix of this feature
    }
    WEIR_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read features"));
  }
  return out;
}

Status RowStore::Export(const std::string& view, const std::function<bool(const FeatureRow&)>& fn) const {
  std::string prefix(1, kRowTag);
  AppendComponent(&prefix, view);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    FeatureRow row;
    if (!row.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return DataLoss("a stored feature row is corrupt (view \"" + view + "\")");
    }
    if (!fn(row)) return Status::Ok();
  }
  return FromRocks(it->status(), "cannot export view \"" + view + "\"");
}

}  // namespace weir::featurestore
