#include "cli/features.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <utility>

#include <grpcpp/grpcpp.h>
#include <simdjson.h>

#include "cli/row_parse.h"
#include "daemon/grpc_util.h"
#include "engine/row_format.h"
#include "weir/v1/services.grpc.pb.h"

namespace weir::cli {
namespace {

namespace pb = weir::v1;

constexpr auto kRpcTimeout = std::chrono::seconds(30);

std::shared_ptr<grpc::Channel> Connect(const std::string& store) { return MakeChannel(store); }

// A gRPC failure as a Status that says which store and what to check. The
// code and the reason come from FromGrpcStatus (never an empty reason). The
// "is it running" hint is only for a store never reached: an UNAVAILABLE the
// store itself answered (its disk is full) carries its own reason.
Status RpcError(const grpc::Status& s, grpc::Channel& channel, const std::string& store, const std::string& what) {
  const Status status = FromGrpcStatus(s);
  std::string message = what + " at " + store + " failed: " + status.message();
  const bool reached = channel.GetState(false) == GRPC_CHANNEL_READY;
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      if (!reached) {
        message += " (is weir-featurestore running there? set --store or WEIR_STORE, and --tls-ca when it serves TLS)";
      }
      break;
    case grpc::StatusCode::UNIMPLEMENTED:  // something else answers there, say the coordinator
      message += "; set --store or WEIR_STORE to a weir-featurestore's address";
      break;
    default: break;
  }
  return Status(status.code(), std::move(message));
}

void AppendRow(std::string& out, const pb::FeatureRow& row) {
  engine::FeatureRow r;
  r.key = row.key();
  r.window_start = row.window_start();
  r.window_end = row.window_end();
  r.revision = row.revision();
  r.available_at = row.has_available_at() ? row.available_at() : row.window_end();
  if (row.value().kind_case() == pb::FeatureValue::kText) {
    r.value = engine::RowValue{true, 0, row.value().text()};
  } else {
    r.value = engine::RowValue{false, row.value().number(), {}};
  }
  engine::AppendRowJson(out, row.view(), row.feature(), r);
}

std::chrono::system_clock::time_point Deadline() { return std::chrono::system_clock::now() + kRpcTimeout; }

}  // namespace

Status FeaturesGet(const FeaturesGetOptions& options, std::ostream& out) {
  const auto channel = Connect(options.store);
  auto stub = pb::FeatureStore::NewStub(channel);
  pb::GetOnlineFeaturesRequest req;
  req.set_view(options.view);
  for (const auto& k : options.keys) req.add_keys(k);
  for (const auto& f : options.features) req.add_features(f);
  req.set_as_of_ms(options.as_of_ms);
  pb::GetOnlineFeaturesResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline());
  const grpc::Status s = stub->GetOnlineFeatures(&ctx, req, &resp);
  if (!s.ok()) return RpcError(s, *channel, options.store, "GetOnlineFeatures");
  std::string text;
  for (const auto& row : resp.rows()) AppendRow(text, row);
  out << text << std::flush;
  return Status::Ok();
}

Result<uint64_t> FeaturesExport(const std::string& store, const std::string& view, const std::string& output_path,
                                std::ostream& out) {
  std::ofstream file;
  std::ostream* sink = &out;
  if (!output_path.empty() && output_path != "-") {
    file.open(output_path);
    if (!file) {
      return InvalidArgument("cannot open output \"" + output_path + "\": " + std::strerror(errno));
    }
    sink = &file;
  }
  const auto channel = Connect(store);
  auto stub = pb::FeatureStore::NewStub(channel);
  pb::ExportRequest req;
  req.set_view(view);
  grpc::ClientContext ctx;  // no deadline: a large view takes as long as it takes
  auto reader = stub->Export(&ctx, req);
  pb::FeatureRow row;
  uint64_t rows = 0;
  std::string text;
  while (reader->Read(&row)) {
    AppendRow(text, row);
    ++rows;
    if (text.size() > (1 << 20)) {
      *sink << text;
      text.clear();
    }
  }
  const grpc::Status s = reader->Finish();
  if (!s.ok()) return RpcError(s, *channel, store, "Export");
  *sink << text << std::flush;
  if (!*sink) return Internal("cannot write output \"" + output_path + "\" (check free space and permissions)");
  return rows;
}

Result<uint64_t> FeaturesImport(const FeaturesImportOptions& options) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (options.input_path != "-") {
    file.open(options.input_path);
    if (!file) return NotFound("cannot open input \"" + options.input_path + "\": " + std::strerror(errno));
    in = &file;
  }
  const auto channel = Connect(options.store);
  auto stub = pb::FeatureSink::NewStub(channel);
  grpc::ClientContext ctx;
  pb::WriteAck ack;
  auto writer = stub->Import(&ctx, &ack);
  pb::WriteBatch batch;
  batch.set_job(options.job);
  batch.set_partition(options.partition);
  batch.set_epoch(options.epoch);
  uint64_t batch_id = 0;
  uint64_t rows = 0;
  bool stream_broken = false;
  auto send = [&] {
    if (batch.rows_size() == 0 || stream_broken) return;
    batch.set_batch_id(++batch_id);
    if (!writer->Write(batch)) stream_broken = true;  // the server ended the stream; Finish says why
    batch.clear_rows();
  };
  simdjson::dom::parser parser;
  std::string line;
  uint64_t line_no = 0;
  Status parse_error;
  while (!stream_broken && std::getline(*in, line)) {
    ++line_no;
    if (line.empty()) continue;
    pb::FeatureRow* row = batch.add_rows();
    parse_error = ParseRow(parser, line, row);
    if (!parse_error.ok()) break;
    ++rows;
    if (static_cast<size_t>(batch.rows_size()) >= options.batch_rows) send();
  }
  if (parse_error.ok()) send();
  if (!parse_error.ok()) ctx.TryCancel();
  writer->WritesDone();
  const grpc::Status s = writer->Finish();
  if (!parse_error.ok()) {
    return InvalidArgument("input \"" + options.input_path + "\" line " + std::to_string(line_no) + ": " +
                           parse_error.message() +
                           " (expected weirctl replay's row format); nothing after it was written");
  }
  if (!s.ok()) return RpcError(s, *channel, options.store, "Import");
  return rows;
}

}  // namespace weir::cli
