// weir_store_bench: feature store ingest against raw RocksDB, in one run.
//
// Store: a RowStore with its gRPC services on a loopback port in this
// process; --streams client threads each call FeatureSink.Write over and over
// (--batches-per-call batches of --batch-rows rows per call, each call waits
// for its ack, as a worker's writer does), every row distinct.
// Raw: the same rows, with the same key and value bytes (the store's own
// codec), written by --streams threads straight into RocksDB with the same
// options, as WriteBatches of --batch-rows rows, each with a synced WAL.
// Both are timed from the first row sent to the last one acknowledged, and
// both stores are checked afterwards to hold every row.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <sys/resource.h>

#include <grpcpp/grpcpp.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <CLI/CLI.hpp>

#include "featurestore/feature_store_service.h"
#include "featurestore/row_codec.h"
#include "featurestore/row_store.h"
#include "weir/v1/services.grpc.pb.h"

namespace {

namespace pb = weir::v1;
using Clock = std::chrono::steady_clock;

struct Config {
  int64_t rows = 2'000'000;
  int streams = 4;
  int batch_rows = 1000;
  int batches_per_call = 10;
  int64_t keys = 100'000;
  std::string dir = "/tmp";
  int repeat = 1;
};

// A fresh directory, removed when done.
struct ScratchDir {
  std::filesystem::path path;
  explicit ScratchDir(const std::string& base) {
    std::string pattern = base + "/weir-store-bench-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(2);
    }
    path = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// Stream s's batches: rows [s*n, (s+1)*n) of the workload, partition s.
std::vector<pb::WriteBatch> MakeBatches(const Config& c, int stream) {
  const int64_t per_stream = c.rows / c.streams;
  std::vector<pb::WriteBatch> batches;
  for (int64_t first = 0; first < per_stream; first += c.batch_rows) {
    pb::WriteBatch b;
    b.set_job("bench");
    b.set_partition(stream);
    b.set_epoch(1);
    b.set_batch_id(static_cast<uint64_t>(batches.size() + 1));
    for (int64_t i = first; i < std::min(per_stream, first + c.batch_rows); ++i) {
      const int64_t n = stream * per_stream + i;
      pb::FeatureRow* row = b.add_rows();
      row->set_view("v");
      row->set_key("u" + std::to_string(n % c.keys));
      row->set_feature((n / c.keys) % 2 == 0 ? "count" : "sum");
      row->set_window_end(60000 * (1 + n / (c.keys * 2)));
      row->set_window_start(row->window_end() - 60000);
      row->mutable_value()->set_number(static_cast<double>(n));
    }
    batches.push_back(std::move(b));
  }
  return batches;
}

// CPU seconds this process has used (every thread, user and system).
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double RunStore(const Config& c, const std::vector<std::vector<pb::WriteBatch>>& work, int64_t* stored, double* cpu) {
  ScratchDir dir(c.dir);
  auto store = weir::featurestore::RowStore::Open(dir.path.string());
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.status().message().c_str());
    std::exit(2);
  }
  auto services = weir::featurestore::MakeFeatureStoreServices(store->get());
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.RegisterService(services.sink.get());
  builder.RegisterService(services.store.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  std::vector<std::unique_ptr<pb::FeatureSink::Stub>> stubs;
  for (int s = 0; s < c.streams; ++s) {
    grpc::ChannelArguments args;
    args.SetInt("weir.channel", s);  // a connection per stream
    args.SetMaxSendMessageSize(64 << 20);
    stubs.push_back(
        pb::FeatureSink::NewStub(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args)));
  }
  const auto start = Clock::now();
  *cpu = -CpuSeconds();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(c.streams));
  for (int s = 0; s < c.streams; ++s) {
    threads.emplace_back([&, s] {
      const auto& batches = work[static_cast<size_t>(s)];
      for (size_t first = 0; first < batches.size(); first += static_cast<size_t>(c.batches_per_call)) {
        grpc::ClientContext context;
        pb::WriteAck ack;
        auto stream = stubs[static_cast<size_t>(s)]->Write(&context, &ack);
        const size_t end = std::min(batches.size(), first + static_cast<size_t>(c.batches_per_call));
        for (size_t i = first; i < end; ++i) stream->Write(batches[i]);
        stream->WritesDone();
        const grpc::Status status = stream->Finish();
        if (!status.ok() || ack.last_batch_id() != batches[end - 1].batch_id()) {
          std::fprintf(stderr, "Write failed: %s\n", status.error_message().c_str());
          std::exit(2);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  *cpu += CpuSeconds();
  *stored = 0;
  const weir::Status exported = (*store)->Export("v", [&](const pb::FeatureRow&) {
    ++*stored;
    return true;
  });
  if (!exported.ok()) std::fprintf(stderr, "export: %s\n", exported.message().c_str());
  server->Shutdown();
  return seconds;
}

double RunRaw(const Config& c, const std::vector<std::vector<pb::WriteBatch>>& work, int64_t* stored, double* cpu) {
  ScratchDir dir(c.dir);
  // The store's options, with RocksDB's default concurrent memtable inserts
  // (unsorted batches from several threads gain from them; the store, which
  // sorts, turns them off).
  rocksdb::Options options = weir::featurestore::RowStore::DbOptions();
  options.allow_concurrent_memtable_write = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, dir.path.string(), &raw).ok()) std::exit(2);
  std::unique_ptr<rocksdb::DB> db(raw);
  const auto start = Clock::now();
  *cpu = -CpuSeconds();
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(c.streams));
  for (int s = 0; s < c.streams; ++s) {
    threads.emplace_back([&, s] {
      rocksdb::WriteOptions sync;
      sync.sync = true;
      rocksdb::WriteBatch wb;
      std::string key, value;
      for (const pb::WriteBatch& batch : work[static_cast<size_t>(s)]) {
        wb.Clear();
        for (const pb::FeatureRow& row : batch.rows()) {
          key.clear();
          value.clear();
          weir::featurestore::AppendRowKey(&key, row);
          weir::featurestore::AppendRowValue(&value, row);
          wb.Put(key, value);
        }
        if (!db->Write(sync, &wb).ok()) std::exit(2);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  *cpu += CpuSeconds();
  *stored = 0;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) *stored += it->key().starts_with("R") ? 1 : 0;
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): an exception here is a bug; let it abort loudly
  CLI::App app{"weir_store_bench: FeatureSink.Write ingest against raw RocksDB WriteBatch ingest"};
  Config c;
  app.add_option("--rows", c.rows, "Rows per run, all streams together")->capture_default_str();
  app.add_option("--streams", c.streams, "Concurrent client streams (and raw writer threads)")->capture_default_str();
  app.add_option("--batch-rows", c.batch_rows, "Rows per WriteBatch")->capture_default_str();
  app.add_option("--batches-per-call", c.batches_per_call, "WriteBatches per FeatureSink.Write call")
      ->capture_default_str();
  app.add_option("--keys", c.keys, "Distinct keys")->capture_default_str();
  app.add_option("--dir", c.dir, "Where the scratch databases go")->capture_default_str();
  app.add_option("--repeat", c.repeat, "Runs of each (raw, then store)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::vector<std::vector<pb::WriteBatch>> work;
  work.reserve(static_cast<size_t>(c.streams));
  for (int s = 0; s < c.streams; ++s) work.push_back(MakeBatches(c, s));
  const int64_t rows = c.rows / c.streams * c.streams;
  int failures = 0;
  for (int r = 0; r < c.repeat; ++r) {
    int64_t raw_stored = 0, store_stored = 0;
    double raw_cpu = 0, store_cpu = 0;
    const double raw_s = RunRaw(c, work, &raw_stored, &raw_cpu);
    const double store_s = RunStore(c, work, &store_stored, &store_cpu);
    const double raw_rate = static_cast<double>(rows) / raw_s;
    const double store_rate = static_cast<double>(rows) / store_s;
    std::printf(
        "store ingest: %.0f rows/s; raw RocksDB WriteBatch: %.0f rows/s; ratio %.2f (target >= 0.5, >= 1M rows/s)\n",
        store_rate, raw_rate, store_rate / raw_rate);
    // CPU per row (timed part only) counts every thread of this process, so
    // it holds still on a busy machine where rows/s do not; the store's
    // includes its gRPC clients.
    std::printf("  cpu per row: store %.2f us (clients included), raw %.2f us\n",
                store_cpu * 1e6 / static_cast<double>(rows), raw_cpu * 1e6 / static_cast<double>(rows));
    if (raw_stored != rows || store_stored != rows) {
      std::printf("  MISSING ROWS: wrote %lld, raw holds %lld, store holds %lld\n", static_cast<long long>(rows),
                  static_cast<long long>(raw_stored), static_cast<long long>(store_stored));
      ++failures;
    }
    std::fflush(stdout);
  }
  return failures == 0 ? 0 : 1;
}
