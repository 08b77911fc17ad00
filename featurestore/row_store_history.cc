// RowStore's point-in-time join (GetHistorical): the historical read path,
// apart from the write and online paths in row_store.cc.
#include <algorithm>
#include <cstring>
#include <numeric>

#include <rocksdb/db.h>

#include "featurestore/row_codec.h"
#include "featurestore/row_store.h"

namespace weir::featurestore {
namespace {

std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

}  // namespace

Status RowStore::GetHistorical(const std::string& view, const std::vector<std::string>& features,
                               const std::vector<std::string_view>& keys, const std::vector<int64_t>& timestamps,
                               std::vector<weir::v1::HistoricalColumn>* columns) const {
  if (keys.size() != timestamps.size()) {
    return InvalidArgument("entity rows need one timestamp per key (" + std::to_string(keys.size()) + " keys, " +
                           std::to_string(timestamps.size()) + " timestamps)");
  }
  WEIR_RETURN_IF_ERROR(CheckKnown(view, features));
  std::vector<std::string> names = features;
  if (names.empty()) {
    auto all = Features(view);
    if (!all.ok()) return all.status();
    names = std::move(*all);
  }
  const size_t n = keys.size();
  // Entity rows by key, then newest timestamp first: one seek per key and
  // feature, then one forward walk serves all of that key's rows.
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0U);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    if (keys[a] != keys[b]) return keys[a] < keys[b];
    return timestamps[a] > timestamps[b];
  });

  columns->clear();
  columns->resize(names.size());
  for (size_t f = 0; f < names.size(); ++f) {
    weir::v1::HistoricalColumn& c = (*columns)[f];
    c.set_feature(names[f]);
    c.mutable_found()->Resize(static_cast<int>(n), false);
    c.mutable_numbers()->Resize(static_cast<int>(n), 0.0);
    c.mutable_window_ends()->Resize(static_cast<int>(n), 0);
  }

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  weir::v1::FeatureRow row;
  std::string prefix;
  std::string target;
  for (size_t group = 0; group < n;) {
    size_t end = group + 1;
    while (end < n && keys[order[end]] == keys[order[group]]) ++end;
    const std::string_view key = keys[order[group]];
    const int64_t newest = timestamps[order[group]];
    for (size_t f = 0; f < names.size(); ++f) {
      weir::v1::HistoricalColumn& c = (*columns)[f];
      prefix.clear();
      AppendFeaturePrefix(&prefix, view, key, names[f]);
      // No row with window_end > newest can be available by then
      // (available_at >= window_end): start at newest's window.
      target = prefix;
      AppendBigEndian(&target, DescendingTime(newest), 8);
      AppendBigEndian(&target, 0, 4);
      it->Seek(target);
      // Rows come in descending (window_end, revision); the row for T is the
      // first one with available_at <= T, so for descending T the cursor only
      // moves forward.
      bool decoded = false;  // `row` holds the cursor's row
      for (size_t i = group; i < end; ++i) {
        const uint32_t e = order[i];
        const int64_t t = timestamps[e];
        while (it->Valid() && it->key().starts_with(prefix) && RowAvailableAt(View(it->key()), View(it->value())) > t) {
          it->Next();
          decoded = false;
        }
        if (!it->Valid() || !it->key().starts_with(prefix)) break;  // nothing for this or older times
        if (!decoded) {
          if (!DecodeRow(View(it->key()), View(it->value()), &row)) {
            return DataLoss("a stored feature row is corrupt (view \"" + view + "\")");
          }
          decoded = true;
        }
        c.set_found(static_cast<int>(e), true);
        c.set_window_ends(static_cast<int>(e), row.window_end());
        if (row.value().kind_case() == weir::v1::FeatureValue::kText) {
          (*c.mutable_texts())[e] = row.value().text();
        } else {
          c.set_numbers(static_cast<int>(e), row.value().number());
        }
      }
      if (!it->status().ok()) return Internal("cannot read features: " + it->status().ToString());
    }
    group = end;
  }
  return Status::Ok();
}

}  // namespace weir::featurestore
