#include "cli/replay.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <ostream>

#include "common/job_spec.h"
#include "worker/decode/record_decoder.h"
#include "worker/engine/partition_engine.h"
#include "worker/engine/row_format.h"

namespace weir::cli {
namespace {

constexpr size_t kFlushBytes = 1 << 20;

// A FILE* that closes itself; stdin/stdout are borrowed, not closed.
struct File {
  FILE* f = nullptr;
  bool owned = false;
  ~File() {
    if (owned && f != nullptr) std::fclose(f);
  }
};

Status OpenFile(const std::string& path, const char* mode, FILE* standard, File* out, const char* what) {
  if (path.empty() || path == "-") {
    out->f = standard;
    return Status::Ok();
  }
  out->f = std::fopen(path.c_str(), mode);
  if (out->f == nullptr) {
    const int err = errno;
    return err == ENOENT && mode[0] == 'r'
               ? NotFound(std::string("cannot open ") + what + " \"" + path + "\": " + std::strerror(err))
               : InvalidArgument(std::string("cannot open ") + what + " \"" + path + "\": " + std::strerror(err));
  }
  out->owned = true;
  return Status::Ok();
}

// Collects the engine's output as JSON lines and writes it out in large blocks.
class ReplaySink : public engine::RowSink {
 public:
  ReplaySink(const engine::JobPlan& plan, FILE* rows, FILE* dead, int32_t partition, ReplaySummary* summary)
      : plan_(plan), rows_file_(rows), dead_file_(dead), partition_(partition), summary_(summary) {}

  void set_record(std::string_view record) { record_ = record; }

  void OnRow(const engine::FeatureRow& row) override {
    engine::AppendRowJson(rows_, plan_.view, plan_.features[row.feature].name, row);
    ++summary_->rows;
    if (row.revision > 0) ++summary_->corrections;
    if (rows_.size() >= kFlushBytes) (void)Drain();
  }

  void OnDeadLetter(engine::DeadLetterReason reason, const engine::Event& event, std::string_view detail) override {
    DeadLetter(reason, event.offset.value(), detail);
  }

  void DeadLetter(engine::DeadLetterReason reason, int64_t offset, std::string_view detail) {
    ++summary_->dead_letters[static_cast<int>(reason)];
    if (dead_file_ == nullptr) return;
    engine::AppendDeadLetterJson(dead_, reason, partition_, offset, detail, record_);
    if (dead_.size() >= kFlushBytes) (void)Drain();
  }

  // Writes what is buffered. Errors are sticky and reported by the last call.
  Status Drain() {
    Write(rows_file_, &rows_);
    if (dead_file_ != nullptr) Write(dead_file_, &dead_);
    if (write_errno_ != 0) return Internal(std::string("cannot write output: ") + std::strerror(write_errno_));
    return Status::Ok();
  }

 private:
  void Write(FILE* f, std::string* buf) {
    if (!buf->empty() && std::fwrite(buf->data(), 1, buf->size(), f) != buf->size()) write_errno_ = errno;
    buf->clear();
  }

  const engine::JobPlan& plan_;
  FILE* rows_file_;
  FILE* dead_file_;
  int32_t partition_;
  ReplaySummary* summary_;
  std::string_view record_;
  std::string rows_;
  std::string dead_;
  int write_errno_ = 0;
};

}  // namespace

Result<ReplaySummary> RunReplay(const ReplayOptions& options, std::ostream& log) {
  auto spec = LoadJobSpecFile(options.job_path);
  if (!spec.ok()) return spec.status();
  auto plan = engine::CompilePlan(*spec);
  if (!plan.ok()) return plan.status();

  File input, output, dead;
  WEIR_RETURN_IF_ERROR(OpenFile(options.input_path, "r", stdin, &input, "input"));
  WEIR_RETURN_IF_ERROR(OpenFile(options.output_path, "w", stdout, &output, "output"));
  if (!options.dead_letter_path.empty()) {
    WEIR_RETURN_IF_ERROR(OpenFile(options.dead_letter_path, "w", stdout, &dead, "dead-letter output"));
  }

  ReplaySummary summary;
  ReplaySink sink(**plan, output.f, dead.f, options.partition, &summary);
  engine::PartitionEngine engine(*plan, &sink);
  decode::RecordDecoder decoder(*plan);

  char* line = nullptr;
  size_t capacity = 0;
  std::unique_ptr<char, decltype(&std::free)> line_owner(nullptr, &std::free);
  int64_t offset = -1;
  auto last_progress = std::chrono::steady_clock::now();
  engine::Event event;
  decode::DecodeError error;
  for (;;) {
    const ssize_t n = ::getline(&line, &capacity, input.f);
    line_owner.release();
    line_owner.reset(line);
    if (n < 0) break;
    ++offset;
    std::string_view record(line, static_cast<size_t>(n));
    while (!record.empty() && (record.back() == '\n' || record.back() == '\r')) record.remove_suffix(1);
    if (record.empty()) continue;  // blank lines are not records (offsets still count lines)
    ++summary.records;
    sink.set_record(record);
    if (decoder.Decode(record, KafkaOffset(offset), &event, &error)) {
      engine.Process(event);
    } else {
      sink.DeadLetter(error.reason, offset, error.detail);
    }
    if (options.progress && (summary.records & 0xffff) == 0) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_progress >= std::chrono::seconds(1)) {
        last_progress = now;
        log << "replay: " << summary.records << " records, " << summary.rows << " rows" << std::endl;
      }
    }
  }
  if (std::ferror(input.f)) {
    return Internal("cannot read input \"" + options.input_path + "\": " + std::strerror(errno));
  }
  sink.set_record({});
  if (options.flush) engine.AdvanceWatermark(kMaxTime);
  summary.watermark = engine.watermark();
  WEIR_RETURN_IF_ERROR(sink.Drain());
  if (std::fflush(output.f) != 0 || (dead.f != nullptr && std::fflush(dead.f) != 0)) {
    return Internal(std::string("cannot write output: ") + std::strerror(errno));
  }
  return summary;
}

}  // namespace weir::cli
