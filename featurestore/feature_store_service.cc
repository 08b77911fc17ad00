#include "featurestore/feature_store_service.h"

#include <chrono>

#include <grpcpp/grpcpp.h>

#include "weir/v1/services.grpc.pb.h"

namespace weir::featurestore {
namespace {

namespace pb = weir::v1;

grpc::Status ToGrpc(const Status& s) {
  switch (s.code()) {
    case StatusCode::kOk: return grpc::Status::OK;
    case StatusCode::kInvalidArgument: return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
    case StatusCode::kNotFound: return {grpc::StatusCode::NOT_FOUND, s.message()};
    case StatusCode::kAlreadyExists: return {grpc::StatusCode::ALREADY_EXISTS, s.message()};
    case StatusCode::kFailedPrecondition: return {grpc::StatusCode::FAILED_PRECONDITION, s.message()};
    case StatusCode::kDataLoss: return {grpc::StatusCode::DATA_LOSS, s.message()};
    case StatusCode::kUnavailable: return {grpc::StatusCode::UNAVAILABLE, s.message()};
    case StatusCode::kInternal: return {grpc::StatusCode::INTERNAL, s.message()};
  }
  return {grpc::StatusCode::UNKNOWN, s.message()};
}

// FeatureSink.Write: applies each batch as it arrives; the reply names the
// last batch applied. A fenced batch ends the stream with FAILED_PRECONDITION.
class SinkService final : public pb::FeatureSink::Service {
 public:
  explicit SinkService(RowStore* store) : store_(store) {}

  grpc::Status Write(grpc::ServerContext*, grpc::ServerReader<pb::WriteBatch>* reader, pb::WriteAck* ack) override {
    pb::WriteBatch batch;
    while (reader->Read(&batch)) {
      if (batch.job().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "WriteBatch.job is empty"};
      RowBatch rows;
      rows.job = batch.job();
      rows.partition = batch.partition();
      rows.epoch = batch.epoch();
      rows.rows.assign(batch.rows().begin(), batch.rows().end());
      const Status s = store_->Write(rows);
      if (!s.ok()) return ToGrpc(s);
      ack->set_last_batch_id(batch.batch_id());
    }
    return grpc::Status::OK;
  }

 private:
  RowStore* store_;
};

// FeatureStore: GetOnlineFeatures and Export.
class StoreService final : public pb::FeatureStore::Service {
 public:
  explicit StoreService(RowStore* store) : store_(store) {}

  grpc::Status GetOnlineFeatures(grpc::ServerContext*, const pb::GetOnlineFeaturesRequest* request,
                                 pb::GetOnlineFeaturesResponse* response) override {
    if (request->view().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "view is required"};
    if (request->keys().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "at least one key is required"};
    int64_t as_of = request->as_of_ms();
    if (as_of == 0) {
      as_of = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                  .count();
    }
    auto rows = store_->GetOnline(request->view(), {request->keys().begin(), request->keys().end()},
                                  {request->features().begin(), request->features().end()}, as_of);
    if (!rows.ok()) return ToGrpc(rows.status());
    for (auto& row : *rows) *response->add_rows() = std::move(row);
    return grpc::Status::OK;
  }

  grpc::Status Export(grpc::ServerContext* context, const pb::ExportRequest* request,
                      grpc::ServerWriter<pb::FeatureRow>* writer) override {
    if (request->view().empty()) return {grpc::StatusCode::INVALID_ARGUMENT, "view is required"};
    bool cancelled = false;
    const Status s = store_->Export(request->view(), [&](const pb::FeatureRow& row) {
      if (context->IsCancelled() || !writer->Write(row)) {
        cancelled = true;
        return false;
      }
      return true;
    });
    if (cancelled) return {grpc::StatusCode::CANCELLED, "export cancelled by the client"};
    return ToGrpc(s);
  }

 private:
  RowStore* store_;
};

}  // namespace

FeatureStoreServices MakeFeatureStoreServices(RowStore* store) {
  FeatureStoreServices s;
  s.sink = std::make_unique<SinkService>(store);
  s.store = std::make_unique<StoreService>(store);
  return s;
}

}  // namespace weir::featurestore
