// RowStore on a real RocksDB in a temporary directory, and the gRPC services
// over it on a loopback port.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "daemon/auth.h"
#include "daemon/grpc_auth.h"
#include "daemon/grpc_util.h"
#include "featurestore/feature_store_service.h"
#include "featurestore/row_store.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/featurestore/store_test_rows.h"
#include "weir/v1/services.grpc.pb.h"

namespace fs = std::filesystem;
using weir::featurestore::RowBatch;
using weir::featurestore::RowStore;
using weir::featurestore::testing::Batch;
using weir::featurestore::testing::Row;
using weir::testing::TempDir;
using weir::v1::FeatureRow;

namespace {

// "key feature end value rN" for each row, sorted.
std::vector<std::string> Describe(const std::vector<FeatureRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    out.push_back(r.key() + " " + r.feature() + " " + std::to_string(r.window_end()) + " " +
                  std::to_string(static_cast<int64_t>(r.value().number())) + " r" + std::to_string(r.revision()));
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<FeatureRow> ExportAll(const RowStore& store) {
  std::vector<FeatureRow> rows;
  REQUIRE(store
              .Export("v",
                      [&](const FeatureRow& r) {
                        rows.push_back(r);
                        return true;
                      })
              .ok());
  return rows;
}

}  // namespace

TEST_CASE("reading or exporting a view never written, or a feature it never had, is NotFound naming it",
          "[featurestore]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  REQUIRE((*store)->Write(Batch({Row("u1", "n", 60000, 1), Row("u1", "sum", 60000, 5)})).ok());

  auto view = (*store)->GetOnline("nope", {"u1"}, {}, 1'000'000);
  REQUIRE_FALSE(view.ok());
  CHECK(view.status().code() == weir::StatusCode::kNotFound);
  CHECK(view.status().message().find("view \"nope\" is not in this feature store") != std::string::npos);
  auto feature = (*store)->GetOnline("v", {"u1"}, {"n", "avg"}, 1'000'000);
  REQUIRE_FALSE(feature.ok());
  CHECK(feature.status().code() == weir::StatusCode::kNotFound);
  CHECK(feature.status().message() == "view \"v\" has no feature \"avg\" (its features: n, sum)");
  const weir::Status exported = (*store)->Export("nope", [](const FeatureRow&) { return true; });
  CHECK(exported.code() == weir::StatusCode::kNotFound);
  // A known feature with no row for the key is not an error: just nothing.
  auto none = (*store)->GetOnline("v", {"nobody"}, {"n"}, 1'000'000);
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("online reads return the latest window and revision at or before as_of", "[featurestore]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  REQUIRE((*store)
              ->Write(Batch({Row("u1", "n", 60000, 1), Row("u1", "n", 120000, 2), Row("u1", "n", 120000, 3, 1),
                             Row("u1", "s", 60000, 10), Row("u2", "n", -60000, 7)}))
              .ok());
  auto latest = (*store)->GetOnline("v", {"u1", "u2", "nobody"}, {"n"}, 1'000'000);
  REQUIRE(latest.ok());
  CHECK(Describe(*latest) == std::vector<std::string>{"u1 n 120000 3 r1", "u2 n -60000 7 r0"});

  // Point in time: before the second window closed.
  auto past = (*store)->GetOnline("v", {"u1"}, {"n"}, 119999);
  REQUIRE(past.ok());
  CHECK(Describe(*past) == std::vector<std::string>{"u1 n 60000 1 r0"});

  // No features named: every feature of the key.
  auto all = (*store)->GetOnline("v", {"u1"}, {}, 1'000'000);
  REQUIRE(all.ok());
  CHECK(Describe(*all) == std::vector<std::string>{"u1 n 120000 3 r1", "u1 s 60000 10 r0"});
}

TEST_CASE("writing a batch again changes nothing (idempotent upserts)", "[featurestore]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  const auto batch = Batch({Row("u1", "n", 60000, 1), Row("u1", "n", 60000, 2, 1), Row("u2", "n", 60000, 5)});
  REQUIRE((*store)->Write(batch).ok());
  const auto once = Describe(ExportAll(**store));
  REQUIRE((*store)->Write(batch).ok());
  CHECK(Describe(ExportAll(**store)) == once);
  CHECK(once.size() == 3);
}

TEST_CASE("a write with an epoch older than the partition's highest is fenced", "[featurestore][fencing]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  REQUIRE((*store)->Write(Batch({Row("u1", "n", 60000, 1)}, 2)).ok());
  auto s = (*store)->Write(Batch({Row("u1", "n", 60000, 99)}, 1));
  CHECK(s.code() == weir::StatusCode::kFailedPrecondition);
  CHECK(s.message() ==
        "write fenced: job \"job\" partition 0 epoch 1 is older than epoch 2 (the partition has moved to another "
        "worker)");
  CHECK(Describe(ExportAll(**store)) == std::vector<std::string>{"u1 n 60000 1 r0"});
  // Other partitions have their own epochs; the same epoch may keep writing.
  CHECK((*store)->Write(Batch({Row("u2", "n", 60000, 3)}, 1, 1)).ok());
  CHECK((*store)->Write(Batch({Row("u3", "n", 60000, 4)}, 2)).ok());
}

TEST_CASE("rows and epochs survive a restart", "[featurestore]") {
  TempDir dir;
  {
    auto store = RowStore::Open(dir.path.string());
    REQUIRE(store.ok());
    REQUIRE((*store)->Write(Batch({Row("u1", "n", 60000, 1)}, 5)).ok());
  }
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  CHECK(Describe(ExportAll(**store)) == std::vector<std::string>{"u1 n 60000 1 r0"});
  auto epoch = (*store)->HighestEpoch("job", 0);
  REQUIRE(epoch.ok());
  CHECK(*epoch == 5);
}

TEST_CASE("a second process cannot open a store in use", "[featurestore]") {
  TempDir dir;
  auto first = RowStore::Open(dir.path.string());
  REQUIRE(first.ok());
  auto second = RowStore::Open(dir.path.string());
  REQUIRE_FALSE(second.ok());
  CHECK_THAT(second.status().message(), Catch::Matchers::Contains("cannot open the feature store in"));
}

TEST_CASE("the gRPC services write, read and export over loopback", "[featurestore][grpc]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  auto services = weir::featurestore::MakeFeatureStoreServices(store->get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(services.sink.get());
  builder.RegisterService(services.store.get());
  auto server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  REQUIRE(port > 0);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(10); };

  {  // Two batches on one stream, then a fenced one on another.
    auto sink = weir::v1::FeatureSink::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    weir::v1::WriteAck ack;
    auto writer = sink->Write(&ctx, &ack);
    weir::v1::WriteBatch b;
    b.set_job("job");
    b.set_epoch(3);
    b.set_batch_id(1);
    *b.add_rows() = Row("u1", "n", 60000, 1);
    REQUIRE(writer->Write(b));
    b.set_batch_id(2);
    *b.mutable_rows(0) = Row("u1", "n", 120000, 2);
    REQUIRE(writer->Write(b));
    writer->WritesDone();
    REQUIRE(writer->Finish().ok());
    CHECK(ack.last_batch_id() == 2);

    grpc::ClientContext ctx2;
    ctx2.set_deadline(deadline());
    auto zombie = sink->Write(&ctx2, &ack);
    b.set_epoch(2);
    b.set_batch_id(3);
    zombie->Write(b);
    zombie->WritesDone();
    const grpc::Status fenced = zombie->Finish();
    CHECK(fenced.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  }

  auto reader = weir::v1::FeatureStore::NewStub(channel);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    weir::v1::GetOnlineFeaturesRequest req;
    req.set_view("v");
    req.add_keys("u1");
    req.set_as_of_ms(100000);
    weir::v1::GetOnlineFeaturesResponse resp;
    REQUIRE(reader->GetOnlineFeatures(&ctx, req, &resp).ok());
    CHECK(Describe({resp.rows().begin(), resp.rows().end()}) == std::vector<std::string>{"u1 n 60000 1 r0"});
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    weir::v1::GetOnlineFeaturesRequest req;  // no view
    weir::v1::GetOnlineFeaturesResponse resp;
    const grpc::Status s = reader->GetOnlineFeatures(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(s.error_message() == "view is required");
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    weir::v1::ExportRequest req;
    req.set_view("v");
    auto stream = reader->Export(&ctx, req);
    std::vector<FeatureRow> rows;
    FeatureRow row;
    while (stream->Read(&row)) rows.push_back(row);
    REQUIRE(stream->Finish().ok());
    CHECK(Describe(rows) == std::vector<std::string>{"u1 n 120000 2 r0", "u1 n 60000 1 r0"});
  }
  server->Shutdown();
}

TEST_CASE("an import named like a job never fences or unfences that job's partitions", "[featurestore]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  REQUIRE((*store)->Write(Batch({Row("u1", "n", 60000, 1)}, 3)).ok());
  RowBatch import = Batch({Row("u1", "n", 60000, 999)}, 1000000);
  import.writer = weir::featurestore::WriterKind::kImport;
  REQUIRE((*store)->Write(import).ok());
  // The job's epoch is untouched: its owner at epoch 3 (and 4) still writes.
  auto epoch = (*store)->HighestEpoch("job", 0);
  REQUIRE(epoch.ok());
  CHECK(*epoch == 3);
  CHECK((*store)->Write(Batch({Row("u1", "n", 120000, 2)}, 3)).ok());
  auto imported = (*store)->HighestEpoch("job", 0, weir::featurestore::WriterKind::kImport);
  REQUIRE(imported.ok());
  CHECK(*imported == 1000000);
  // Imports are fenced among themselves.
  import.epoch = 5;
  const weir::Status stale = (*store)->Write(import);
  CHECK(stale.code() == weir::StatusCode::kFailedPrecondition);
  CHECK_THAT(stale.message(), Catch::Matchers::Contains("import fenced: writer \"job\""));
}

TEST_CASE("Write refuses an epoch no coordinator issued, Import is a separate method", "[featurestore][grpc]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  auto services = weir::featurestore::MakeFeatureStoreServices(store->get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(services.sink.get());
  auto server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  auto sink = weir::v1::FeatureSink::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  auto write = [&](bool import, uint64_t epoch) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    weir::v1::WriteAck ack;
    auto writer = import ? sink->Import(&ctx, &ack) : sink->Write(&ctx, &ack);
    weir::v1::WriteBatch b;
    b.set_job("job");
    b.set_epoch(epoch);
    b.set_batch_id(1);
    *b.add_rows() = Row("u1", "n", 60000, 1);
    writer->Write(b);
    writer->WritesDone();
    return writer->Finish();
  };
  const grpc::Status huge = write(false, uint64_t{1} << 63);
  CHECK(huge.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(huge.error_message(), Catch::Matchers::Contains("was never issued by a coordinator"));
  CHECK(write(true, uint64_t{1} << 63).ok());  // an importer's own namespace
  CHECK(write(false, 2).ok());                 // the job is not fenced
  auto epoch = (*store)->HighestEpoch("job", 0);
  REQUIRE(epoch.ok());
  CHECK(*epoch == 2);
  server->Shutdown();
}

TEST_CASE("with tokens, each store method needs its role, MakeChannel sends the configured token",
          "[featurestore][grpc]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  auto table = weir::TokenTable::Parse("t-worker worker\nt-reader reader\n", "tokens");
  REQUIRE(table.ok());
  const weir::Authorizer authorizer(std::move(*table));
  auto services = weir::featurestore::MakeFeatureStoreServices(store->get(), nullptr, &authorizer);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(services.sink.get());
  builder.RegisterService(services.store.get());
  auto server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  auto write = [&](const char* token) {
    auto sink = weir::v1::FeatureSink::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    if (token != nullptr) ctx.AddMetadata("authorization", std::string("Bearer ") + token);
    weir::v1::WriteAck ack;
    auto writer = sink->Write(&ctx, &ack);
    weir::v1::WriteBatch b;
    b.set_job("job");
    b.set_epoch(1);
    *b.add_rows() = Row("u1", "n", 60000, 1);
    writer->Write(b);
    writer->WritesDone();
    return writer->Finish();
  };
  const grpc::Status none = write(nullptr);
  CHECK(none.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  CHECK_THAT(none.error_message(), Catch::Matchers::Contains("needs a bearer token"));
  CHECK(write("t-nobody").error_code() == grpc::StatusCode::UNAUTHENTICATED);
  const grpc::Status reader = write("t-reader");
  CHECK(reader.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(reader.error_message() ==
        "FeatureSink.Write (a job's rows) needs a token with the role worker; this token has reader");
  CHECK(write("t-worker").ok());

  // A client configured with the reader's token file reads; the worker's cannot.
  auto read = [&](const std::string& token) {
    const fs::path token_file = dir.path / "token";
    std::ofstream(token_file) << token << "\n";
    weir::ClientSecurity security;
    security.token_file = token_file.string();
    REQUIRE(weir::ConfigureClientChannels(security).ok());
    auto reader_stub = weir::v1::FeatureStore::NewStub(weir::MakeChannel(address));
    grpc::ClientContext ctx;
    weir::v1::GetOnlineFeaturesRequest req;
    req.set_view("v");
    req.add_keys("u1");
    weir::v1::GetOnlineFeaturesResponse resp;
    const grpc::Status s = reader_stub->GetOnlineFeatures(&ctx, req, &resp);
    REQUIRE(weir::ConfigureClientChannels({}).ok());
    return s;
  };
  CHECK(read("t-reader").ok());
  CHECK(read("t-worker").error_code() == grpc::StatusCode::PERMISSION_DENIED);
  server->Shutdown();
}

TEST_CASE("concurrent writers of different partitions all land, and a stale writer is fenced once a newer one wrote",
          "[featurestore][fencing]") {
  TempDir dir;
  auto store = RowStore::Open(dir.path.string());
  REQUIRE(store.ok());
  constexpr int kWriters = 4;
  constexpr int kBatches = 40;
  std::atomic<bool> newer_written{false};
  std::atomic<int> stale_after_newer{0};
  std::atomic<int> failed{0};  // Catch2's assertions are not thread-safe: count, check after join
  std::vector<std::thread> threads;
  for (int p = 1; p <= kWriters; ++p) {
    threads.emplace_back([&, p] {
      for (int b = 0; b < kBatches; ++b) {
        const std::string key = "p" + std::to_string(p) + "-" + std::to_string(b);
        if (!(*store)->Write(Batch({Row(key, "n", 60000, b)}, 1, p)).ok()) ++failed;
      }
    });
  }
  // Partition 0: an old owner (epoch 1) keeps writing while the new owner (epoch 2) takes over.
  threads.emplace_back([&] {
    for (int b = 0; b < kBatches; ++b) {
      const bool after = newer_written.load();
      const weir::Status s = (*store)->Write(Batch({Row("old", "n", 60000 * (b + 1), 1)}, 1, 0));
      if (after && s.ok()) ++stale_after_newer;
    }
  });
  threads.emplace_back([&] {
    if (!(*store)->Write(Batch({Row("new", "n", 60000, 2)}, 2, 0)).ok()) ++failed;
    newer_written = true;
  });
  for (auto& t : threads) t.join();
  CHECK(failed.load() == 0);
  CHECK(stale_after_newer.load() == 0);
  size_t rows = 0;
  for (const auto& r : ExportAll(**store)) rows += r.key()[0] == 'p' ? 1 : 0;
  CHECK(rows == kWriters * kBatches);
  auto epoch = (*store)->HighestEpoch("job", 0);
  REQUIRE(epoch.ok());
  CHECK(*epoch == 2);
}
