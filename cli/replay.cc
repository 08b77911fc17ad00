#include "cli/replay.h"

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>

#include "decode/record_decoder.h"
#include "engine/partition_engine.h"
#include "engine/row_format.h"
#include "spec/job_spec.h"
#include "spec/job_spec_yaml.h"

namespace weir::cli {
namespace {

constexpr size_t kFlushBytes = 1 << 20;

// A FILE* that closes itself; stdin/stdout are borrowed, not closed. `name`
// is what error messages call it.
struct File {
  FILE* f = nullptr;
  bool owned = false;
  std::string name;
  ~File() {
    if (owned && f != nullptr) std::fclose(f);
  }
};

// getline's buffer, freed on every way out.
struct LineBuffer {
  char* data = nullptr;
  size_t capacity = 0;
  ~LineBuffer() { std::free(data); }
};

Status OpenFile(const std::string& path, const char* mode, FILE* standard, File* out, const char* what) {
  if (path.empty() || path == "-") {
    out->f = standard;
    out->name = std::string(what) + " (" + (standard == stdin ? "stdin" : "stdout") + ")";
    return Status::Ok();
  }
  out->name = std::string(what) + " \"" + path + "\"";
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
  ReplaySink(const engine::JobPlan& plan, const File* rows, const File* dead, int32_t partition, ReplaySummary* summary)
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
    if (dead_file_->f == nullptr) return;
    engine::AppendDeadLetterJson(dead_, reason, partition_, offset, detail, record_);
    if (dead_.size() >= kFlushBytes) (void)Drain();
  }

  // Writes what is buffered and flushes. The first write error is kept and
  // returned by this and every later call.
  Status Drain() {
    Write(*rows_file_, &rows_);
    if (dead_file_->f != nullptr) Write(*dead_file_, &dead_);
    return error_;
  }

  // The first write error, if any: the replay stops at once on one.
  const Status& error() const { return error_; }

 private:
  void Write(const File& file, std::string* buf) {
    if (error_.ok() && ((!buf->empty() && std::fwrite(buf->data(), 1, buf->size(), file.f) != buf->size()) ||
                        std::fflush(file.f) != 0)) {
      error_ =
          Internal("cannot write " + file.name + ": " + std::strerror(errno) + " (check free space and permissions)");
    }
    buf->clear();
  }

  const engine::JobPlan& plan_;
  const File* rows_file_;
  const File* dead_file_;
  int32_t partition_;
  ReplaySummary* summary_;
  std::string_view record_;
  std::string rows_;
  std::string dead_;
  Status error_;
};

}  // namespace

void ParseRepartitionHeaders(std::string_view headers, engine::RepartitionMeta* meta) {
  int64_t source_partition = -1;
  bool has_offset = false;
  while (!headers.empty()) {
    const size_t comma = headers.find(',');
    const std::string_view item = headers.substr(0, comma);
    headers = comma == std::string_view::npos ? std::string_view() : headers.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    int64_t n = 0;
    if (!engine::ParseHeaderNumber(value, &n)) continue;
    if (name == engine::kHeaderSourcePartition) source_partition = n;
    if (name == engine::kHeaderSourceOffset) {
      meta->source_offset = n;
      has_offset = true;
    }
    if (name == engine::kHeaderMarker) {
      meta->marker = true;
      meta->watermark = n;
    }
  }
  if (source_partition < 0 || source_partition > INT32_MAX || (!meta->marker && !has_offset)) {
    *meta = engine::RepartitionMeta{};
    return;
  }
  meta->source_partition = static_cast<int32_t>(source_partition);
}

Result<ReplaySummary> RunReplay(const ReplayOptions& options, std::ostream& log) {
  auto spec = LoadJobSpecFile(options.job_path);
  if (!spec.ok()) return spec.status();
  auto plan = engine::CompilePlan(*spec);
  if (!plan.ok()) return plan.status();
  if (options.rekeyed_sources > 0 && !IsRekeyed(*spec)) {
    return InvalidArgument("--rekeyed needs a re-keyed job (source.partitioned_by differs from key); " +
                           options.job_path + " is not one");
  }
  if (options.rekeyed_sources <= 0 && (*plan)->watermark_from_markers) {
    // A re-keyed job's records straight from its topic, as one partition:
    // the watermark follows their times, as for any job.
    auto own = std::make_shared<engine::JobPlan>(**plan);
    own->watermark_from_markers = false;
    *plan = std::move(own);
  }
  std::optional<engine::RekeyMerge> merge;
  if (options.rekeyed_sources > 0) merge.emplace(options.rekeyed_sources);

  File input, output, dead;
  WEIR_RETURN_IF_ERROR(OpenFile(options.input_path, "r", stdin, &input, "input"));
  WEIR_RETURN_IF_ERROR(OpenFile(options.output_path, "w", stdout, &output, "output"));
  if (!options.dead_letter_path.empty()) {
    WEIR_RETURN_IF_ERROR(OpenFile(options.dead_letter_path, "w", stdout, &dead, "dead-letter output"));
  }

  ReplaySummary summary;
  ReplaySink sink(**plan, &output, &dead, options.partition, &summary);
  engine::PartitionEngine engine(*plan, &sink);
  decode::RecordDecoder decoder(*plan);

  LineBuffer line;
  int64_t offset = -1;
  auto last_progress = std::chrono::steady_clock::now();
  engine::Event event;
  decode::DecodeError error;
  for (;;) {
    const ssize_t n = ::getline(&line.data, &line.capacity, input.f);
    if (n < 0) break;
    ++offset;
    std::string_view record(line.data, static_cast<size_t>(n));
    while (!record.empty() && (record.back() == '\n' || record.back() == '\r')) record.remove_suffix(1);
    if (record.empty()) continue;  // blank lines are not records (offsets still count lines)
    if (merge.has_value()) {
      // kcat -f '%h\t%s\n': stage 1's headers, a tab, the record's bytes.
      const size_t tab = record.find('\t');
      engine::RepartitionMeta meta;
      ParseRepartitionHeaders(record.substr(0, tab == std::string_view::npos ? record.size() : tab), &meta);
      record = tab == std::string_view::npos ? std::string_view() : record.substr(tab + 1);
      if (meta.marker) {
        engine.AdvanceWatermark(merge->OnMarker(meta.source_partition, meta.watermark));
        ++summary.markers;
        if (!sink.error().ok()) return sink.error();
        continue;
      }
      if (meta.source_partition >= 0 && meta.source_offset >= 0 &&
          !merge->Admit(meta.source_partition, meta.source_offset)) {
        ++summary.duplicates;
        continue;
      }
      if (meta.source_partition < 0 || meta.source_offset < 0) {
        ++summary.records;
        sink.set_record(record);
        sink.DeadLetter(engine::DeadLetterReason::kDecode, offset,
                        "a repartition-topic message without valid weir.sp/weir.so headers (not written by stage 1)");
        continue;
      }
    }
    ++summary.records;
    sink.set_record(record);
    if (decoder.Decode(record, KafkaOffset(offset), &event, &error)) {
      engine.Process(event);
    } else {
      sink.DeadLetter(error.reason, offset, error.detail);
    }
    if (!sink.error().ok()) return sink.error();
    if (options.progress && (summary.records & 0xffff) == 0) {
      auto now = std::chrono::steady_clock::now();
      if (now - last_progress >= std::chrono::seconds(1)) {
        last_progress = now;
        log << "replay: " << summary.records << " records, " << summary.rows << " rows" << std::endl;
      }
    }
  }
  if (std::ferror(input.f)) {
    return Internal("cannot read " + input.name + ": " + std::strerror(errno));
  }
  sink.set_record({});
  if (options.flush) engine.AdvanceWatermark(kMaxTime);
  summary.watermark = engine.watermark();
  WEIR_RETURN_IF_ERROR(sink.Drain());
  return summary;
}

}  // namespace weir::cli
