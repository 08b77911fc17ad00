#include "coordinator/kafka_discovery.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include <absl/base/thread_annotations.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include "common/mutex.h"
#include "spec/kafka_properties.h"

namespace weir::coordinator {
namespace {

// librdkafka logs connection failures on its own; route them to our debug
// level so a retry every few seconds does not flood the log.
void LogToSpdlog(const rd_kafka_t*, int, const char* facility, const char* message) {
  spdlog::debug("rdkafka {}: {}", facility, message);
}

// The last error librdkafka reported for the client (authentication, TLS,
// connection), which says more than rd_kafka_metadata's timeout.
struct LastError {
  weir::Mutex mu;
  std::string text ABSL_GUARDED_BY(mu);
  std::string certificate ABSL_GUARDED_BY(mu);  // why a broker's certificate was refused; empty: none
};
// Verifies a broker's certificate as OpenSSL did (its result stands), and
// keeps why it was refused: librdkafka's own error says only "could not be
// verified".
int CheckCertificate(rd_kafka_t*, const char* broker, int32_t, int* x509_error, int depth, const char*, size_t,
                     char* errstr, size_t errstr_size, void* opaque) {
  if (*x509_error == 0) return 1;
  const std::string why = spec::CertificateRefused(broker, depth, *x509_error);
  std::snprintf(errstr, errstr_size, "%s", why.c_str());
  auto* last = static_cast<LastError*>(opaque);
  weir::MutexLock lock(&last->mu);
  last->certificate = why;
  return 0;
}
void RecordError(rd_kafka_t*, int, const char* reason, void* opaque) {
  auto* last = static_cast<LastError*>(opaque);
  weir::MutexLock lock(&last->mu);
  last->text = reason;
}

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};

constexpr std::chrono::milliseconds kCreateTimeout{1500};

// Creates `name` (`what`: "dead-letter topic", "repartition topic") with
// `partitions` partitions; one that already exists is fine. `hint` says what
// a user can do when it cannot be created.
Status CreateTopic(rd_kafka_t* rk, const std::string& name, int partitions, int replication,
                   std::chrono::milliseconds timeout, const std::string& what, const std::string& hint) {
  char err[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(name.c_str(), partitions, replication, err, sizeof(err));
  if (topic == nullptr) return Internal("cannot create the " + what + " " + name + ": " + err);
  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue(rd_kafka_queue_new(rk), rd_kafka_queue_destroy);
  rd_kafka_CreateTopics(rk, &topic, 1, nullptr, queue.get());
  rd_kafka_NewTopic_destroy(topic);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout.count()));
  if (event == nullptr) return Unavailable("creating the " + what + " " + name + " timed out " + hint);
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> hold(event, rd_kafka_event_destroy);
  if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable("cannot create the " + what + " " + name + ": " + rd_kafka_event_error_string(event) + " " +
                       hint);
  }
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &n);
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char* why = rd_kafka_topic_result_error_string(results[i]);
      std::string message = "cannot create the ";
      message.append(what).append(" ").append(name).append(": ");
      message.append(why != nullptr ? why : rd_kafka_err2str(e)).append(" ").append(hint);
      return Unavailable(message);
    }
  }
  return Status::Ok();
}

// A short-lived client of `brokers` with a job's source.kafka.properties,
// reporting into `last`. `what` starts its errors.
struct Client {
  std::unique_ptr<rd_kafka_t, KafkaDeleter> rk;
  spec::KafkaSettings settings;
};
Result<Client> NewClient(const std::string& brokers, const google::protobuf::Map<std::string, std::string>& properties,
                         const std::string& what, LastError* last) {
  auto settings = spec::ResolveKafkaProperties(properties);
  if (!settings.ok()) return InvalidArgument(what + ": " + settings.status().message());
  settings->insert(settings->begin(), {{"bootstrap.servers", brokers}, {"client.id", "weir-coordinator"}});
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [name, value] : *settings) {  // the job's own client.id, if any, comes later and wins
    if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return spec::SettingRefused(what, name, err, *settings);
    }
  }
  rd_kafka_conf_set_log_cb(conf, LogToSpdlog);
  rd_kafka_conf_set_error_cb(conf, RecordError);
  rd_kafka_conf_set_ssl_cert_verify_cb(conf, CheckCertificate);
  rd_kafka_conf_set_opaque(conf, last);
  // rd_kafka_new takes `conf` on success only.
  Client client{std::unique_ptr<rd_kafka_t, KafkaDeleter>(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err))),
                std::move(*settings)};
  if (client.rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return InvalidArgument(what + ": " + err);
  }
  return client;
}

}  // namespace

bool KafkaDiscovery::FirstAttempt(const std::string& brokers, const std::string& topic) {
  weir::MutexLock lock(&mu_);
  return created_.insert(brokers + "\n" + topic).second;
}

Result<TopicFound> KafkaDiscovery::FindTopic(const std::string& brokers, const std::string& topic,
                                             const google::protobuf::Map<std::string, std::string>& properties,
                                             const std::string& dead_letter_topic) {
  return Lookup(brokers, topic, properties, dead_letter_topic, 0, 0);
}

Result<int32_t> KafkaDiscovery::EnsureRepartitionTopic(
    const std::string& brokers, const std::string& topic, int32_t partitions, int32_t replication,
    const google::protobuf::Map<std::string, std::string>& properties) {
  auto found = Lookup(brokers, topic, properties, "", partitions, std::max(replication, 1));
  if (!found.ok()) return found.status();
  return found->partitions;
}

Result<TopicFound> KafkaDiscovery::Lookup(const std::string& brokers, const std::string& topic,
                                          const google::protobuf::Map<std::string, std::string>& properties,
                                          const std::string& dead_letter_topic, int32_t create_partitions,
                                          int32_t create_replication) {
  const std::string where = "topic \"" + topic + "\" at " + brokers;
  LastError last;  // outlives the client (destroyed first, below)
  auto client = NewClient(brokers, properties, "cannot read the partitions of " + where, &last);
  if (!client.ok()) return client.status();
  std::unique_ptr<rd_kafka_t, KafkaDeleter> rk = std::move(client->rk);
  const spec::KafkaSettings* settings = &client->settings;

  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t rc =
      rd_kafka_metadata(rk.get(), /*all_topics=*/1, nullptr, &md, static_cast<int>(timeout_.count()));
  if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_poll(rk.get(), 0);  // serves the queued error events to RecordError
    rk.reset();                  // no callback runs after this
    std::string detail;
    {
      weir::MutexLock lock(&last.mu);
      detail = last.text.empty() ? "" : " (" + spec::RedactSecrets(last.text, *settings) + ")";
      if (!last.certificate.empty()) detail += " (" + last.certificate + ")";
    }
    return Unavailable("cannot read the partitions of " + where + ": " + rd_kafka_err2str(rc) + detail +
                       "; are the brokers in source.kafka.brokers up and reachable from the coordinator, and its "
                       "source.kafka.properties right?");
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> hold(md, rd_kafka_metadata_destroy);
  const rd_kafka_metadata_topic_t* found = nullptr;
  bool dead_letters_exist = false;
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (topic == t.topic) found = &t;
    if (dead_letter_topic == t.topic && t.err == RD_KAFKA_RESP_ERR_NO_ERROR) dead_letters_exist = true;
  }
  if (found == nullptr && create_partitions > 0) {
    // A re-keyed job's repartition topic: created here, or the job waits.
    // librdkafka's mock cluster (weir-devkafka) does not answer CreateTopics:
    // there the topic is made at startup (weir-devkafka --topic NAME:N).
    WEIR_RETURN_IF_ERROR(CreateTopic(rk.get(), topic, create_partitions, create_replication, kCreateTimeout,
                                     "repartition topic",
                                     "(create it with " + std::to_string(create_partitions) +
                                         " partitions; with weir-devkafka, start it with --topic " + topic + ":" +
                                         std::to_string(create_partitions) + ")"));
    spdlog::info("created the repartition topic {} ({} partitions) at {}", topic, create_partitions, brokers);
    TopicFound created;
    created.partitions = create_partitions;
    created.replication = create_replication;
    return created;
  }
  if (found == nullptr) {
    return NotFound("topic \"" + topic + "\" does not exist at " + brokers +
                    " (create it, or fix source.kafka.topic; the job starts once it exists)");
  }
  if (found->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable("cannot read the partitions of " + where + ": " + rd_kafka_err2str(found->err));
  }
  TopicFound result;
  result.partitions = static_cast<int32_t>(found->partition_cnt);
  result.replication = found->partition_cnt > 0 ? found->partitions[0].replica_cnt : 0;
  const std::string dlq = "dead-letter topic \"" + dead_letter_topic + "\"";
  if (dead_letters_exist) {
    result.dead_letters = dlq + " found";
  } else if (!dead_letter_topic.empty() && FirstAttempt(brokers, dead_letter_topic)) {
    // Not fatal: a cluster that creates topics on first use (weir-devkafka's
    // mock never answers CreateTopics) still gets its dead letters.
    const int replication = std::max(result.replication, 1);
    if (Status s = CreateTopic(rk.get(), dead_letter_topic, 1, replication, kCreateTimeout, "dead-letter topic",
                               "(create it, or give source.kafka.dead_letter_topic an existing one)");
        s.ok()) {
      result.dead_letters = dlq + " created (1 partition, replication factor " + std::to_string(replication) + ")";
      spdlog::info("created the {} at {}", result.dead_letters, brokers);
    } else {
      result.dead_letters = dlq + " missing, and not created: " + s.message() +
                            " (dead letters wait until it exists, or the brokers create it on first use)";
      spdlog::warn("{}", result.dead_letters);
    }
  } else if (!dead_letter_topic.empty()) {
    result.dead_letters = dlq + " missing (creating it was tried before; dead letters wait until it exists)";
  }
  return result;
}

}  // namespace weir::coordinator

namespace weir::coordinator {

Status KafkaDiscovery::DeleteRecords(const std::string& brokers, const std::string& topic,
                                     const google::protobuf::Map<std::string, std::string>& properties,
                                     const std::map<int32_t, int64_t>& before) {
  const std::string what = "cannot delete records of " + topic + " at " + brokers;
  LastError last;  // outlives the client
  auto client = NewClient(brokers, properties, what, &last);
  if (!client.ok()) return client.status();
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(static_cast<int>(before.size()));
  for (const auto& [partition, offset] : before) {
    rd_kafka_topic_partition_list_add(offsets, topic.c_str(), partition)->offset = offset;
  }
  rd_kafka_DeleteRecords_t* request = rd_kafka_DeleteRecords_new(offsets);
  rd_kafka_topic_partition_list_destroy(offsets);
  std::unique_ptr<rd_kafka_queue_t, void (*)(rd_kafka_queue_t*)> queue(rd_kafka_queue_new(client->rk.get()),
                                                                       rd_kafka_queue_destroy);
  rd_kafka_DeleteRecords(client->rk.get(), &request, 1, nullptr, queue.get());
  rd_kafka_DeleteRecords_destroy(request);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout_.count()) * 2);
  if (event == nullptr) return Unavailable(what + ": no answer within " + std::to_string(timeout_.count() * 2) + " ms");
  std::unique_ptr<rd_kafka_event_t, void (*)(rd_kafka_event_t*)> hold(event, rd_kafka_event_destroy);
  if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Unavailable(what + ": " + rd_kafka_event_error_string(event));
  }
  const rd_kafka_topic_partition_list_t* results =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(event));
  for (int i = 0; results != nullptr && i < results->cnt; ++i) {
    if (results->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Unavailable(what + ": partition " + std::to_string(results->elems[i].partition) + ": " +
                         rd_kafka_err2str(results->elems[i].err));
    }
  }
  return Status::Ok();
}

}  // namespace weir::coordinator
