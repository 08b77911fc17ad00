#include "worker/processing_thread.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "common/checkpoint_paths.h"
#include "common/clock.h"

namespace weir::worker {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kHousekeepingPeriod = std::chrono::milliseconds(100);
constexpr auto kErrorLogPeriod = std::chrono::seconds(10);

// A consumer for one job's topic that is only ever assign()ed partitions.
Result<std::unique_ptr<RdKafka::KafkaConsumer>> MakeConsumer(const JobRuntime& job, const std::string& client_id) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  const std::pair<const char*, std::string> settings[] = {
      {"bootstrap.servers", job.spec.source().kafka().brokers()},
      {"client.id", client_id},
      // Required by the C++ consumer API; never joined, since Weir assigns
      // partitions itself and never subscribes.
      {"group.id", "weir-" + job.spec.name()},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"fetch.wait.max.ms", "10"},
      {"queued.max.messages.kbytes", "16384"},
      {"reconnect.backoff.max.ms", "1000"},
      // A restored offset that retention already deleted resumes at the
      // oldest record rather than skipping to the newest.
      {"auto.offset.reset", "earliest"},
  };
  for (const auto& [name, value] : settings) {
    if (conf->set(name, value, err) != RdKafka::Conf::CONF_OK) {
      return InvalidArgument("Kafka consumer setting " + std::string(name) + ": " + err);
    }
  }
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (consumer == nullptr) {
    return Internal("cannot create a Kafka consumer for " + job.spec.source().kafka().brokers() + ": " + err);
  }
  return consumer;
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
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<HandoffSnapshot> ProcessingThread::StopWithHandoff() {
  {
    std::lock_guard lock(mu_);
    handoff_ = true;
  }
  Stop();
  return std::move(handoffs_);
}

void ProcessingThread::Add(PartitionGrant grant) {
  load_.fetch_add(1);
  {
    std::lock_guard lock(mu_);
    Command c;
    c.kind = Command::kAdd;
    c.grant = std::move(grant);
    commands_.push_back(std::move(c));
  }
  cv_.notify_all();
}

void ProcessingThread::Remove(const std::string& job, int32_t partition) {
  {
    std::lock_guard lock(mu_);
    Command c;
    c.kind = Command::kRemove;
    c.job = job;
    c.partition = partition;
    commands_.push_back(std::move(c));
  }
  cv_.notify_all();
}

void ProcessingThread::Checkpoint(const std::string& job, int32_t partition, uint64_t checkpoint) {
  {
    std::lock_guard lock(mu_);
    Command c;
    c.kind = Command::kCheckpoint;
    c.job = job;
    c.partition = partition;
    c.checkpoint = checkpoint;
    commands_.push_back(std::move(c));
  }
  cv_.notify_all();
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
    // The control loop removes a job's partitions before it grants those of
    // a changed spec, so this is a bug if it happens.
    spdlog::error("thread {}: job {} granted with a different spec while partitions of the old one run", index_, name);
    load_.fetch_sub(1);
    return;
  }
  if (it == jobs_.end()) {
    auto consumer = MakeConsumer(*grant.job, options_.client_id);
    if (!consumer.ok()) {
      spdlog::error("job {} partition {}: {}", name, grant.partition, consumer.status().message());
      load_.fetch_sub(1);
      return;
    }
    it = jobs_.emplace(name, JobConsumer{grant.job, std::move(*consumer), {}}).first;
  }
  JobConsumer& jc = it->second;
  if (jc.partitions.count(grant.partition) != 0) RemovePartition(name, grant.partition);
  const auto& kafka = grant.job->spec.source().kafka();
  auto task = std::make_unique<PartitionTask>(grant.job, grant.partition, grant.epoch, grant.counters);
  task->set_start_offset(kafka.start() == weir::v1::START_OFFSET_LATEST ? RdKafka::Topic::OFFSET_END
                                                                        : RdKafka::Topic::OFFSET_BEGINNING);
  if (!grant.restore_from.empty()) {
    const RestoreOutcome restored = RestorePartition(*task, grant.restore_from);
    if (options_.restores != nullptr) options_.restores->Record(name, restored);
  }
  const int64_t start = task->start_offset();
  std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(kafka.topic(), grant.partition, start));
  std::unique_ptr<RdKafka::Error> error(jc.consumer->incremental_assign({tp.get()}));
  if (error != nullptr) {
    spdlog::error("job {} partition {}: cannot assign {}: {}", name, grant.partition, kafka.topic(), error->str());
    load_.fetch_sub(1);
    return;
  }
  jc.partitions[grant.partition] = Owned{std::move(task), grant.sink, grant.dead_letters, grant.checkpoints};
  spdlog::info("job {} partition {}: started at epoch {} from offset {} (thread {})", name, grant.partition,
               grant.epoch,
               start == RdKafka::Topic::OFFSET_END         ? std::string("latest")
               : start == RdKafka::Topic::OFFSET_BEGINNING ? std::string("earliest")
                                                           : std::to_string(start),
               index_);
}

void ProcessingThread::RemovePartition(const std::string& job, int32_t partition) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  JobConsumer& jc = it->second;
  auto p = jc.partitions.find(partition);
  if (p == jc.partitions.end()) return;
  std::unique_ptr<RdKafka::TopicPartition> tp(
      RdKafka::TopicPartition::create(jc.job->spec.source().kafka().topic(), partition));
  std::unique_ptr<RdKafka::Error> error(jc.consumer->incremental_unassign({tp.get()}));
  if (error != nullptr) spdlog::warn("job {} partition {}: unassign: {}", job, partition, error->str());
  // Rows of a partition given up are not sent: its next owner produces them.
  p->second.sink->Drop(job, partition);
  jc.partitions.erase(p);
  load_.fetch_sub(1);
  spdlog::info("job {} partition {}: stopped", job, partition);
  if (jc.partitions.empty()) {
    jc.consumer->close();
    jobs_.erase(it);
  }
}

void ProcessingThread::HandOff(const std::string& job, const std::string& dead_letter_topic, Owned& owned) {
  PendingRows rows;
  if (owned.task->TakeRows(&rows)) owned.sink->Enqueue(std::move(rows));
  std::vector<DeadLetterRecord> dead;
  owned.task->TakeDeadLetters(&dead);
  for (const DeadLetterRecord& d : dead) owned.dead_letters->Produce(dead_letter_topic, job, d);
  if (!dead.empty()) owned.dead_letters->Poll();
}

void ProcessingThread::HandOff() {
  for (auto& [name, jc] : jobs_) {
    for (auto& [partition, owned] : jc.partitions) HandOff(name, jc.job->dead_letter_topic, owned);
  }
}

void ProcessingThread::TakeCheckpoint(const std::string& job, int32_t partition, uint64_t checkpoint) {
  auto it = jobs_.find(job);
  if (it == jobs_.end()) return;
  auto p = it->second.partitions.find(partition);
  if (p == it->second.partitions.end()) return;  // moved away meanwhile
  Owned& owned = p->second;
  // Rows before the snapshot go to the writer first: the snapshot is reported
  // only once they are acknowledged.
  HandOff(job, it->second.job->dead_letter_topic, owned);
  const auto started = Clock::now();
  SnapshotJob snapshot;
  snapshot.snapshot = owned.task->Snapshot(checkpoint);
  snapshot.pause_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
  snapshot.path = SnapshotPath(it->second.job->checkpoint_root, job, checkpoint, partition, owned.task->epoch());
  snapshot.counters = owned.task->counters();
  snapshot.rows_emitted_at = snapshot.counters->rows_emitted.load();
  owned.checkpoints->Enqueue(std::move(snapshot));
}

void ProcessingThread::WriteHandoffSnapshots() {
  for (auto& [name, jc] : jobs_) {
    for (auto& [partition, owned] : jc.partitions) {
      HandOff(name, jc.job->dead_letter_topic, owned);
      const auto started = Clock::now();
      PartitionSnapshot snapshot = owned.task->Snapshot(0);
      const int64_t pause_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
      const std::string path = HandoffPath(jc.job->checkpoint_root, name, partition, owned.task->epoch());
      const std::string bytes = EncodeSnapshotFile(snapshot);
      if (const Status s = WriteSnapshotBytes(path, bytes); !s.ok()) {
        spdlog::error("job {} partition {}: handoff snapshot not written: {}", name, partition, s.message());
        continue;
      }
      HandoffSnapshot h;
      h.job = name;
      h.partition = partition;
      h.epoch = owned.task->epoch();
      h.ref.set_checkpoint(0);
      h.ref.set_epoch(h.epoch);
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
  std::vector<std::pair<std::string, int32_t>> fenced;
  for (auto& [name, jc] : jobs_) {
    const std::string& topic = jc.job->spec.source().kafka().topic();
    for (auto& [partition, owned] : jc.partitions) {
      const auto& counters = owned.task->counters();
      if (counters->fenced.load()) {
        fenced.emplace_back(name, partition);
        continue;
      }
      int64_t low = 0, high = 0;
      if (jc.consumer->get_watermark_offsets(topic, partition, &low, &high) == RdKafka::ERR_NO_ERROR && high >= 0) {
        counters->end_offset.store(high, std::memory_order_relaxed);
      }
      owned.task->OnIdleCheck(now_ms);
      owned.dead_letters->Poll();
    }
  }
  for (const auto& [job, partition] : fenced) {
    spdlog::warn("job {} partition {}: fenced by the store (a newer owner exists); stopping it", job, partition);
    RemovePartition(job, partition);
  }
}

bool ProcessingThread::WaitForSinks() {
  for (auto& [name, jc] : jobs_) {
    for (auto& [partition, owned] : jc.partitions) {
      if (!owned.sink->HasRoom()) {
        owned.sink->WaitForRoom(std::chrono::milliseconds(50));
        return true;
      }
    }
  }
  return false;
}

void ProcessingThread::Run() {
  auto last_housekeeping = Clock::now();
  auto last_error_log = Clock::now() - kErrorLogPeriod;
  std::vector<Command> commands;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (jobs_.empty()) cv_.wait_for(lock, kHousekeepingPeriod, [&] { return stop_ || !commands_.empty(); });
      if (stop_) break;
      commands.swap(commands_);
    }
    for (Command& c : commands) Apply(c);
    commands.clear();
    if (jobs_.empty()) continue;

    if (!WaitForSinks()) {
      const auto batch_end = Clock::now() + options_.max_batch_time;
      size_t n = 0;
      for (auto& [name, jc] : jobs_) {
        const int first_timeout = jobs_.size() == 1 ? 10 : 2;
        while (n < options_.max_batch_records) {
          std::unique_ptr<RdKafka::Message> m(jc.consumer->consume(n == 0 ? first_timeout : 0));
          if (m->err() == RdKafka::ERR__TIMED_OUT) break;
          if (m->err() != RdKafka::ERR_NO_ERROR) {
            if (Clock::now() - last_error_log >= kErrorLogPeriod) {
              last_error_log = Clock::now();
              spdlog::warn("job {}: Kafka: {} (librdkafka retries)", name, m->errstr());
            }
            break;
          }
          auto p = jc.partitions.find(m->partition());
          if (p == jc.partitions.end()) continue;  // unassigned a moment ago
          const std::string_view key = m->key_pointer() != nullptr
                                           ? std::string_view(static_cast<const char*>(m->key_pointer()), m->key_len())
                                           : std::string_view();
          p->second.task->OnRecord(std::string_view(static_cast<const char*>(m->payload()), m->len()), key,
                                   m->offset());
          ++n;
          if ((n & 255) == 0 && Clock::now() >= batch_end) break;
        }
      }
      HandOff();
    }
    if (Clock::now() - last_housekeeping >= kHousekeepingPeriod) {
      last_housekeeping = Clock::now();
      Housekeeping();
    }
  }
  bool handoff = false;
  {
    std::lock_guard lock(mu_);
    handoff = handoff_;
  }
  if (handoff) {
    WriteHandoffSnapshots();
  } else {
    HandOff();
  }
  for (auto& [name, jc] : jobs_) jc.consumer->close();
  jobs_.clear();
}

}  // namespace weir::worker
