#include "worker/processing_thread.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <span>

#include "common/checkpoint_paths.h"
#include "common/clock.h"

namespace weir::worker {
namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(100);
// State bytes are measured at most this often (a walk over every key).
constexpr auto kStateMeasurePeriod = std::chrono::seconds(5);
// How long the thread waits when nothing can be polled: paused partitions
// check their output's room this often.
constexpr auto kIdleWait = std::chrono::milliseconds(10);

// Whether each partition's records in `records` are contiguous.
bool OneRunPerPartition(const std::vector<SourceRecord>& records) {
  std::vector<PartitionId> seen;  // one per run: few
  for (size_t i = 0; i < records.size(); ++i) {
    if (i > 0 && records[i].partition == records[i - 1].partition) continue;
    if (std::find(seen.begin(), seen.end(), records[i].partition) != seen.end()) return false;
    seen.push_back(records[i].partition);
  }
  return true;
}

}  // namespace

ProcessingThread::ProcessingThread(int index, ProcessingOptions options)
    : index_(index), options_(std::move(options)) {}

ProcessingThread::~ProcessingThread() { Stop(); }

void ProcessingThread::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ProcessingThread::Stop() {
  {
    weir::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

std::vector<HandoffSnapshot> ProcessingThread::StopWithHandoff() {
  {
    weir::MutexLock lock(&mu_);
    handoff_ = true;
  }
  Stop();
  return std::move(handoffs_);
}

void ProcessingThread::Enqueue(Command c) {
  weir::MutexLock lock(&mu_);
  commands_.push_back(std::move(c));
}

void ProcessingThread::Add(PartitionGrant grant) {
  load_.fetch_add(1);
  grant.counters->SetState(weir::v1::PARTITION_STATE_STARTING);
  Command c;
  c.kind = Command::kAdd;
  c.grant = std::move(grant);
  Enqueue(std::move(c));
}

void ProcessingThread::Remove(const std::string& job, PartitionId partition) {
  Command c;
  c.kind = Command::kRemove;
  c.job = job;
  c.partition = partition;
  Enqueue(std::move(c));
}

void ProcessingThread::Checkpoint(const std::string& job, PartitionId partition, CheckpointId checkpoint) {
  Command c;
  c.kind = Command::kCheckpoint;
  c.job = job;
  c.partition = partition;
  c.checkpoint = checkpoint;
  Enqueue(std::move(c));
}

void ProcessingThread::Apply(Command& c) {
  switch (c.kind) {
    case Command::kAdd: AddPartition(c.grant); break;
    case Command::kRemove: RemovePartition(c.job, c.partition); break;
    case Command::kCheckpoint: TakeCheckpoint(c.job, c.partition, c.checkpoint); break;
  }
}

void ProcessingThread::AddPartition(PartitionGrant& grant) {
  const std::string& name = grant.job->spec.name();
  auto it = jobs_.find(name);
  if (it != jobs_.end() && it->second.job->spec_hash != grant.job->spec_hash) {
    if (!it->second.partitions.empty()) {
      // The control loop removes a job's partitions before it grants those
      // of a changed spec, so this is a bug if it happens.
      spdlog::error("thread {}: job {} granted with a different spec while partitions of the old one run", index_,
                    name);
      grant.counters->SetState(weir::v1::PARTITION_STATE_FAILED,
                               "internal error: granted under a new spec while the old one runs on the same thread "
                               "(the worker retries on its next heartbeat)");
      load_.fetch_sub(1);
      return;
    }
    jobs_.erase(it);
    it = jobs_.end();
  }
  if (it != jobs_.end() && it->second.partitions.count(grant.partition) != 0) {
    // Granted again at a new epoch: the old one goes first. That may close
    // the job's source and erase its entry (its last partition here).
    RemovePartition(name, grant.partition);
    it = jobs_.find(name);
  }
  if (it == jobs_.end()) it = jobs_.emplace(name, JobSource{grant.job, nullptr, grant.layout, {}, Backoff()}).first;
  JobSource& js = it->second;

  Owned owned;
  owned.task = std::make_unique<PartitionTask>(grant.job, grant.partition, grant.epoch, grant.counters, js.layout);
  owned.task->set_start_offset(
      grant.job->spec.source().kafka().start() == weir::v1::START_OFFSET_LATEST ? kOffsetEnd : kOffsetBeginning);
  owned.sink = grant.sink;
  owned.dead_letters = grant.dead_letters;
  owned.checkpoints = grant.checkpoints;
  owned.restore_from = std::move(grant.restore_from);
  owned.backoff = Backoff(options_.retry_initial, options_.retry_max);
  owned.retry_at = options_.now();  // at once
  js.partitions.emplace(grant.partition, std::move(owned));
}

void ProcessingThread::RemovePartition(const std::string& job, PartitionId partition) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  JobSource& js = it->second;
  auto p = js.partitions.find(partition);
  if (p == js.partitions.end()) return;
  if (p->second.assigned) js.source->Unassign(partition);
  // Rows of a partition given up are not sent: its next owner produces them.
  p->second.sink->Drop(job, partition.value());
  js.partitions.erase(p);
  load_.fetch_sub(1);
  spdlog::info("job {} partition {}: stopped", job, partition.value());
  if (js.partitions.empty()) jobs_.erase(it);  // closes the source
}

void ProcessingThread::HandOff(const std::string& job, const std::string& dead_letter_topic, Owned& owned) {
  if (owned.shuffle != nullptr) {
    shuffled_.clear();
    owned.task->TakeShuffle(&shuffled_);
    for (const ShuffleMessage& m : shuffled_) owned.shuffle->Produce(m);
    owned.shuffle->Poll();
  }
  PendingRows rows;
  if (owned.task->TakeRows(&rows)) {
    rows.dead_letters = owned.dead_letters;
    rows.dead_letter_topic = dead_letter_topic;
    owned.sink->Enqueue(std::move(rows));
  }
  std::vector<DeadLetterRecord> dead;
  owned.task->TakeDeadLetters(&dead);
  for (const DeadLetterRecord& d : dead) owned.dead_letters->Produce(dead_letter_topic, job, d);
  if (!dead.empty()) owned.dead_letters->Poll();
}

void ProcessingThread::HandOff() {
  for (auto& [name, js] : jobs_) {
    for (auto& [partition, owned] : js.partitions) HandOff(name, js.job->dead_letter_topic, owned);
  }
}

void ProcessingThread::TakeCheckpoint(const std::string& job, PartitionId partition, CheckpointId checkpoint) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  auto p = it->second.partitions.find(partition);
  if (p == it->second.partitions.end()) return;  // moved away meanwhile
  Owned& owned = p->second;
  if (!owned.assigned) {
    spdlog::warn("job {} partition {}: not running, checkpoint {} skipped (it is abandoned)", job, partition.value(),
                 checkpoint.value());
    return;
  }
  // Rows before the snapshot go to the writer first: the snapshot is reported
  // only once they are acknowledged. Stage 1 marks its watermark before
  // every checkpoint, so stage 2 is never further behind than that.
  owned.task->MarkWatermark(WallClockMs(), /*force=*/true);
  HandOff(job, it->second.job->dead_letter_topic, owned);
  const auto started = SteadyClock::now();
  SnapshotJob snapshot;
  snapshot.path = SnapshotPath(it->second.job->checkpoint_root, job, checkpoint.value(), partition.value(),
                               owned.task->epoch().value());
  // Unchanged since a snapshot whose file is durable: link that file rather
  // than serialize and write the same state again (an idle job costs nothing).
  const auto& last = owned.last_snapshot;
  if (last && last->changes == owned.task->changes() &&
      owned.task->counters()->last_written_checkpoint.load(std::memory_order_acquire) == last->checkpoint.value()) {
    snapshot.reuse_path = last->path;
    snapshot.snapshot.job = job;
    snapshot.snapshot.partition = partition.value();
    snapshot.snapshot.epoch = owned.task->epoch().value();
    snapshot.snapshot.checkpoint = checkpoint.value();
    snapshot.snapshot.next_offset = owned.task->NextOffset();
  } else {
    snapshot.snapshot = owned.task->Snapshot(checkpoint);
  }
  owned.last_snapshot = Owned::LastSnapshot{owned.task->changes(), checkpoint, snapshot.path};
  snapshot.pause_us = std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started).count();
  snapshot.counters = owned.task->counters();
  snapshot.rows_emitted_at = snapshot.counters->rows_emitted.load();
  owned.checkpoints->Enqueue(std::move(snapshot));
}

void ProcessingThread::WriteHandoffSnapshots() {
  for (auto& [name, js] : jobs_) {
    for (auto& [partition, owned] : js.partitions) {
      if (!owned.assigned) continue;  // never started here: the coordinator's restore points still stand
      owned.task->MarkWatermark(WallClockMs(), /*force=*/true);
      HandOff(name, js.job->dead_letter_topic, owned);
      const auto started = SteadyClock::now();
      PartitionSnapshot snapshot = owned.task->Snapshot(CheckpointId(0));
      const int64_t pause_us =
          std::chrono::duration_cast<std::chrono::microseconds>(SteadyClock::now() - started).count();
      const std::string path =
          HandoffPath(js.job->checkpoint_root, name, partition.value(), owned.task->epoch().value());
      const std::string bytes = EncodeSnapshotFile(snapshot);
      if (const Status s = WriteSnapshotBytes(path, bytes); !s.ok()) {
        spdlog::error("job {} partition {}: handoff snapshot not written: {}", name, partition.value(), s.message());
        continue;
      }
      HandoffSnapshot h;
      h.job = name;
      h.partition = partition;
      h.epoch = owned.task->epoch();
      h.ref.set_checkpoint(0);
      h.ref.set_epoch(h.epoch.value());
      h.ref.set_path(path);
      h.ref.set_next_offset(snapshot.next_offset);
      h.ref.set_bytes(static_cast<int64_t>(bytes.size()));
      h.ref.set_pause_us(pause_us);
      h.counters = owned.task->counters();
      h.rows_emitted_at = h.counters->rows_emitted.load();
      handoffs_.push_back(std::move(h));
    }
  }
}

void ProcessingThread::Housekeeping() {
  const int64_t now_ms = WallClockMs();
  std::vector<std::pair<std::string, PartitionId>> fenced;
  for (auto& [name, js] : jobs_) {
    for (auto& [partition, owned] : js.partitions) {
      const auto& counters = owned.task->counters();
      if (counters->fenced.load()) {
        fenced.emplace_back(name, partition);
        continue;
      }
      if (!owned.assigned) continue;
      if (auto end = js.source->EndOffset(partition)) {
        counters->end_offset.store(end->value(), std::memory_order_relaxed);
      }
      MeasureState(owned);
      if (const uint64_t skipped = js.source->TakeSkippedRecords(partition); skipped > 0) {
        counters->records_skipped.fetch_add(static_cast<int64_t>(skipped), std::memory_order_relaxed);
      }
      owned.task->OnIdleCheck(now_ms);
      owned.task->MarkWatermark(now_ms);
      owned.dead_letters->Poll();
      if (owned.shuffle != nullptr && owned.shuffle->delivery_errors() > 0 && owned.problem.empty()) {
        owned.problem = "Kafka refused " + std::to_string(owned.shuffle->delivery_errors()) +
                        " messages for the repartition topic (" + owned.shuffle->last_error() +
                        "); checkpoints stop before them: check the topic weir." + name + ".repartition";
        counters->SetState(weir::v1::PARTITION_STATE_FAILED, owned.problem);
      }
    }
    if (js.source != nullptr) UpdateProblems(js);
  }
  for (const auto& [job, partition] : fenced) {
    spdlog::warn("job {} partition {}: fenced by the store (a newer owner exists); stopping it", job,
                 partition.value());
    std::shared_ptr<PartitionCounters> counters = jobs_.at(job).partitions.at(partition).task->counters();
    RemovePartition(job, partition);
    counters->SetState(weir::v1::PARTITION_STATE_FENCED,
                       "the feature store refused this epoch's writes: a newer owner of the partition exists");
  }
}

void ProcessingThread::MeasureState(Owned& owned) {
  const engine::PartitionEngine& engine = owned.task->engine();
  PartitionCounters& counters = *owned.task->counters();
  counters.keys.store(static_cast<int64_t>(engine.stats().keys), std::memory_order_relaxed);
  const auto now = SteadyClock::now();
  if (owned.task->changes() == owned.state_measured_changes || now - owned.state_measured_at < kStateMeasurePeriod) {
    return;
  }
  owned.state_measured_at = now;
  owned.state_measured_changes = owned.task->changes();
  counters.state_bytes.store(static_cast<int64_t>(engine.StateBytes()), std::memory_order_relaxed);
}

size_t ProcessingThread::PollAndProcess() {
  size_t processed = 0;
  for (auto& [name, js] : jobs_) {
    if (js.source == nullptr || processed >= options_.max_batch_records) continue;
    bool readable = false;
    for (const auto& [partition, owned] : js.partitions) readable = readable || (owned.assigned && !owned.paused);
    PollLimits limits;
    // Paused partitions still have their source served (callbacks, health),
    // without waiting.
    limits.first_wait =
        !readable ? std::chrono::milliseconds(0) : std::chrono::milliseconds(jobs_.size() == 1 ? 10 : 2);
    limits.max_records = options_.max_batch_records - processed;
    limits.max_time = options_.max_batch_time;
    polled_.clear();
    js.source->Poll(limits, &polled_);
    // One engine batch per partition: the partition's records keep their
    // order (a stable sort), partitions are independent of each other. A
    // poll usually brings one run per partition already: then no sort.
    if (!OneRunPerPartition(polled_)) {
      std::stable_sort(polled_.begin(), polled_.end(),
                       [](const SourceRecord& a, const SourceRecord& b) { return a.partition < b.partition; });
    }
    for (size_t i = 0; i < polled_.size();) {
      size_t end = i + 1;
      while (end < polled_.size() && polled_[end].partition == polled_[i].partition) ++end;
      auto p = js.partitions.find(polled_[i].partition);
      if (p != js.partitions.end() && p->second.assigned) {  // else unassigned a moment ago
        p->second.task->OnRecords(std::span<const SourceRecord>(polled_.data() + i, end - i));
      }
      i = end;
    }
    processed += polled_.size();
  }
  return processed;
}

bool ProcessingThread::Pollable() const {
  for (const auto& [name, js] : jobs_) {
    for (const auto& [partition, owned] : js.partitions) {
      if (owned.assigned && !owned.paused) return true;
    }
  }
  return false;
}

void ProcessingThread::Run() {
  auto last_housekeeping = SteadyClock::now();
  std::vector<Command> commands;
  for (;;) {
    {
      weir::MutexLock lock(&mu_);
      if (!Pollable()) {
        // Nothing to read: wait for a command, a retry to come due, or room.
        const auto wait = jobs_.empty() ? kHousekeepingPeriod : kIdleWait;
        mu_.AwaitWithTimeout(
            absl::Condition(
                +[](ProcessingThread* t) ABSL_NO_THREAD_SAFETY_ANALYSIS { return t->stop_ || !t->commands_.empty(); },
                this),
            absl::FromChrono(wait));
      }
      if (stop_) break;
      commands.swap(commands_);
    }
    for (Command& c : commands) Apply(c);
    commands.clear();
    if (jobs_.empty()) continue;

    StartDue();
    UpdatePauses();
    PollAndProcess();
    if (SteadyClock::now() - last_housekeeping >= kHousekeepingPeriod) {
      last_housekeeping = SteadyClock::now();
      Housekeeping();  // idle timeouts may fire windows: before the hand-off
    }
    HandOff();
  }
  bool handoff = false;
  {
    weir::MutexLock lock(&mu_);
    handoff = handoff_;
  }
  if (handoff) {
    WriteHandoffSnapshots();
  } else {
    HandOff();
  }
  jobs_.clear();  // closes the sources
}

}  // namespace weir::worker
