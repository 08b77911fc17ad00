#include "cli/jobs.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iterator>
#include <ostream>
#include <string_view>
#include <thread>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "common/clock.h"
#include "common/rfc3339.h"
#include "common/types.h"
#include "daemon/grpc_util.h"
#include "daemon/rpc_metadata.h"
#include "spec/job_spec_yaml.h"
#include "weir/v1/services.grpc.pb.h"

namespace weir::cli {
namespace {

namespace pb = weir::v1;

constexpr auto kRpcTimeout = std::chrono::seconds(15);

// The partitions-pending trailer of a finished call, "" when there is none.
std::string PendingReason(const grpc::ClientContext& ctx) {
  const auto& trailers = ctx.GetServerTrailingMetadata();
  auto it = trailers.find(kPartitionsPendingKey);
  if (it == trailers.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

using Stub = pb::JobService::Stub;

// A unary JobService method, e.g. &Stub::GetJob.
template <typename Request, typename Response>
using Method = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

// One channel to the coordinator; a command makes one and calls through it.
class Client {
 public:
  explicit Client(const std::string& coordinator)
      : coordinator_(coordinator), stub_(pb::JobService::NewStub(MakeChannel(coordinator))) {}

  // Calls `method` with the command's deadline and returns its response or
  // the failure as a Status (see Error). When `pending_reason` is given, it
  // receives the call's partitions-pending trailer.
  template <typename Request, typename Response>
  Result<Response> Call(Method<Request, Response> method, const Request& req, std::string* pending_reason = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kRpcTimeout);
    Response resp;
    const grpc::Status s = ((*stub_).*method)(&ctx, req, &resp);
    if (!s.ok()) return Error(s);
    if (pending_reason != nullptr) *pending_reason = PendingReason(ctx);
    return resp;
  }

 private:
  // A gRPC failure as a Status (FromGrpcStatus): the coordinator's own
  // message for what it refused (it names the job and the fix), a hint when
  // it cannot be reached.
  Status Error(const grpc::Status& s) const {
    Status status = FromGrpcStatus(s);
    switch (status.code()) {
      case StatusCode::kUnavailable:
        return Unavailable("cannot reach the coordinator at " + coordinator_ + " (" + status.message() +
                           "): is weir-coordinator running there? set --coordinator or WEIR_COORDINATOR (and "
                           "--tls-ca when it serves TLS)");
      case StatusCode::kInternal:
      case StatusCode::kDataLoss:
        return Internal("the coordinator at " + coordinator_ + " failed: " + status.message());
      default: return status;
    }
  }

  const std::string coordinator_;
  std::unique_ptr<Stub> stub_;
};

// Rows of cells printed as left-aligned columns two spaces apart.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void Print(std::ostream& out) const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
      }
      out << line << "\n";
    }
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string StateName(pb::JobState state) {
  switch (state) {
    case pb::JOB_STATE_RUNNING: return "running";
    case pb::JOB_STATE_CANCELLED: return "cancelled";
    case pb::JOB_STATE_FAILED: return "failed";
    default: return "unknown";
  }
}

// A partition's state as `weirctl status` shows it.
std::string PartitionStateName(pb::PartitionState state) {
  switch (state) {
    case pb::PARTITION_STATE_STARTING: return "starting";
    case pb::PARTITION_STATE_RESTORING: return "restoring";
    case pb::PARTITION_STATE_RUNNING: return "running";
    case pb::PARTITION_STATE_PAUSED: return "paused";
    case pb::PARTITION_STATE_FAILED: return "failed";
    case pb::PARTITION_STATE_FENCED: return "fenced";
    default: return "unassigned";  // no live owner (the coordinator reports UNSPECIFIED)
  }
}

// "worker-registered", "checkpoint-abandoned", ...: the kind without its
// prefix, lower case, dashes.
std::string EventKindName(pb::ClusterEventKind kind) {
  std::string name = pb::ClusterEventKind_Name(kind);
  constexpr std::string_view kPrefix = "CLUSTER_EVENT_";
  if (name.starts_with(kPrefix)) name = name.substr(kPrefix.size());
  for (char& c : name) c = c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name.empty() ? "unknown" : name;
}

// One event on one line: time, kind, job/partition, message.
std::string EventLine(const pb::ClusterEvent& e) {
  constexpr size_t kKindWidth = 20;  // "checkpoint-abandoned"
  std::string kind = EventKindName(e.kind());
  if (kind.size() < kKindWidth) kind.append(kKindWidth - kind.size(), ' ');
  std::string subject = e.job().empty() ? "-" : e.job();
  if (!e.job().empty() && e.partition() >= 0) subject += "/" + std::to_string(e.partition());
  return FormatRfc3339Millis(e.at_ms()) + "  " + kind + "  " + subject + "  " + e.message();
}

// A message as one line of JSON: proto field names, every field printed.
Result<std::string> JsonLine(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string text;
  if (auto st = google::protobuf::util::MessageToJsonString(message, &text, options); !st.ok()) {
    return Internal("cannot print " + message.GetTypeName() + " as JSON: " + st.ToString());
  }
  return text;
}

std::string PartitionsCell(const pb::JobInfo& job) {
  if (job.partitions_size() == 0 && job.state() == pb::JOB_STATE_RUNNING) return "pending";
  return std::to_string(job.partitions_size());
}

std::string OrDash(int64_t value) { return value < 0 ? "-" : std::to_string(value); }

// "0.4s ago", "2m05s ago", "3h07m ago".
std::string Age(int64_t then_ms, int64_t now_ms) {
  if (then_ms <= 0) return "never";
  const int64_t ms = std::max<int64_t>(0, now_ms - then_ms);
  char buf[64];
  if (ms < 60'000) {
    std::snprintf(buf, sizeof(buf), "%.1fs ago", static_cast<double>(ms) / 1000.0);
  } else if (ms < 3'600'000) {
    std::snprintf(buf, sizeof(buf), "%lldm%02llds ago", static_cast<long long>(ms / 60'000),
                  static_cast<long long>(ms / 1000 % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm ago", static_cast<long long>(ms / 3'600'000),
                  static_cast<long long>(ms / 60'000 % 60));
  }
  return buf;
}

// "7 (committed 3.2s ago)", "7 (committed 3.2s ago), 8 pending", "none", "none, 1 pending".
std::string CheckpointCell(const pb::JobInfo& job, int64_t now_ms) {
  std::string cell = "none";
  if (job.latest_checkpoint() != 0) {
    cell = std::to_string(job.latest_checkpoint());
    for (const pb::CheckpointInfo& c : job.checkpoints()) {
      if (c.id() == job.latest_checkpoint()) cell += " (committed " + Age(c.committed_at_ms(), now_ms) + ")";
    }
  }
  if (job.pending_checkpoint() != 0) cell += ", " + std::to_string(job.pending_checkpoint()) + " pending";
  return cell;
}

// Each partition's next offset, "0:120 1:98"; past kShown partitions, their
// sum instead ("sum 1234 over 16 partitions").
std::string OffsetsCell(const pb::CheckpointInfo& c) {
  constexpr int kShown = 6;
  if (c.partitions_size() <= kShown) {
    std::string cell;
    for (int p = 0; p < c.partitions_size(); ++p) {
      cell += (p > 0 ? " " : "") + std::to_string(p) + ":" + std::to_string(c.partitions(p).next_offset());
    }
    return cell.empty() ? "-" : cell;
  }
  int64_t sum = 0;
  for (const pb::SnapshotRef& ref : c.partitions()) sum += std::max<int64_t>(ref.next_offset(), 0);
  return "sum " + std::to_string(sum) + " over " + std::to_string(c.partitions_size()) + " partitions";
}

// GetJob, with the error as a Status; `pending_reason` as in Client::Call.
Result<pb::JobInfo> GetJobInfo(Client& client, const std::string& name, std::string* pending_reason = nullptr) {
  pb::GetJobRequest req;
  req.set_name(name);
  auto resp = client.Call(&Stub::GetJob, req, pending_reason);
  if (!resp.ok()) return resp.status();
  return std::move(*resp->mutable_job());
}

}  // namespace

std::string HumanBytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", value, kUnits[unit]);
  return buf;
}

Status JobSubmit(const std::string& coordinator, const std::string& job_path, std::ostream& out) {
  auto spec = LoadJobSpecFile(job_path);
  if (!spec.ok()) return spec.status();
  pb::SubmitJobRequest req;
  *req.mutable_spec() = std::move(*spec);
  std::string reason;
  auto resp = Client(coordinator).Call(&Stub::SubmitJob, req, &reason);
  if (!resp.ok()) return resp.status();
  const pb::JobInfo& job = resp->job();
  out << "submitted " << job.spec().name() << " (";
  if (job.partitions_size() > 0) {
    out << job.partitions_size() << (job.partitions_size() == 1 ? " partition)" : " partitions)");
  } else {
    out << "partitions pending" << (reason.empty() ? "" : ": " + reason) << ")";
  }
  out << "\n";
  // What discovery found: partitions, replication, the dead-letter topic.
  if (job.partitions_size() > 0 && !job.discovery().empty()) out << "found " << job.discovery() << "\n";
  return Status::Ok();
}

Status JobList(const std::string& coordinator, std::ostream& out) {
  auto resp = Client(coordinator).Call(&Stub::ListJobs, pb::ListJobsRequest());
  if (!resp.ok()) return resp.status();
  if (resp->jobs_size() == 0) {
    out << "no jobs (weirctl submit JOB.yaml adds one)\n";
    return Status::Ok();
  }
  Table table({"NAME", "STATE", "PARTITIONS", "SUBMITTED", "VIEW", "TOPIC"});
  for (const pb::JobInfo& job : resp->jobs()) {
    table.Add({job.spec().name(), StateName(job.state()), PartitionsCell(job),
               FormatRfc3339Millis(job.submitted_at_ms()), job.spec().view(), job.spec().source().kafka().topic()});
  }
  table.Print(out);
  return Status::Ok();
}

Status JobStatus(const std::string& coordinator, const std::string& name, bool json, std::ostream& out) {
  Client client(coordinator);
  std::string reason;
  auto found = GetJobInfo(client, name, &reason);
  if (!found.ok()) return found.status();
  const pb::JobInfo& job = *found;
  if (json) {
    auto text = JsonLine(job);
    if (!text.ok()) return text.status();
    out << *text << "\n";
    return Status::Ok();
  }

  std::string partitions = std::to_string(job.partitions_size());
  if (job.partitions_size() == 0 && job.state() == pb::JOB_STATE_RUNNING) {
    partitions = "pending" + (reason.empty() ? "" : " (" + reason + ")");
  }
  Table header({"job:", job.spec().name()});
  header.Add({"state:", StateName(job.state())});
  header.Add({"topic:", job.spec().source().kafka().topic() + " at " + job.spec().source().kafka().brokers()});
  header.Add({"view:", job.spec().view()});
  header.Add({"submitted:", FormatRfc3339Millis(job.submitted_at_ms())});
  header.Add({"partitions:", partitions});
  const int32_t sources = job.source_partitions();
  if (sources > 0) {
    header.Add({"re-keyed:", "by " + job.spec().key() + " from " + job.spec().source().partitioned_by() +
                                 " through weir." + job.spec().name() +
                                 ".repartition; stage 1 (s1/P: source "
                                 "partition P, ROWS = messages Kafka acknowledged), stage 2 (s2/P: repartition "
                                 "partition P)"});
  }
  if (!job.discovery().empty() && job.partitions_size() > 0) header.Add({"discovery:", job.discovery()});
  if (!job.repartition_trim().empty()) header.Add({"trimmed:", job.repartition_trim()});
  header.Add({"checkpoint:", CheckpointCell(job, WallClockMs())});
  header.Print(out);
  if (job.partitions_size() == 0) return Status::Ok();

  out << "\n";
  // REASON only when a partition has one (failed, paused, or its owner not live).
  const bool reasons = std::any_of(job.partitions().begin(), job.partitions().end(),
                                   [](const pb::PartitionStatus& p) { return !p.state_reason().empty(); });
  std::vector<std::string> columns = {"PARTITION", "OWNER", "EPOCH",   "STATE", "OFFSET",
                                      "WATERMARK", "LAG",   "RECORDS", "ROWS",  "DEAD"};
  if (sources > 0) columns.push_back("DUPLICATES");
  if (reasons) columns.push_back("REASON");
  Table table(std::move(columns));
  for (const pb::PartitionStatus& p : job.partitions()) {
    const std::string partition = sources <= 0              ? std::to_string(p.partition())
                                  : p.partition() < sources ? "s1/" + std::to_string(p.partition())
                                                            : "s2/" + std::to_string(p.partition() - sources);
    std::vector<std::string> row = {partition,
                                    p.owner().empty() ? "-" : p.owner(),
                                    std::to_string(p.epoch()),
                                    PartitionStateName(p.state()),
                                    OrDash(p.offset()),
                                    p.watermark() == kMinTime ? "-" : FormatRfc3339Millis(p.watermark()),
                                    OrDash(p.lag()),
                                    std::to_string(p.records_in()),
                                    std::to_string(p.rows_out()),
                                    std::to_string(p.dead_letters())};
    if (sources > 0) row.push_back(p.partition() < sources ? "-" : std::to_string(p.duplicates_dropped()));
    if (reasons) row.push_back(p.state_reason().empty() ? "-" : p.state_reason());
    table.Add(std::move(row));
  }
  table.Print(out);
  // A job whose topic is not partitioned by its key: the store saw one key's
  // rows from two partitions (featurestore/key_owners.h).
  for (const pb::PartitionStatus& p : job.partitions()) {
    if (p.key_conflicts() == 0) continue;
    out << "\nkey conflict: partition " << p.partition() << " wrote " << p.key_conflicts()
        << " rows for keys another partition wrote first; " << p.key_conflict() << "\n";
  }
  return Status::Ok();
}

Status JobCancel(const std::string& coordinator, const std::string& name, std::ostream& out) {
  pb::CancelJobRequest req;
  req.set_name(name);
  auto resp = Client(coordinator).Call(&Stub::CancelJob, req);
  if (!resp.ok()) return resp.status();
  out << "cancelled " << resp->job().spec().name() << "\n";
  return Status::Ok();
}

Status WorkerList(const std::string& coordinator, std::ostream& out) {
  auto resp = Client(coordinator).Call(&Stub::ListWorkers, pb::ListWorkersRequest());
  if (!resp.ok()) return resp.status();
  if (resp->workers_size() == 0) {
    out << "no workers registered\n";
    return Status::Ok();
  }
  const int64_t now = WallClockMs();
  Table table({"ID", "ALIVE", "LAST-HEARTBEAT", "PARTITIONS"});
  for (const pb::WorkerInfo& w : resp->workers()) {
    std::string parts = std::to_string(w.assignments_size());
    if (w.assignments_size() > 0) {
      parts += " (";
      for (int i = 0; i < w.assignments_size(); ++i) {
        parts += (i > 0 ? "," : "") + w.assignments(i).job() + ":" + std::to_string(w.assignments(i).partition());
      }
      parts += ")";
    }
    table.Add({w.id(), w.alive() ? "yes" : "no", Age(w.last_heartbeat_ms(), now), parts});
  }
  table.Print(out);
  return Status::Ok();
}

Status JobCheckpoint(const std::string& coordinator, const std::string& name, bool wait, std::ostream& out,
                     std::chrono::milliseconds wait_timeout) {
  Client client(coordinator);
  pb::TriggerCheckpointRequest req;
  req.set_name(name);
  auto resp = client.Call(&Stub::TriggerCheckpoint, req);
  if (!resp.ok()) return resp.status();
  const uint64_t id = resp->checkpoint();
  out << "checkpoint " << id << " of " << name << " triggered" << std::endl;
  if (!wait) return Status::Ok();

  constexpr auto kPoll = std::chrono::milliseconds(100);
  const auto deadline = std::chrono::steady_clock::now() + wait_timeout;
  Status last_error;
  while (true) {
    auto job = GetJobInfo(client, name);
    if (job.ok()) {
      if (job->latest_checkpoint() >= id) {
        out << "checkpoint " << id << " of " << name << " committed\n";
        return Status::Ok();
      }
      if (job->pending_checkpoint() != id) {
        return Unavailable("checkpoint " + std::to_string(id) + " of " + name +
                           " was abandoned: not every partition acknowledged it in time, its commit failed, or the "
                           "coordinator restarted (its log says which); run weirctl checkpoint again");
      }
    } else if (job.status().code() != StatusCode::kUnavailable) {
      return job.status();
    } else {
      last_error = job.status();  // the coordinator may be restarting: keep asking until the deadline
    }
    if (std::chrono::steady_clock::now() + kPoll > deadline) break;
    std::this_thread::sleep_for(kPoll);
  }
  return Unavailable("checkpoint " + std::to_string(id) + " of " + name + " was not committed within " +
                     std::to_string(wait_timeout.count()) + " ms (weirctl status " + name +
                     " shows which partitions lag; weirctl checkpoints " + name + " lists the committed ones)" +
                     (last_error.ok() ? "" : "; last error: " + last_error.message()));
}

Status JobCheckpoints(const std::string& coordinator, const std::string& name, std::ostream& out) {
  Client client(coordinator);
  auto job = GetJobInfo(client, name);
  if (!job.ok()) return job.status();
  if (job->checkpoints_size() == 0) {
    out << "no committed checkpoints\n";
  } else {
    Table table({"ID", "TRIGGERED", "COMMITTED", "DURATION", "SIZE", "OFFSETS"});
    for (const pb::CheckpointInfo& c : job->checkpoints()) {
      table.Add(
          {std::to_string(c.id()), FormatRfc3339Millis(c.triggered_at_ms()), FormatRfc3339Millis(c.committed_at_ms()),
           std::to_string(c.committed_at_ms() - c.triggered_at_ms()) + " ms", HumanBytes(c.bytes()), OffsetsCell(c)});
    }
    table.Print(out);
  }
  if (job->pending_checkpoint() != 0) out << "pending: checkpoint " << job->pending_checkpoint() << "\n";
  return Status::Ok();
}

Status EventList(const std::string& coordinator, const EventsOptions& options, std::ostream& out) {
  Client client(coordinator);
  uint64_t after_seq = 0;
  for (bool first = true;; first = false) {
    pb::ListEventsRequest req;
    req.set_job(options.job);
    req.set_after_seq(after_seq);
    auto resp = client.Call(&Stub::ListEvents, req);
    if (resp.ok()) {
      if (resp->last_seq() < after_seq) {
        after_seq = 0;  // a restarted coordinator: a new log, from seq 1 again
        continue;
      }
      for (const pb::ClusterEvent& e : resp->events()) {
        if (options.json) {
          auto line = JsonLine(e);
          if (!line.ok()) return line.status();
          out << *line << "\n";
        } else {
          out << EventLine(e) << "\n";
        }
      }
      if (first && !options.follow && !options.json && resp->events_size() == 0) {
        out << (options.job.empty() ? "no events\n" : "no events of job " + options.job + "\n");
      }
      out.flush();
      after_seq = resp->last_seq();
    } else if (!options.follow || first || resp.status().code() != StatusCode::kUnavailable) {
      return resp.status();  // following, an unreachable coordinator (restarting?) is polled again
    }
    if (!options.follow || (options.stop && options.stop())) return Status::Ok();
    std::this_thread::sleep_for(options.poll_interval);
  }
}

}  // namespace weir::cli
