#include "worker/write_batches.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/util/json_util.h>

namespace weir::worker {
namespace {

// A repeated message field's cost on the wire: tag, length, body.
size_t FieldBytes(size_t body) { return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(body) + body; }

// The largest a batch_id field can take (tag + 10-byte varint): the writer
// sets it after the split.
constexpr size_t kBatchIdBytes = 11;

constexpr int kInvalidArgument = 3;
constexpr int kResourceExhausted = 8;
constexpr int kFailedPrecondition = 9;
constexpr int kOutOfRange = 11;

}  // namespace

size_t WriteBatchBudget(size_t max_message_bytes) { return max_message_bytes - max_message_bytes / 16; }

SplitRows SplitForMessages(PendingRows rows, size_t budget) {
  SplitRows out;
  rows.batch.clear_batch_id();
  const size_t whole = rows.batch.ByteSizeLong() + kBatchIdBytes;
  if (whole <= budget) {
    out.batches.push_back(std::move(rows));
    return out;
  }
  weir::v1::WriteBatch header = rows.batch;
  header.clear_rows();
  const size_t header_bytes = header.ByteSizeLong() + kBatchIdBytes;
  auto same_header = [&] {
    PendingRows b;
    b.batch = header;
    b.first_row_at = rows.first_row_at;
    b.counters = rows.counters;
    b.dead_letters = rows.dead_letters;
    b.dead_letter_topic = rows.dead_letter_topic;
    b.bytes = header_bytes;
    return b;
  };
  auto start_batch = [&] { out.batches.push_back(same_header()); };
  out.too_large = same_header();
  for (weir::v1::FeatureRow& row : *rows.batch.mutable_rows()) {
    const size_t row_bytes = FieldBytes(row.ByteSizeLong());
    if (header_bytes + row_bytes > budget) {
      *out.too_large.batch.add_rows() = std::move(row);
      out.too_large.bytes += row_bytes;
      continue;
    }
    if (out.batches.empty() || out.batches.back().bytes + row_bytes > budget) start_batch();
    PendingRows& b = out.batches.back();
    *b.batch.add_rows() = std::move(row);
    b.bytes += row_bytes;
  }
  return out;
}

WriteOutcome ClassifyWriteStatus(int code, std::string_view message) {
  switch (code) {
    case 0: return WriteOutcome::kAcknowledged;
    case kFailedPrecondition: return WriteOutcome::kFenced;
    case kInvalidArgument:
    case kOutOfRange: return WriteOutcome::kRefused;
    case kResourceExhausted:
      return message.find("larger than max") != std::string_view::npos ? WriteOutcome::kTooLarge : WriteOutcome::kRetry;
    default: return WriteOutcome::kRetry;
  }
}

std::vector<DeadLetterRecord> RefusedRowsAsDeadLetters(
    int32_t partition, const google::protobuf::RepeatedPtrField<weir::v1::FeatureRow>& rows, const std::string& detail,
    size_t max_value_bytes) {
  std::vector<DeadLetterRecord> out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string line;
  for (const weir::v1::FeatureRow& row : rows) {
    line.clear();
    (void)google::protobuf::util::MessageToJsonString(row, &line, options);
    line += '\n';
    if (out.empty() || out.back().record.size() + line.size() > max_value_bytes) {
      DeadLetterRecord d;
      d.reason = engine::DeadLetterReason::kSinkRefused;
      d.detail = detail;
      d.partition = partition;
      d.offset = -1;  // rows, not a source record
      d.key = row.key();
      out.push_back(std::move(d));
    }
    out.back().record += line;
  }
  return out;
}

}  // namespace weir::worker
