// The stored form of feature rows: compact values round-trip, and values
// written before the compact form (whole FeatureRow protobufs) are still read,
// by the codec and by a RowStore opened over them.
#include <catch2/catch.hpp>

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include "featurestore/row_codec.h"
#include "featurestore/row_store.h"
#include "tests/support/temp_dir.h"

using weir::featurestore::AppendRowKey;
using weir::featurestore::AppendRowValue;
using weir::featurestore::DecodeRow;
using weir::featurestore::RowStore;
using weir::testing::TempDir;
using weir::v1::FeatureRow;

namespace {

FeatureRow Row(const std::string& key, const std::string& feature, int64_t start, int64_t end, uint32_t revision) {
  FeatureRow r;
  r.set_view("view one");
  r.set_key(key);
  r.set_feature(feature);
  r.set_window_start(start);
  r.set_window_end(end);
  r.set_revision(revision);
  return r;
}

std::string Key(const FeatureRow& row) {
  std::string k;
  AppendRowKey(&k, row);
  return k;
}

std::string Value(const FeatureRow& row) {
  std::string v;
  AppendRowValue(&v, row);
  return v;
}

}  // namespace

TEST_CASE("compact row values round-trip every field through key and value", "[featurestore][codec]") {
  std::vector<FeatureRow> rows;
  rows.push_back(Row("u1", "count", 60000, 120000, 0));
  rows.back().mutable_value()->set_number(42.5);
  rows.push_back(Row(std::string(300, 'k'), "last_city", -120000, -60000, 7));  // long key, negative times
  rows.back().mutable_value()->set_text(std::string("Z\xc3\xbcrich\0x", 9));
  rows.push_back(Row("u2", "sum", 1'700'000'000'000, 1'700'000'060'000, 4'000'000'000U));
  rows.back().mutable_value()->set_number(-0.0);
  rows.push_back(Row("u3", "n", 5, 5, 1));  // an empty window, no value
  rows.back().set_available_at(5);
  rows[0].set_available_at(125000);
  rows[1].set_available_at(-1);  // before its end: kept as it is
  rows[2].set_available_at(1'700'000'065'432);
  for (const FeatureRow& row : rows) {
    const std::string value = Value(row);
    CHECK(value[0] == '\x02');
    CHECK(value.size() < row.ByteSizeLong());  // view, key and feature live only in the key
    FeatureRow back;
    REQUIRE(DecodeRow(Key(row), value, &back));
    CHECK(back.SerializeAsString() == row.SerializeAsString());
  }
}

TEST_CASE("a value written before the compact form (a FeatureRow protobuf) is still decoded", "[featurestore][codec]") {
  FeatureRow row = Row("u1", "count", 0, 60000, 2);
  row.mutable_value()->set_number(3);
  const std::string legacy = row.SerializeAsString();
  REQUIRE(legacy[0] == '\x0a');  // field 1 (view), never the compact marker
  FeatureRow back;
  REQUIRE(DecodeRow(Key(row), legacy, &back));
  CHECK(back.available_at() == 60000);  // taken as available at its end
  back.clear_available_at();
  CHECK(back.SerializeAsString() == legacy);
}

TEST_CASE("a compact value written before available_at is available at its window end", "[featurestore][codec]") {
  FeatureRow row = Row("u1", "count", 0, 60000, 2);
  row.mutable_value()->set_number(3);
  // 0x01, number, zigzag(60000), then the double: the form before available_at.
  std::string old("\x01\x01", 2);
  for (uint64_t n = 120000; n >= 0x80; n >>= 7) old.push_back(static_cast<char>(n | 0x80));
  old.push_back(static_cast<char>(120000 >> 14));
  const double three = 3;
  old.append(reinterpret_cast<const char*>(&three), sizeof three);
  FeatureRow back;
  REQUIRE(DecodeRow(Key(row), old, &back));
  CHECK(back.available_at() == 60000);
  CHECK(weir::featurestore::RowAvailableAt(Key(row), old) == 60000);
  CHECK(back.value().number() == 3);
  CHECK(back.window_start() == 0);
  // A row written without available_at (an import of an old export) gets its end.
  CHECK(weir::featurestore::RowAvailableAt(Key(row), Value(row)) == 60000);
  row.set_available_at(61234);
  CHECK(weir::featurestore::RowAvailableAt(Key(row), Value(row)) == 61234);
}

TEST_CASE("malformed stored values and keys are refused, not misread", "[featurestore][codec]") {
  FeatureRow row = Row("u1", "count", 0, 60000, 0);
  row.mutable_value()->set_number(1);
  const std::string key = Key(row);
  const std::string value = Value(row);
  FeatureRow back;
  CHECK_FALSE(DecodeRow(key, "", &back));
  CHECK_FALSE(DecodeRow(key, value.substr(0, value.size() - 1), &back));  // a truncated number
  CHECK_FALSE(DecodeRow(key, std::string("\x01\x09\x00", 3), &back));     // an unknown kind
  CHECK_FALSE(DecodeRow(key.substr(0, key.size() - 1), value, &back));    // a truncated key
}

TEST_CASE("a store holding rows in the old protobuf form reads, exports and overwrites them", "[featurestore][codec]") {
  TempDir dir;
  FeatureRow old = Row("u1", "n", 0, 60000, 0);
  old.mutable_value()->set_number(1);
  {
    // A store as written before the compact form: protobuf values, catalog built.
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(options, dir.path.string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    REQUIRE(db->Put(rocksdb::WriteOptions(), Key(old), old.SerializeAsString()).ok());
  }
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  auto read = (*store)->GetOnline("view one", {"u1"}, {"n"}, 1'000'000);
  REQUIRE(read.ok());
  REQUIRE(read->size() == 1);
  CHECK((*read)[0].available_at() == 60000);
  (*read)[0].clear_available_at();
  CHECK((*read)[0].SerializeAsString() == old.SerializeAsString());

  // A newer window written now (compact) is the one read; both export.
  weir::featurestore::RowBatch batch;
  batch.job = "job";
  batch.epoch = 1;
  FeatureRow newer = Row("u1", "n", 60000, 120000, 0);
  newer.mutable_value()->set_number(2);
  batch.rows.push_back(newer);
  REQUIRE((*store)->Write(batch).ok());
  read = (*store)->GetOnline("view one", {"u1"}, {}, 1'000'000);
  REQUIRE(read.ok());
  REQUIRE(read->size() == 1);
  CHECK((*read)[0].value().number() == 2);
  std::vector<double> exported;
  REQUIRE((*store)
              ->Export("view one",
                       [&](const FeatureRow& r) {
                         exported.push_back(r.value().number());
                         return true;
                       })
              .ok());
  CHECK(exported == std::vector<double>{2, 1});
}
