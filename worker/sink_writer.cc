#include "worker/sink_writer.h"

#include <algorithm>
#include <limits>

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include "daemon/grpc_util.h"
#include "weir/v1/services.grpc.pb.h"
#include "worker/write_batches.h"

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
  size_t rows = 0;
  size_t batches = 0;
  for (const auto& [job, q] : jobs_) {
    for (const Queued& b : q.queued) rows += static_cast<size_t>(b.rows.batch.rows_size());
    batches += q.queued.size();
  }
  if (batches > 0) {
    spdlog::warn("feature store {}: stopping with {} rows in {} batches unsent (the store was unreachable)", address_,
                 rows, batches);
  }
  if (!held_.empty()) {
    spdlog::error(
        "feature store {}: stopping with {} dead letters of refused rows not queued (their topic had no room)",
        address_, held_.size());
    held_.clear();
  }
  jobs_.clear();
  pending_bytes_ = 0;
  SetPendingGauge();
}

void SinkWriter::Enqueue(PendingRows rows) {
  // CPU only, outside the lock: cut the rows into messages the store takes.
  SplitRows split = SplitForMessages(std::move(rows), WriteBatchBudget(options_.max_message_bytes));
  if (split.too_large.batch.rows_size() > 0) {
    Refuse(split.too_large,
           "the row alone is larger than the feature store's message limit (" +
               std::to_string(options_.max_message_bytes >> 20) +
               " MiB, --max-message-mib): shorten its key or text value, or raise the limit on the store and the "
               "workers");
  }
  weir::MutexLock lock(&mu_);
  for (PendingRows& b : split.batches) {
    JobQueue& q = jobs_[b.batch.job()];
    q.pending_bytes += b.bytes;
    pending_bytes_ += b.bytes;
    q.queued.push_back(Queued{std::move(b), next_seq_++});
  }
  SetPendingGauge();
}

void SinkWriter::Drop(const std::string& job, int32_t partition) {
  size_t rows = 0;
  {
    weir::MutexLock lock(&mu_);
    auto it = jobs_.find(job);
    if (it == jobs_.end()) return;
    JobQueue& q = it->second;
    size_t freed = 0;
    auto gone = std::remove_if(q.queued.begin(), q.queued.end(), [&](const Queued& b) {
      if (b.rows.batch.partition() != partition) return false;
      freed += b.rows.bytes;
      rows += static_cast<size_t>(b.rows.batch.rows_size());
      return true;
    });
    q.queued.erase(gone, q.queued.end());
    q.pending_bytes -= freed;
    pending_bytes_ -= freed;
    // Rows in flight are dropped when their attempt ends, whatever its result.
    if (q.in_flight) dropped_before_[{job, partition}] = next_seq_;
    if (!q.in_flight && q.queued.empty()) jobs_.erase(it);
    SetPendingGauge();
  }
  if (rows > 0) {
    if (metrics_.dropped_rows != nullptr) metrics_.dropped_rows->Increment(static_cast<double>(rows));
    spdlog::info("feature store {}: job {} partition {} given up; {} rows not yet written are dropped", address_, job,
                 partition, rows);
  }
}

bool SinkWriter::HasRoom(const std::string& job) const { return pending_bytes(job) < options_.max_pending_bytes; }

bool SinkWriter::WaitForRoom(const std::string& job, std::chrono::milliseconds max_wait) {
  weir::MutexLock lock(&mu_);
  auto has_room = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    auto it = jobs_.find(job);
    return it == jobs_.end() || it->second.pending_bytes < options_.max_pending_bytes;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&has_room), absl::FromChrono(max_wait));
}

size_t SinkWriter::pending_bytes(const std::string& job) const {
  weir::MutexLock lock(&mu_);
  auto it = jobs_.find(job);
  return it == jobs_.end() ? 0 : it->second.pending_bytes;
}

size_t SinkWriter::pending_bytes() const {
  weir::MutexLock lock(&mu_);
  return pending_bytes_;
}

void SinkWriter::SetPendingGauge() {
  if (metrics_.pending_bytes != nullptr) metrics_.pending_bytes->Set(static_cast<double>(pending_bytes_));
}

void SinkWriter::Release(const std::string& job, size_t bytes) {
  weir::MutexLock lock(&mu_);
  pending_bytes_ -= bytes;
  if (auto it = jobs_.find(job); it != jobs_.end()) it->second.pending_bytes -= bytes;
  SetPendingGauge();
}

void SinkWriter::Acknowledge(const PendingRows& rows) {
  if (rows.counters->rows_acked.fetch_add(rows.batch.rows_size(), std::memory_order_relaxed) == 0 &&
      rows.batch.rows_size() > 0) {
    // Once per partition and epoch: when a new owner's output resumed (recovery times are read from it).
    spdlog::info("job {} partition {}: first rows written at epoch {}", rows.batch.job(), rows.batch.partition(),
                 rows.batch.epoch());
  }
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

void SinkWriter::Refuse(const PendingRows& rows, const std::string& why) {
  const int64_t n = rows.batch.rows_size();
  const std::string detail = "feature store " + address_ + " refused " + std::to_string(n) + " rows of job " +
                             rows.batch.job() + " partition " + std::to_string(rows.batch.partition()) + ": " + why;
  spdlog::error("{}; they go to the dead-letter topic {} and are not retried", detail,
                rows.dead_letter_topic.empty() ? "(none)" : rows.dead_letter_topic);
  if (rows.dead_letters != nullptr) {
    std::vector<HeldDeadLetter> held;
    for (DeadLetterRecord& d :
         RefusedRowsAsDeadLetters(rows.batch.partition(), rows.batch.rows(), detail, options_.max_dead_letter_bytes)) {
      if (held.empty() && rows.dead_letters->TryProduce(rows.dead_letter_topic, rows.batch.job(), d)) continue;
      held.push_back(HeldDeadLetter{rows.dead_letters, rows.dead_letter_topic, rows.batch.job(), std::move(d)});
    }
    rows.dead_letters->Poll();
    if (!held.empty()) {
      weir::MutexLock lock(&mu_);
      for (HeldDeadLetter& h : held) held_.push_back(std::move(h));
      ++next_seq_;  // wakes the sender
    }
  }
  const auto reason = static_cast<size_t>(engine::DeadLetterReason::kSinkRefused);
  rows.counters->dead_letters[reason].fetch_add(n, std::memory_order_relaxed);
  rows.counters->rows_refused.fetch_add(n, std::memory_order_relaxed);
  if (metrics_.refused_rows != nullptr) metrics_.refused_rows->Increment(static_cast<double>(n));
}

void SinkWriter::SendHeldDeadLetters() {
  std::deque<HeldDeadLetter> held;
  {
    weir::MutexLock lock(&mu_);
    held.swap(held_);
  }
  if (held.empty()) return;
  while (!held.empty() && held.front().output->TryProduce(held.front().topic, held.front().job, held.front().record)) {
    held.pop_front();
  }
  weir::MutexLock lock(&mu_);
  while (!held.empty()) {
    held_.push_front(std::move(held.back()));
    held.pop_back();
  }
}

std::pair<int, std::string> SinkWriter::SendStream(std::vector<Queued>& batches) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
  weir::v1::WriteAck ack;
  std::unique_ptr<grpc::ClientWriter<weir::v1::WriteBatch>> stream = stub_->stub->Write(&context, &ack);
  for (Queued& b : batches) {
    b.rows.batch.set_batch_id(++next_batch_id_);
    if (!stream->Write(b.rows.batch)) break;  // the stream failed; Finish says why
  }
  stream->WritesDone();
  const grpc::Status status = stream->Finish();
  if (status.ok()) {
    CountKeyConflicts(ack, batches);
    size_t bytes = 0;
    for (const Queued& b : batches) {
      Acknowledge(b.rows);
      bytes += b.rows.bytes;
    }
    Release(batches.front().rows.batch.job(), bytes);
    batches.clear();
  }
  return {static_cast<int>(status.error_code()), status.error_message()};
}

void SinkWriter::CountKeyConflicts(const weir::v1::WriteAck& ack, const std::vector<Queued>& batches) {
  for (const weir::v1::KeyConflict& conflict : ack.key_conflicts()) {
    auto batch = std::find_if(batches.begin(), batches.end(), [&](const Queued& b) {
      return b.rows.batch.partition() == conflict.partition() && b.rows.counters != nullptr;
    });
    if (batch == batches.end()) continue;
    PartitionCounters& counters = *batch->rows.counters;
    counters.key_conflicts.fetch_add(conflict.rows(), std::memory_order_relaxed);
    std::string description = "key \"" + conflict.key() + "\" of view \"" + conflict.view() +
                              "\" also comes from partition " + std::to_string(conflict.owner_partition()) +
                              ": the topic is not partitioned by the job's key, so each partition's partial "
                              "value overwrites the other's; set source.partitioned_by to the field the topic is "
                              "partitioned by (docs/job-spec.md)";
    if (counters.SetKeyConflict(description)) {
      spdlog::warn("job {} partition {}: {}", counters.job, counters.partition.value(), description);
    }
  }
}

std::vector<SinkWriter::Queued> SinkWriter::Halve(Queued whole) {
  std::vector<Queued> halves(2);
  const int rows = whole.rows.batch.rows_size();
  for (Queued& h : halves) {
    h.seq = whole.seq;
    h.rows.batch = whole.rows.batch;
    h.rows.batch.clear_rows();
    h.rows.first_row_at = whole.rows.first_row_at;
    h.rows.counters = whole.rows.counters;
    h.rows.dead_letters = whole.rows.dead_letters;
    h.rows.dead_letter_topic = whole.rows.dead_letter_topic;
  }
  for (int i = 0; i < rows; ++i) {
    *halves[i < rows / 2 ? 0 : 1].rows.batch.add_rows() = std::move(*whole.rows.batch.mutable_rows(i));
  }
  // The halves hold the whole's share of the pending bytes between them.
  halves[0].rows.bytes = whole.rows.bytes / 2;
  halves[1].rows.bytes = whole.rows.bytes - halves[0].rows.bytes;
  return halves;
}

void SinkWriter::Deliver(std::vector<Queued>& batches) {
  const auto [code, message] = SendStream(batches);
  const WriteOutcome outcome = ClassifyWriteStatus(code, message);
  if (outcome == WriteOutcome::kAcknowledged) return;
  if (outcome == WriteOutcome::kRetry) {
    spdlog::warn("feature store {}: write failed ({}: {}); retrying", address_, code, message);
    return;
  }
  // Fenced, refused or too large: one stream per batch finds which ones (the
  // store applied those before the refused one; writing them again is
  // harmless).
  while (!batches.empty()) {
    std::vector<Queued> one;
    one.push_back(std::move(batches.front()));
    batches.erase(batches.begin());
    const auto [one_code, one_message] = SendStream(one);
    const PendingRows* b = one.empty() ? nullptr : &one.front().rows;
    switch (ClassifyWriteStatus(one_code, one_message)) {
      case WriteOutcome::kAcknowledged: break;
      case WriteOutcome::kFenced:
        spdlog::warn("feature store {}: job {} partition {} epoch {} is fenced (a newer owner wrote); stopping it",
                     address_, b->batch.job(), b->batch.partition(), b->batch.epoch());
        b->counters->fenced.store(true);
        if (metrics_.fenced_batches != nullptr) metrics_.fenced_batches->Increment();
        Release(b->batch.job(), b->bytes);
        break;
      case WriteOutcome::kTooLarge:
        if (b->batch.rows_size() > 1) {
          // The store's limit is below ours (--max-message-mib differs):
          // halves, each tried in turn, until single rows.
          spdlog::warn(
              "feature store {}: a batch of {} rows is over its message limit ({}); sending it in halves "
              "(set the same --max-message-mib on the store and the workers)",
              address_, b->batch.rows_size(), one_message);
          auto halves = Halve(std::move(one.front()));
          batches.insert(batches.begin(), std::make_move_iterator(halves.begin()),
                         std::make_move_iterator(halves.end()));
          break;
        }
        [[fallthrough]];
      case WriteOutcome::kRefused:
        Refuse(*b, one_message + " (gRPC code " + std::to_string(one_code) + ")");
        Release(b->batch.job(), b->bytes);
        break;
      case WriteOutcome::kRetry:
        spdlog::warn("feature store {}: write failed ({}: {}); retrying", address_, one_code, one_message);
        batches.insert(batches.begin(), std::move(one.front()));
        return;
    }
  }
}

const std::string* SinkWriter::NextJob(std::chrono::steady_clock::time_point now) {
  auto ready = [&](const JobQueue& q) { return !q.queued.empty() && !q.in_flight && q.retry_at <= now; };
  auto it = jobs_.upper_bound(last_job_);
  for (size_t i = 0; i < jobs_.size(); ++i, ++it) {
    if (it == jobs_.end()) it = jobs_.begin();
    if (ready(it->second)) return &it->first;
  }
  return nullptr;
}

void SinkWriter::Run() {
  constexpr auto kHeldRetry = std::chrono::milliseconds(100);
  for (;;) {
    SendHeldDeadLetters();
    std::string job;
    std::vector<Queued> batches;
    {
      weir::MutexLock lock(&mu_);
      bool found = false;
      for (;;) {
        const auto now = std::chrono::steady_clock::now();
        if (stopping_ && (now >= stop_deadline_ || (pending_bytes_ == 0 && held_.empty()))) return;
        if (const std::string* next = NextJob(now); next != nullptr) {
          job = *next;
          found = true;
          break;
        }
        // Nothing ready: wait for new rows, a stop, or the earliest retry.
        auto wake_at = now + std::chrono::hours(1);
        for (const auto& [name, q] : jobs_) {
          if (!q.queued.empty() && !q.in_flight) wake_at = std::min(wake_at, q.retry_at);
        }
        if (stopping_) wake_at = std::min(wake_at, stop_deadline_);
        if (!held_.empty()) wake_at = std::min(wake_at, now + kHeldRetry);
        const uint64_t seq = next_seq_;
        const bool stopping = stopping_;
        auto changed = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return next_seq_ != seq || stopping_ != stopping; };
        mu_.AwaitWithTimeout(absl::Condition(&changed), absl::FromChrono(wake_at - now));
        if (!held_.empty()) break;  // tried again first
      }
      if (!found) continue;
      JobQueue& q = jobs_[job];
      size_t bytes = 0;
      // A fenced partition's queued rows are dropped without sending.
      while (!q.queued.empty() &&
             (batches.empty() || bytes + q.queued.front().rows.bytes <= options_.max_request_bytes)) {
        Queued& front = q.queued.front();
        if (front.rows.counters->fenced.load()) {
          q.pending_bytes -= front.rows.bytes;
          pending_bytes_ -= front.rows.bytes;
          q.queued.pop_front();
          continue;
        }
        bytes += front.rows.bytes;
        batches.push_back(std::move(front));
        q.queued.pop_front();
      }
      q.in_flight = !batches.empty();
      last_job_ = job;
      SetPendingGauge();
    }
    if (batches.empty()) continue;
    Deliver(batches);
    size_t dropped_rows = 0;
    {
      weir::MutexLock lock(&mu_);
      JobQueue& q = jobs_[job];
      q.in_flight = false;
      // Batches of partitions dropped meanwhile are never retried.
      auto gone = std::remove_if(batches.begin(), batches.end(), [&](const Queued& b) {
        auto d = dropped_before_.find({job, b.rows.batch.partition()});
        if (d == dropped_before_.end() || b.seq >= d->second) return false;
        q.pending_bytes -= b.rows.bytes;
        pending_bytes_ -= b.rows.bytes;
        dropped_rows += static_cast<size_t>(b.rows.batch.rows_size());
        return true;
      });
      batches.erase(gone, batches.end());
      for (auto d = dropped_before_.lower_bound({job, std::numeric_limits<int32_t>::min()});
           d != dropped_before_.end() && d->first.first == job;) {
        d = dropped_before_.erase(d);
      }
      if (batches.empty()) {
        q.backoff = options_.backoff_initial;
        q.retry_at = {};
      } else {
        if (metrics_.retries != nullptr) metrics_.retries->Increment();
        q.backoff = std::clamp(q.backoff * 2, options_.backoff_initial, options_.backoff_max);
        q.retry_at = std::chrono::steady_clock::now() + q.backoff;
        for (auto it = batches.rbegin(); it != batches.rend(); ++it) q.queued.push_front(std::move(*it));
      }
      if (q.queued.empty() && q.pending_bytes == 0) jobs_.erase(job);
      SetPendingGauge();
    }
    if (dropped_rows > 0) {
      if (metrics_.dropped_rows != nullptr) metrics_.dropped_rows->Increment(static_cast<double>(dropped_rows));
      spdlog::info("feature store {}: job {}: {} rows of partitions given up are dropped, not retried", address_, job,
                   dropped_rows);
    }
  }
}

}  // namespace weir::worker
