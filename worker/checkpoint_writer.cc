#include "worker/checkpoint_writer.h"

#include <prometheus/counter.h>
#include <spdlog/spdlog.h>

namespace weir::worker {

void CheckpointWriter::Start() {
  thread_ = std::thread([this] { Run(); });
}

void CheckpointWriter::Stop() {
  {
    weir::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void CheckpointWriter::Enqueue(SnapshotJob job) {
  weir::MutexLock lock(&mu_);
  queue_.push_back(std::move(job));
}

void CheckpointWriter::Run() {
  for (;;) {
    SnapshotJob job;
    {
      weir::MutexLock lock(&mu_);
      auto has_work = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stop_ || !queue_.empty(); };
      mu_.Await(absl::Condition(&has_work));
      if (queue_.empty()) return;  // stopping, and everything is written
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    Result<int64_t> size = int64_t{0};
    if (job.reuse_path.empty()) {
      const std::string bytes = EncodeSnapshotFile(job.snapshot);
      const Status s = WriteSnapshotBytes(job.path, bytes);
      size = s.ok() ? Result<int64_t>(static_cast<int64_t>(bytes.size())) : Result<int64_t>(s);
    } else {
      size = LinkSnapshotFile(job.reuse_path, job.path);
    }
    if (!size.ok()) {
      const Status& s = size.status();
      // The checkpoint stays unacknowledged; the coordinator abandons it and
      // the next one retries.
      spdlog::error("job {} partition {}: checkpoint {} not written: {}", job.snapshot.job, job.snapshot.partition,
                    job.snapshot.checkpoint, s.message());
      if (failures_ != nullptr) failures_->Increment();
      continue;
    }
    PartitionCounters::WrittenSnapshot written;
    written.ref.set_checkpoint(job.snapshot.checkpoint);
    written.ref.set_epoch(job.snapshot.epoch);
    written.ref.set_path(job.path);
    written.ref.set_next_offset(job.snapshot.next_offset);
    written.ref.set_bytes(*size);
    written.ref.set_pause_us(job.pause_us);
    written.rows_emitted_at = job.rows_emitted_at;
    job.counters->SnapshotWritten(std::move(written));
  }
}

}  // namespace weir::worker
