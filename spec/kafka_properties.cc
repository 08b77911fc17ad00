#include "spec/kafka_properties.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace weir::spec {
namespace {

struct Controlled {
  std::string_view key;
  std::string_view why;
};

constexpr std::string_view kOffsets = "Weir keeps offsets in its checkpoints and never commits them to Kafka";
constexpr std::string_view kGroup = "Weir assigns partitions itself and never joins a consumer group";

constexpr Controlled kControlled[] = {
    {"bootstrap.servers", "set it with source.kafka.brokers"},
    {"metadata.broker.list", "set it with source.kafka.brokers"},
    {"group.id", kGroup},
    {"group.instance.id", kGroup},
    {"group.protocol", kGroup},
    {"group.protocol.type", kGroup},
    {"partition.assignment.strategy", kGroup},
    {"session.timeout.ms", kGroup},
    {"heartbeat.interval.ms", kGroup},
    {"enable.auto.commit", kOffsets},
    {"auto.commit.interval.ms", kOffsets},
    {"enable.auto.offset.store", kOffsets},
    {"auto.offset.reset",
     "Weir decides what a missing offset means (source.kafka.start; records gone from Kafka: source.on_offset_gap)"},
    {"offset.store.method", kOffsets},
    {"isolation.level", "Weir reads committed records only, as its exactly-once guarantee needs"},
    {"enable.partition.eof", "Weir uses end-of-partition events to tell a readable partition"},
    {"transactional.id", "Weir's clients are not transactional producers"},
    {"enable.idempotence", "Weir makes its producers idempotent itself"},
    {"statistics.interval.ms", "Weir reads the clients' statistics for its lag metrics"},
    {"plugin.library.paths", "a job may not load code into Weir's processes"},
    {"interceptors", "a job may not load code into Weir's processes"},
};

constexpr std::string_view kSecretKeys[] = {
    "sasl.password",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.config",
    "ssl.key.password",
    "ssl.key.pem",
    "ssl.keystore.password",
    "ssl_key",
};

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The name or path inside `${env:...}` or `${file:...}`, or nullopt.
std::optional<std::string_view> ReferenceBody(std::string_view value, std::string_view scheme) {
  const std::string open = "${" + std::string(scheme) + ":";
  if (value.size() <= open.size() + 1 || value.substr(0, open.size()) != open || value.back() != '}') {
    return std::nullopt;
  }
  return value.substr(open.size(), value.size() - open.size() - 1);
}

bool IsEnvName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// InvalidArgument "<where>: <reference>: <why>" (never a value).
Status Unresolved(std::string where, std::string_view reference, std::string_view why) {
  where += ": ";
  where += reference;
  where += ": ";
  where += why;
  return InvalidArgument(std::move(where));
}

}  // namespace

std::optional<std::string> WeirControlledKafkaKey(std::string_view key) {
  for (const Controlled& c : kControlled) {
    if (key == c.key) return std::string(c.why);
  }
  if (EndsWith(key, "_cb") || EndsWith(key, ".cb")) return std::string("callbacks are Weir's own");
  return std::nullopt;
}

bool IsSecretKafkaKey(std::string_view key) {
  for (std::string_view s : kSecretKeys) {
    if (key == s) return true;
  }
  return false;
}

bool IsSecretReference(std::string_view value) {
  if (auto name = ReferenceBody(value, "env")) return IsEnvName(*name);
  if (auto path = ReferenceBody(value, "file")) return path->front() == '/';
  return false;
}

Result<KafkaSettings> ResolveKafkaProperties(const google::protobuf::Map<std::string, std::string>& properties) {
  KafkaSettings out;
  for (const auto& [key, value] : properties) {
    const std::string where = "source.kafka.properties." + key;
    if (!IsSecretReference(value)) {
      if (IsSecretKafkaKey(key)) return InvalidArgument(where + ": a secret must be a ${env:NAME} or ${file:/path}");
      out.emplace_back(key, value);
      continue;
    }
    if (auto name = ReferenceBody(value, "env")) {
      const char* got = std::getenv(std::string(*name).c_str());
      if (got == nullptr) return Unresolved(where, value, "the environment variable is not set");
      out.emplace_back(key, got);
      continue;
    }
    const std::string path(*ReferenceBody(value, "file"));
    std::ifstream in(path, std::ios::binary);
    if (!in) return Unresolved(where, value, std::string("cannot read the file: ") + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    std::string content = text.str();
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) content.pop_back();
    out.emplace_back(key, std::move(content));
  }
  return out;
}

Status SettingRefused(std::string client, std::string_view name, const std::string& error,
                      const KafkaSettings& settings) {
  client += ": source.kafka.properties.";
  client += name;
  client += " refused: ";
  client += RedactSecrets(error, settings);
  return InvalidArgument(std::move(client));
}

std::string CertificateRefused(std::string_view broker, int depth, int x509_error) {
  // The codes of <openssl/x509_vfy.h> a user can act on; others by number.
  std::string why;
  switch (x509_error) {
    case 9: why = "certificate is not yet valid (check the clocks)"; break;
    case 10: why = "certificate has expired (renew the brokers' certificate)"; break;
    case 18: why = "self-signed certificate (give its CA in ssl.ca.location)"; break;
    case 19: why = "self-signed certificate in the chain (give its CA in ssl.ca.location)"; break;
    case 20:
    case 21: why = "unable to get the issuer certificate (give the CA in ssl.ca.location)"; break;
    case 23: why = "certificate revoked"; break;
    case 62: why = "hostname mismatch (the certificate does not name the broker's address)"; break;
    default: why = "X509 verification error " + std::to_string(x509_error); break;
  }
  std::string message = "the certificate of broker ";
  message += broker;
  message += depth == 0 ? "" : " (chain depth " + std::to_string(depth) + ")";
  message += " is refused: ";
  message += why;
  return message;
}

std::string RedactSecrets(std::string message, const KafkaSettings& settings) {
  for (const auto& [key, value] : settings) {
    if (!IsSecretKafkaKey(key) || value.empty()) continue;
    for (size_t at = message.find(value); at != std::string::npos; at = message.find(value, at + 3)) {
      message.replace(at, value.size(), "***");
    }
  }
  return message;
}

}  // namespace weir::spec
