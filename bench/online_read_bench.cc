// weir_online_read_bench: GetOnlineFeatures latency at a fixed request rate,
// open loop: request i is due at start + i/rate, and its latency is measured
// from when it was due (so a stalled server shows up in the figures instead
// of slowing the client down: no coordinated omission). Requests are sent
// with gRPC's callback API, so a sender never waits for an answer.
//
// Each request asks for --keys-per-request random keys of --keys (key names
// PREFIX0..N-1) and every feature of --view. Prints the achieved rate,
// p50/p90/p99/p99.9/max and, with --target-p99-ms, the target line.
//
// --populate first writes --keys keys x 2 features x --windows windows of
// --view through FeatureSink.Write (so the store holds a known data set).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <CLI/CLI.hpp>

#include "weir/v1/services.grpc.pb.h"

namespace {

// Writes keys x {count, sum} x windows rows of `view` (epoch 1, partition 0
// of job "read-bench"), 1000 rows per batch, 20 batches per call.
bool Populate(const std::string& store, const std::string& view, const std::string& key_prefix, int keys, int windows) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(64 << 20);
  auto stub =
      weir::v1::FeatureSink::NewStub(grpc::CreateCustomChannel(store, grpc::InsecureChannelCredentials(), args));
  const int64_t total = int64_t{keys} * 2 * windows;
  uint64_t batch_id = 0;
  for (int64_t first = 0; first < total;) {
    grpc::ClientContext context;
    weir::v1::WriteAck ack;
    auto stream = stub->Write(&context, &ack);
    for (int b = 0; b < 20 && first < total; ++b) {
      weir::v1::WriteBatch batch;
      batch.set_job("read-bench");
      batch.set_epoch(1);
      batch.set_batch_id(++batch_id);
      for (int64_t i = first; i < std::min(total, first + 1000); ++i) {
        weir::v1::FeatureRow* row = batch.add_rows();
        row->set_view(view);
        row->set_key(key_prefix + std::to_string(i % keys));
        row->set_feature((i / keys) % 2 == 0 ? "count" : "sum");
        row->set_window_end(60000 * (1 + i / (int64_t{keys} * 2)));
        row->set_window_start(row->window_end() - 60000);
        row->mutable_value()->set_number(static_cast<double>(i));
      }
      first = std::min(total, first + 1000);
      stream->Write(batch);
    }
    stream->WritesDone();
    const grpc::Status s = stream->Finish();
    if (!s.ok()) {
      std::fprintf(stderr, "populate: Write failed: %s\n", s.error_message().c_str());
      return false;
    }
  }
  std::printf("populated: %lld rows\n", static_cast<long long>(total));
  return true;
}

}  // namespace

int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): an exception here is a bug; let it abort loudly
  CLI::App app{"weir_online_read_bench: GetOnlineFeatures latency at a fixed request rate"};
  std::string store = "127.0.0.1:7070";
  std::string view;
  std::string key_prefix = "u";
  int keys = 1000;
  double rate = 10000;
  double seconds = 10;
  int threads = 4;
  int keys_per_request = 1;
  bool populate = false;
  int windows = 10;
  double target_p99_ms = 0;
  app.add_option("--store", store, "Feature store address")->capture_default_str();
  app.add_option("--view", view, "Feature view")->required();
  app.add_option("--key-prefix", key_prefix, "Key names are PREFIX0..PREFIX(N-1)")->capture_default_str();
  app.add_option("--keys", keys, "Distinct keys")->capture_default_str();
  app.add_option("--rate", rate, "Requests per second, all threads together")->capture_default_str();
  app.add_option("--seconds", seconds, "How long to run")->capture_default_str();
  app.add_option("--threads", threads,
                 "Client threads sending (each its own channel); answers arrive on gRPC's threads")
      ->capture_default_str();
  app.add_option("--keys-per-request", keys_per_request, "Random keys asked for in each request")
      ->capture_default_str();
  app.add_flag("--populate", populate, "First write --keys keys x 2 features x --windows windows of --view");
  app.add_option("--windows", windows, "Windows per key and feature written by --populate")->capture_default_str();
  app.add_option("--target-p99-ms", target_p99_ms, "Print whether p99 met this target")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (populate && !Populate(store, view, key_prefix, keys, windows)) return 2;

  using Clock = std::chrono::steady_clock;
  const int64_t total = static_cast<int64_t>(rate * seconds);
  // One slot per request, written by its completion: the senders never wait
  // for an answer (gRPC's callback API), so a slow server cannot slow the
  // request rate down.
  std::vector<double> latency_slots(static_cast<size_t>(total), -1);
  std::atomic<int64_t> errors{0}, empty{0}, outstanding{0};
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  struct Call {
    grpc::ClientContext context;
    weir::v1::GetOnlineFeaturesRequest request;
    weir::v1::GetOnlineFeaturesResponse response;
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      grpc::ChannelArguments args;
      args.SetInt("weir.channel", t);  // a distinct channel (and connection) per thread
      auto stub =
          weir::v1::FeatureStore::NewStub(grpc::CreateCustomChannel(store, grpc::InsecureChannelCredentials(), args));
      std::mt19937_64 rng(static_cast<uint64_t>(t) + 1);
      for (int64_t i = t; i < total; i += threads) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(i) / rate));
        std::this_thread::sleep_until(due);
        auto* call = new Call;
        call->request.set_view(view);
        for (int k = 0; k < keys_per_request; ++k) {
          call->request.add_keys(key_prefix + std::to_string(rng() % static_cast<uint64_t>(keys)));
        }
        call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        ++outstanding;
        stub->async()->GetOnlineFeatures(&call->context, &call->request, &call->response,
                                         [&, call, i, due](const grpc::Status& s) {
                                           latency_slots[static_cast<size_t>(i)] =
                                               std::chrono::duration<double, std::milli>(Clock::now() - due).count();
                                           if (!s.ok()) ++errors;
                                           if (s.ok() && call->response.rows_size() == 0) ++empty;
                                           delete call;
                                           --outstanding;
                                         });
      }
      // The stub and channel must outlive this thread's calls.
      while (outstanding.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
  }
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all = std::move(latency_slots);
  std::sort(all.begin(), all.end());
  auto q = [&](double p) {
    return all.empty() ? 0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf("GetOnlineFeatures: %zu requests in %.2f s = %.0f req/s (target %.0f), %lld errors, %lld empty\n",
              all.size(), elapsed, static_cast<double>(all.size()) / elapsed, rate,
              static_cast<long long>(errors.load()), static_cast<long long>(empty.load()));
  std::printf("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", q(0.5), q(0.9), q(0.99), q(0.999),
              all.empty() ? 0 : all.back());
  if (target_p99_ms > 0) {
    std::printf("online read, %d key(s)/request at %.0f req/s: p99 %.3f ms; target p99 <= %.1f ms; ratio %.2f (%s)\n",
                keys_per_request, rate, q(0.99), target_p99_ms, q(0.99) / target_p99_ms,
                q(0.99) <= target_p99_ms ? "met" : "NOT met");
  }
  return errors.load() == 0 ? 0 : 1;
}
