#include "worker/rekey_source.h"

#include <utility>

namespace weir::worker {

RekeySource::RekeySource(PartitionSourceFactory factory, std::shared_ptr<const JobRuntime> job, RekeyLayout layout)
    : factory_(std::move(factory)), job_(std::move(job)), layout_(layout) {}

std::unique_ptr<PartitionSource>& RekeySource::SourceOf(PartitionId partition) {
  return layout_.stage(partition.value()) == 2 ? stage2_ : stage1_;
}

PartitionId RekeySource::TopicPartition(PartitionId partition) const {
  return layout_.stage(partition.value()) == 2 ? PartitionId(partition.value() - layout_.sources) : partition;
}

Status RekeySource::Assign(PartitionId partition, KafkaOffset offset) {
  std::unique_ptr<PartitionSource>& source = SourceOf(partition);
  if (source == nullptr) {
    const bool stage2 = layout_.stage(partition.value()) == 2;
    auto made = factory_(stage2 ? *job_->repartition : *job_);
    if (!made.ok()) return made.status();
    source = std::move(*made);
  }
  return source->Assign(TopicPartition(partition), offset);
}

void RekeySource::Unassign(PartitionId partition) {
  if (auto& source = SourceOf(partition)) source->Unassign(TopicPartition(partition));
}

void RekeySource::Poll(const PollLimits& limits, std::vector<SourceRecord>* out) {
  stage2_first_ = !stage2_first_;
  PollLimits left = limits;
  for (int i = 0; i < 2; ++i) {
    const bool stage2 = (i == 0) == stage2_first_;
    PartitionSource* source = stage2 ? stage2_.get() : stage1_.get();
    if (source == nullptr || left.max_records == 0) continue;
    const size_t before = out->size();
    source->Poll(left, out);
    if (stage2) {
      for (size_t r = before; r < out->size(); ++r) {
        (*out)[r].partition = PartitionId((*out)[r].partition.value() + layout_.sources);
      }
    }
    left.max_records -= std::min(left.max_records, out->size() - before);
    left.first_wait = std::chrono::milliseconds(0);  // the second only takes what is there
  }
}

void RekeySource::Pause(PartitionId partition) {
  if (auto& source = SourceOf(partition)) source->Pause(TopicPartition(partition));
}

void RekeySource::Resume(PartitionId partition) {
  if (auto& source = SourceOf(partition)) source->Resume(TopicPartition(partition));
}

std::optional<KafkaOffset> RekeySource::EndOffset(PartitionId partition) {
  auto& source = SourceOf(partition);
  return source == nullptr ? std::nullopt : source->EndOffset(TopicPartition(partition));
}

std::string RekeySource::Problem(PartitionId partition) {
  auto& source = SourceOf(partition);
  return source == nullptr ? std::string() : source->Problem(TopicPartition(partition));
}

bool RekeySource::WantsNewClient() {
  return (stage1_ != nullptr && stage1_->WantsNewClient()) || (stage2_ != nullptr && stage2_->WantsNewClient());
}

bool RekeySource::ProvenReadable(PartitionId partition) {
  auto& source = SourceOf(partition);
  return source == nullptr || source->ProvenReadable(TopicPartition(partition));
}

uint64_t RekeySource::TakeSkippedRecords(PartitionId partition) {
  auto& source = SourceOf(partition);
  return source == nullptr ? 0 : source->TakeSkippedRecords(TopicPartition(partition));
}

}  // namespace weir::worker
