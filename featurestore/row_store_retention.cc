// RowStore's retention: each view's retention, as its jobs' writes carry it
// (the job spec's `retention`), kept under 'T' + view; and the periodic pass
// that drops the rows past it.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "featurestore/latest_cache.h"
#include "featurestore/row_codec.h"
#include "featurestore/row_store.h"

namespace weir::featurestore {
namespace {

constexpr char kRetentionTag = 'T';
// Deletes per RocksDB write while expiring.
constexpr size_t kDeletesPerWrite = 10000;

std::string RetentionKey(std::string_view view) {
  std::string k(1, kRetentionTag);
  AppendComponent(&k, view);
  return k;
}

std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

Status Rocks(const rocksdb::Status& s, const std::string& what) {
  return s.ok() ? Status::Ok() : Internal(what + ": " + s.ToString());
}

}  // namespace

Status RowStore::LoadRetention() {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  const std::string tag(1, kRetentionTag);
  std::lock_guard<std::mutex> lock(retention_mu_);
  for (it->Seek(tag); it->Valid() && it->key().starts_with(tag); it->Next()) {
    const std::string_view key = View(it->key());
    const std::string_view value = View(it->value());
    size_t at = 1;
    std::string_view view;
    if (!ReadComponent(key, &at, &view) || at != key.size() || value.size() != 8) {
      return DataLoss("a view's retention record is malformed");
    }
    int64_t ms = 0;
    for (char c : value) ms = static_cast<int64_t>((static_cast<uint64_t>(ms) << 8) | static_cast<uint8_t>(c));
    retention_[std::string(view)] = ms;
  }
  return Rocks(it->status(), "cannot read the views' retention");
}

Status RowStore::NoteRetention(const std::vector<RowBatch>& batches, size_t applied) {
  rocksdb::WriteBatch changes;
  {
    std::lock_guard<std::mutex> lock(retention_mu_);
    for (size_t i = 0; i < applied && i < batches.size(); ++i) {
      const RowBatch& b = batches[i];
      if (b.writer != WriterKind::kJob || b.rows.empty()) continue;
      const std::string& view = b.rows.front().view();
      auto it = retention_.find(view);
      const int64_t before = it == retention_.end() ? 0 : it->second;
      if (before == b.view_retention_ms) continue;
      if (b.view_retention_ms > 0) {
        retention_[view] = b.view_retention_ms;
        std::string value;
        AppendBigEndian(&value, static_cast<uint64_t>(b.view_retention_ms), 8);
        changes.Put(RetentionKey(view), value);
      } else {
        retention_.erase(it);
        changes.Delete(RetentionKey(view));
      }
    }
  }
  if (changes.Count() == 0) return Status::Ok();
  return Rocks(db_->Write(rocksdb::WriteOptions(), &changes), "cannot record a view's retention");
}

std::map<std::string, int64_t> RowStore::Retentions() const {
  std::lock_guard<std::mutex> lock(retention_mu_);
  return {retention_.begin(), retention_.end()};
}

Result<std::map<std::string, uint64_t>> RowStore::ExpireRows(int64_t now_ms) {
  std::map<std::string, uint64_t> dropped;
  for (const auto& entry : Retentions()) {
    const std::string& view = entry.first;  // not a structured binding: the lambda below captures it
    const int64_t cutoff = now_ms - entry.second;
    std::string prefix(1, kRowTag);
    AppendComponent(&prefix, view);
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    rocksdb::WriteBatch deletes;
    std::vector<std::string> forget;  // feature prefixes that lost rows, for the read cache
    auto flush = [&]() -> Status {
      if (deletes.Count() == 0) return Status::Ok();
      WEIR_RETURN_IF_ERROR(Rocks(db_->Write(rocksdb::WriteOptions(), &deletes), "cannot drop expired rows"));
      dropped[view] += deletes.Count();
      deletes.Clear();
      if (latest_ != nullptr) {
        for (const std::string& p : forget) latest_->Forget(p);
      }
      forget.clear();
      return Status::Ok();
    };
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string_view key = View(it->key());
      if (key.size() <= kRowKeySuffixBytes || RowKeyWindowEnd(key) >= cutoff) continue;
      deletes.Delete(it->key());
      const std::string_view feature_prefix = key.substr(0, key.size() - kRowKeySuffixBytes);
      if (forget.empty() || forget.back() != feature_prefix) forget.emplace_back(feature_prefix);
      if (deletes.Count() >= kDeletesPerWrite) WEIR_RETURN_IF_ERROR(flush());
    }
    WEIR_RETURN_IF_ERROR(Rocks(it->status(), "cannot scan view \"" + view + "\" for expired rows"));
    WEIR_RETURN_IF_ERROR(flush());
  }
  return dropped;
}

}  // namespace weir::featurestore
