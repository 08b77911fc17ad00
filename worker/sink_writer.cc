#include "worker/sink_writer.h"

#include <algorithm>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include "daemon/grpc_util.h"
#include "weir/v1/services.grpc.pb.h"

namespace weir::worker {

struct SinkWriter::Stub {
  std::unique_ptr<weir::v1::FeatureSink::Stub> stub;
};

SinkWriter::SinkWriter(std::string address, SinkWriterOptions options, SinkWriterMetrics metrics)
    : address_(std::move(address)), options_(options), metrics_(std::move(metrics)), stub_(std::make_unique<Stub>()) {
  stub_->stub = weir::v1::FeatureSink::NewStub(MakeChannel(address_));
}

SinkWriter::~SinkWriter() { Stop(std::chrono::steady_clock::now()); }

void SinkWriter::Start() {
  thread_ = std::thread([this] { Run(); });
}

void SinkWriter::Stop(std::chrono::steady_clock::time_point deadline) {
  {
    weir::MutexLock lock(&mu_);
    if (!stopping_) {
      stopping_ = true;
      stop_deadline_ = deadline;
    }
  }
  if (thread_.joinable()) thread_.join();
  weir::MutexLock lock(&mu_);
  if (!queue_.empty()) {
    size_t rows = 0;
    for (const auto& b : queue_) rows += static_cast<size_t>(b.batch.rows_size());
    spdlog::warn("feature store {}: stopping with {} rows in {} batches unsent (the store was unreachable)", address_,
                 rows, queue_.size());
    queue_.clear();
  }
}

void SinkWriter::Enqueue(PendingRows rows) {
  weir::MutexLock lock(&mu_);
  pending_bytes_ += rows.bytes;
  queue_.push_back(std::move(rows));
  if (metrics_.pending_bytes != nullptr) metrics_.pending_bytes->Set(static_cast<double>(pending_bytes_));
}

void SinkWriter::Drop(const std::string& job, int32_t partition) {
  weir::MutexLock lock(&mu_);
  size_t freed = 0;
  auto gone = std::remove_if(queue_.begin(), queue_.end(), [&](const PendingRows& r) {
    if (r.batch.job() != job || r.batch.partition() != partition) return false;
    freed += r.bytes;
    return true;
  });
  queue_.erase(gone, queue_.end());
  pending_bytes_ -= freed;
}

bool SinkWriter::HasRoom() const {
  weir::MutexLock lock(&mu_);
  return pending_bytes_ < options_.max_pending_bytes;
}

bool SinkWriter::WaitForRoom(std::chrono::milliseconds max_wait) {
  weir::MutexLock lock(&mu_);
  auto has_room = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return pending_bytes_ < options_.max_pending_bytes; };
  return mu_.AwaitWithTimeout(absl::Condition(&has_room), absl::FromChrono(max_wait));
}

size_t SinkWriter::pending_bytes() const {
  weir::MutexLock lock(&mu_);
  return pending_bytes_;
}

void SinkWriter::Release(size_t bytes) {
  weir::MutexLock lock(&mu_);
  pending_bytes_ -= bytes;
  if (metrics_.pending_bytes != nullptr) metrics_.pending_bytes->Set(static_cast<double>(pending_bytes_));
}

void SinkWriter::Acknowledge(const PendingRows& rows) {
  rows.counters->rows_acked.fetch_add(rows.batch.rows_size(), std::memory_order_relaxed);
  if (metrics_.row_latency != nullptr) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - rows.first_row_at).count();
    const auto& bounds = metrics_.row_latency_buckets;
    std::vector<double> increments(bounds.size() + 1, 0.0);
    const auto bucket = std::lower_bound(bounds.begin(), bounds.end(), seconds) - bounds.begin();
    increments[static_cast<size_t>(bucket)] = rows.batch.rows_size();
    prometheus::Histogram*& histogram = row_latency_[rows.batch.job()];
    if (histogram == nullptr) histogram = &metrics_.row_latency->Add({{"job", rows.batch.job()}}, bounds);
    histogram->ObserveMultiple(increments, seconds * rows.batch.rows_size());
  }
}

int SinkWriter::SendStream(std::vector<PendingRows>& batches) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  weir::v1::WriteAck ack;
  std::unique_ptr<grpc::ClientWriter<weir::v1::WriteBatch>> stream = stub_->stub->Write(&context, &ack);
  for (PendingRows& b : batches) {
    b.batch.set_batch_id(++next_batch_id_);
    if (!stream->Write(b.batch)) break;  // the stream failed; Finish says why
  }
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (status.ok()) {
    size_t bytes = 0;
    for (const PendingRows& b : batches) {
      Acknowledge(b);
      bytes += b.bytes;
    }
    batches.clear();
    Release(bytes);
  } else if (status.error_code() != grpc::StatusCode::FAILED_PRECONDITION) {
    spdlog::warn("feature store {}: write failed ({}: {}); retrying", address_, static_cast<int>(status.error_code()),
                 status.error_message());
  }
  return static_cast<int>(status.error_code());
}

bool SinkWriter::SendOneByOne(std::vector<PendingRows>& batches) {
  while (!batches.empty()) {
    std::vector<PendingRows> one;
    one.push_back(std::move(batches.front()));
    const int code = SendStream(one);
    if (code == static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION)) {
      const PendingRows& b = one.front();
      spdlog::warn("feature store {}: job {} partition {} epoch {} is fenced (a newer owner wrote); stopping it",
                   address_, b.batch.job(), b.batch.partition(), b.batch.epoch());
      b.counters->fenced.store(true);
      if (metrics_.fenced_batches != nullptr) metrics_.fenced_batches->Increment();
      Release(b.bytes);
      one.clear();
    } else if (!one.empty()) {
      batches.front() = std::move(one.front());
      return false;
    }
    batches.erase(batches.begin());
  }
  return true;
}

void SinkWriter::Run() {
  std::vector<PendingRows> inflight;
  auto backoff = options_.backoff_initial;
  for (;;) {
    {
      weir::MutexLock lock(&mu_);
      auto has_work = [&]()
                          ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_ || !queue_.empty() || !inflight.empty(); };
      mu_.Await(absl::Condition(&has_work));
      if (stopping_ && (std::chrono::steady_clock::now() >= stop_deadline_ || (queue_.empty() && inflight.empty()))) {
        // What is still in flight goes back to the queue so Stop reports it.
        for (auto it = inflight.rbegin(); it != inflight.rend(); ++it) queue_.push_front(std::move(*it));
        return;
      }
      size_t bytes = 0;
      for (const PendingRows& b : inflight) bytes += b.bytes;
      // A fenced partition's queued rows are dropped without sending.
      while (!queue_.empty() && (inflight.empty() || bytes + queue_.front().bytes <= options_.max_request_bytes)) {
        if (queue_.front().counters->fenced.load()) {
          pending_bytes_ -= queue_.front().bytes;
          queue_.pop_front();
          continue;
        }
        bytes += queue_.front().bytes;
        inflight.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (inflight.empty()) continue;
    const int code = SendStream(inflight);
    bool ok = code == static_cast<int>(grpc::StatusCode::OK);
    if (code == static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION)) ok = SendOneByOne(inflight);
    if (ok) {
      backoff = options_.backoff_initial;
      continue;
    }
    if (metrics_.retries != nullptr) metrics_.retries->Increment();
    weir::MutexLock lock(&mu_);
    auto stop_due = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return stopping_ && std::chrono::steady_clock::now() >= stop_deadline_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&stop_due), absl::FromChrono(backoff));
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

}  // namespace weir::worker
