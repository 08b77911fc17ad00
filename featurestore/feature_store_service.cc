#include "featurestore/feature_store_service.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "common/clock.h"
#include "daemon/grpc_auth.h"
#include "daemon/grpc_util.h"
#include "featurestore/key_owners.h"
#include "weir/v1/services.grpc.pb.h"

namespace weir::featurestore {
namespace {

namespace pb = weir::v1;

// The store's metrics; all null-safe so services work without a registry.
struct Metrics {
  prometheus::Counter* batches = nullptr;
  prometheus::Counter* rows = nullptr;
  prometheus::Counter* fenced = nullptr;
  prometheus::Counter* refused = nullptr;
  prometheus::Counter* key_conflicts = nullptr;
  prometheus::Gauge* writable = nullptr;
  prometheus::Gauge* disk_free = nullptr;
  prometheus::Histogram* write_seconds = nullptr;
  prometheus::Histogram* read_seconds = nullptr;

  static Metrics Register(prometheus::Registry* registry) {
    Metrics m;
    if (registry == nullptr) return m;
    const prometheus::Histogram::BucketBoundaries latency{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                          0.01,   0.025,   0.05,   0.1,   0.25,   1};
    m.batches = &prometheus::BuildCounter()
                     .Name("weir_store_write_batches_total")
                     .Help("Write batches applied")
                     .Register(*registry)
                     .Add({});
    m.rows = &prometheus::BuildCounter()
                  .Name("weir_store_rows_written_total")
                  .Help("Feature rows written (upserts, repeats included)")
                  .Register(*registry)
                  .Add({});
    m.fenced = &prometheus::BuildCounter()
                    .Name("weir_store_fenced_writes_total")
                    .Help("Write batches refused because their epoch was stale")
                    .Register(*registry)
                    .Add({});
    m.refused = &prometheus::BuildCounter()
                     .Name("weir_store_refused_writes_total")
                     .Help("Write batches refused because the disk is full or storage failed (retried by writers)")
                     .Register(*registry)
                     .Add({});
    m.key_conflicts = &prometheus::BuildCounter()
                           .Name("weir_store_key_conflict_rows_total")
                           .Help(
                               "Rows of a job's partition for keys another partition of that job wrote first "
                               "(the job's topic is not partitioned by its key)")
                           .Register(*registry)
                           .Add({});
    m.writable = &prometheus::BuildGauge()
                      .Name("weir_store_writable")
                      .Help("1 while writes are accepted, 0 while the disk is full or storage failed")
                      .Register(*registry)
                      .Add({});
    m.writable->Set(1);
    m.disk_free = &prometheus::BuildGauge()
                       .Name("weir_store_disk_free_bytes")
                       .Help("Free bytes in the data directory, when last looked at")
                       .Register(*registry)
                       .Add({});
    m.write_seconds = &prometheus::BuildHistogram()
                           .Name("weir_store_write_seconds")
                           .Help("Time to apply one write batch durably")
                           .Register(*registry)
                           .Add({}, latency);
    m.read_seconds = &prometheus::BuildHistogram()
                          .Name("weir_store_read_seconds")
                          .Help("Time to answer one GetOnlineFeatures request")
                          .Register(*registry)
                          .Add({}, latency);
    return m;
  }
};

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// FeatureSink.Write: applies the stream's batches in groups, one synced
// RocksDB write per group (a group closes at the end of the stream or at
// kGroupRows rows), so a worker's many small per-partition batches cost one
// fsync, not one each. The reply names the last batch applied. A fenced batch
// ends the stream with FAILED_PRECONDITION; the batches before it are applied.
//
// Import is the same for an offline backfill, fenced in the importers' own
// namespace (WriterKind::kImport), so it can never fence a job's partition.
class SinkService final : public pb::FeatureSink::Service {
 public:
  SinkService(RowStore* store, Metrics metrics, const Authorizer* authorizer, KeyOwners* key_owners)
      : store_(store), metrics_(metrics), authorizer_(authorizer), key_owners_(key_owners) {}

  grpc::Status Write(grpc::ServerContext* context, grpc::ServerReader<pb::WriteBatch>* reader,
                     pb::WriteAck* ack) override {
    if (auto s = Authorize(authorizer_, context, Role::kWorker, "FeatureSink.Write (a job's rows)"); !s.ok()) {
      return s;
    }
    return Apply(reader, ack, WriterKind::kJob);
  }

  grpc::Status Import(grpc::ServerContext* context, grpc::ServerReader<pb::WriteBatch>* reader,
                      pb::WriteAck* ack) override {
    if (auto s = Authorize(authorizer_, context, Role::kImporter, "FeatureSink.Import (a backfill)"); !s.ok()) {
      return s;
    }
    return Apply(reader, ack, WriterKind::kImport);
  }

 private:
  grpc::Status Apply(grpc::ServerReader<pb::WriteBatch>* reader, pb::WriteAck* ack, WriterKind writer) {
    constexpr size_t kGroupRows = 50000;
    std::vector<RowBatch> group;
    std::vector<uint64_t> ids;
    size_t group_rows = 0;
    std::map<std::pair<std::string, int32_t>, pb::KeyConflict> conflicts;  // by (job, partition)
    // The reply carries the conflicts of every batch applied, also when a
    // later batch ends the stream with an error.
    struct Reply {
      std::map<std::pair<std::string, int32_t>, pb::KeyConflict>* conflicts;
      pb::WriteAck* ack;
      ~Reply() {
        for (auto& [at, conflict] : *conflicts) *ack->add_key_conflicts() = std::move(conflict);
      }
    } reply{&conflicts, ack};
    auto apply = [&]() -> grpc::Status {
      if (group.empty()) return grpc::Status::OK;
      const auto start = std::chrono::steady_clock::now();
      size_t applied = 0;
      const Status s = store_->WriteGroup(group, &applied);
      if (metrics_.batches != nullptr && applied > 0) {
        size_t rows = 0;
        for (size_t i = 0; i < applied; ++i) rows += group[i].rows.size();
        metrics_.write_seconds->Observe(SecondsSince(start));
        metrics_.batches->Increment(static_cast<double>(applied));
        metrics_.rows->Increment(static_cast<double>(rows));
      }
      if (applied > 0) ack->set_last_batch_id(ids[applied - 1]);
      if (writer == WriterKind::kJob) {
        for (size_t i = 0; i < applied; ++i) ClaimKeys(group[i], &conflicts);
      }
      group.clear();
      ids.clear();
      group_rows = 0;
      if (!s.ok()) {
        if (s.code() == StatusCode::kFailedPrecondition && metrics_.fenced != nullptr) metrics_.fenced->Increment();
        if (s.code() == StatusCode::kUnavailable && metrics_.refused != nullptr) {
          metrics_.refused->Increment();
          metrics_.writable->Set(0);
        }
        return ToGrpcStatus(s);
      }
      return grpc::Status::OK;
    };
    pb::WriteBatch batch;
    while (reader->Read(&batch)) {
      if (batch.job().empty()) {
        if (auto s = apply(); !s.ok()) return s;
        return ToGrpcStatus(InvalidArgument("WriteBatch.job is empty"));
      }
      if (writer == WriterKind::kJob && batch.epoch() > MaxAcceptedEpoch(WallClockMs())) {
        if (auto s = apply(); !s.ok()) return s;
        return ToGrpcStatus(InvalidArgument("job \"" + batch.job() + "\" partition " +
                                            std::to_string(batch.partition()) + " epoch " +
                                            std::to_string(batch.epoch()) +
                                            " was never issued by a coordinator (it is above the wall-clock "
                                            "floor of re-epoched partitions); refused"));
      }
      RowBatch rows;
      rows.job = batch.job();
      rows.partition = batch.partition();
      rows.epoch = batch.epoch();
      rows.writer = writer;
      rows.view_retention_ms = batch.view_retention_ms();
      rows.rows.reserve(static_cast<size_t>(batch.rows_size()));
      for (pb::FeatureRow& row : *batch.mutable_rows()) {
        if (row.view().empty() || row.key().empty() || row.feature().empty()) {
          if (auto s = apply(); !s.ok()) return s;
          return ToGrpcStatus(InvalidArgument("batch " + std::to_string(batch.batch_id()) +
                                              " has a row with an empty view, key or feature; nothing of it "
                                              "was written"));
        }
        rows.rows.push_back(std::move(row));
      }
      group_rows += rows.rows.size();
      group.push_back(std::move(rows));
      ids.push_back(batch.batch_id());
      if (group_rows >= kGroupRows) {
        if (auto s = apply(); !s.ok()) return s;
      }
    }
    return apply();
  }

  // Claims the (view, key) of each row of a job's batch for its partition
  // (KeyOwners); a row whose key another partition of the job wrote first
  // counts in conflicts[(job, partition)], the first one described.
  void ClaimKeys(const RowBatch& batch, std::map<std::pair<std::string, int32_t>, pb::KeyConflict>* conflicts) {
    if (key_owners_ == nullptr || !key_owners_->enabled()) return;
    // A key's rows come together (one per feature), so consecutive rows of
    // the same (view, key) share one claim.
    const pb::FeatureRow* last = nullptr;
    std::optional<int32_t> owner;
    int64_t rows = 0;
    pb::KeyConflict* conflict = nullptr;
    for (const pb::FeatureRow& row : batch.rows) {
      if (last == nullptr || row.key() != last->key() || row.view() != last->view()) {
        owner = key_owners_->Claim(batch.job, row.view(), row.key(), batch.partition);
        last = &row;
      }
      if (!owner) continue;
      if (conflict == nullptr) {
        conflict = &(*conflicts)[{batch.job, batch.partition}];
        if (conflict->rows() == 0) {
          conflict->set_partition(batch.partition);
          conflict->set_view(row.view());
          conflict->set_key(row.key());
          conflict->set_owner_partition(*owner);
        }
      }
      conflict->set_rows(conflict->rows() + 1);
      ++rows;
    }
    if (rows > 0 && metrics_.key_conflicts != nullptr) metrics_.key_conflicts->Increment(static_cast<double>(rows));
  }

  RowStore* store_;
  Metrics metrics_;
  const Authorizer* authorizer_;
  KeyOwners* key_owners_;  // null: no check
};

// FeatureStore: GetOnlineFeatures on gRPC's callback API (answered inline on
// gRPC's callback threads: a read is a few seeks in memtables and cached
// blocks, so no thread hand-off and no pool of blocked threads per request),
// and Export on the sync API (a long stream).
class StoreService final : public pb::FeatureStore::WithCallbackMethod_GetOnlineFeatures<pb::FeatureStore::Service> {
 public:
  StoreService(RowStore* store, Metrics metrics, const Authorizer* authorizer)
      : store_(store), metrics_(metrics), authorizer_(authorizer) {}

  grpc::ServerUnaryReactor* GetOnlineFeatures(grpc::CallbackServerContext* context,
                                              const pb::GetOnlineFeaturesRequest* request,
                                              pb::GetOnlineFeaturesResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    // A request whose caller gave up (its deadline passed while it queued)
    // is not read: under overload, work goes to requests still wanted.
    if (context->IsCancelled()) {
      reactor->Finish({grpc::StatusCode::CANCELLED, "the caller cancelled, or its deadline passed, before the read"});
      return reactor;
    }
    reactor->Finish(Answer(context, request, response));
    return reactor;
  }

  // One response per request batch, in order; view and features come from
  // the first batch.
  grpc::Status GetHistoricalFeatures(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<pb::GetHistoricalFeaturesResponse, pb::GetHistoricalFeaturesRequest>* stream) override {
    if (auto s = Authorize(authorizer_, context, Role::kReader, "FeatureStore.GetHistoricalFeatures"); !s.ok()) {
      return s;
    }
    pb::GetHistoricalFeaturesRequest request;
    std::string view;
    std::vector<std::string> features;
    bool first = true;
    std::vector<pb::HistoricalColumn> columns;
    while (stream->Read(&request)) {
      if (first) {
        if (request.view().empty()) return ToGrpcStatus(InvalidArgument("view is required (in the first batch)"));
        view = request.view();
        features.assign(request.features().begin(), request.features().end());
        first = false;
      }
      const std::vector<std::string_view> keys(request.keys().begin(), request.keys().end());
      const std::vector<int64_t> timestamps(request.timestamps_ms().begin(), request.timestamps_ms().end());
      for (size_t i = 0; i < keys.size(); ++i) {
        if (keys[i].empty())
          return ToGrpcStatus(InvalidArgument("entity row " + std::to_string(i) + " has an empty key"));
      }
      if (Status s = store_->GetHistorical(view, features, keys, timestamps, &columns); !s.ok()) {
        return ToGrpcStatus(s);
      }
      pb::GetHistoricalFeaturesResponse response;
      for (pb::HistoricalColumn& c : columns) *response.add_columns() = std::move(c);
      if (!stream->Write(response)) return {grpc::StatusCode::CANCELLED, "the client went away"};
    }
    return grpc::Status::OK;
  }

  grpc::Status Export(grpc::ServerContext* context, const pb::ExportRequest* request,
                      grpc::ServerWriter<pb::FeatureRow>* writer) override {
    if (auto s = Authorize(authorizer_, context, Role::kReader, "FeatureStore.Export"); !s.ok()) return s;
    if (request->view().empty()) return ToGrpcStatus(InvalidArgument("view is required"));
    bool cancelled = false;
    const Status s = store_->Export(request->view(), [&](const pb::FeatureRow& row) {
      if (context->IsCancelled() || !writer->Write(row)) {
        cancelled = true;
        return false;
      }
      return true;
    });
    if (cancelled) return {grpc::StatusCode::CANCELLED, "export cancelled by the client"};
    return ToGrpcStatus(s);
  }

 private:
  grpc::Status Answer(const grpc::CallbackServerContext* context, const pb::GetOnlineFeaturesRequest* request,
                      pb::GetOnlineFeaturesResponse* response) {
    if (auto s = Authorize(authorizer_, context, Role::kReader, "FeatureStore.GetOnlineFeatures"); !s.ok()) return s;
    if (request->view().empty()) return ToGrpcStatus(InvalidArgument("view is required"));
    if (request->keys().empty()) return ToGrpcStatus(InvalidArgument("at least one key is required"));
    const auto start = std::chrono::steady_clock::now();
    // Without as_of: the latest row of all, whatever its times.
    int64_t as_of = request->as_of_ms();
    if (as_of == 0) as_of = std::numeric_limits<int64_t>::max();
    auto rows = store_->GetOnline(request->view(), {request->keys().begin(), request->keys().end()},
                                  {request->features().begin(), request->features().end()}, as_of);
    if (!rows.ok()) return ToGrpcStatus(rows.status());
    response->mutable_rows()->Reserve(static_cast<int>(rows->size()));
    for (auto& row : *rows) *response->add_rows() = std::move(row);
    if (metrics_.read_seconds != nullptr) metrics_.read_seconds->Observe(SecondsSince(start));
    return grpc::Status::OK;
  }

  RowStore* store_;
  Metrics metrics_;
  const Authorizer* authorizer_;
};

}  // namespace

uint64_t MaxAcceptedEpoch(int64_t now_ms) {
  constexpr int64_t kDayMs = 24LL * 60 * 60 * 1000;
  return static_cast<uint64_t>(std::max<int64_t>(now_ms, 0) + kDayMs);
}

FeatureStoreServices MakeFeatureStoreServices(RowStore* store, prometheus::Registry* registry,
                                              const Authorizer* authorizer, KeyOwners* key_owners) {
  const Metrics metrics = Metrics::Register(registry);
  FeatureStoreServices s;
  s.sink = std::make_unique<SinkService>(store, metrics, authorizer, key_owners);
  s.store = std::make_unique<StoreService>(store, metrics, authorizer);
  s.watch_storage = [store, metrics] {
    const StorageHealth health = store->CheckStorage();
    if (metrics.writable == nullptr) return;
    metrics.writable->Set(health.writable ? 1 : 0);
    metrics.disk_free->Set(static_cast<double>(health.free_bytes));
  };
  prometheus::Family<prometheus::Counter>* expired =
      registry == nullptr ? nullptr
                          : &prometheus::BuildCounter()
                                 .Name("weir_store_rows_expired_total")
                                 .Help("Rows dropped because their window ended before the view's retention")
                                 .Register(*registry);
  s.expire_rows = [store, expired] {
    auto dropped = store->ExpireRows(WallClockMs());
    if (!dropped.ok()) {
      spdlog::error("retention: {}", dropped.status().message());
      return;
    }
    for (const auto& [view, n] : *dropped) {
      spdlog::info("retention: dropped {} rows of view {} (window_end before its retention)", n, view);
      if (expired != nullptr) expired->Add({{"view", view}}).Increment(static_cast<double>(n));
    }
  };
  return s;
}

}  // namespace weir::featurestore
