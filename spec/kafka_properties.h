// source.kafka.properties: the librdkafka settings a job passes to every
// Kafka client Weir makes for it (the worker's consumer, the coordinator's
// partition discovery, the dead-letter producer).
//
// Rules (docs/job-spec.md, "Kafka client settings"):
//  - Settings Weir controls are refused at submit, naming the key: offsets
//    and commits, group membership, isolation, end-of-partition events,
//    callbacks and plugins, and bootstrap.servers (source.kafka.brokers).
//  - Secrets are references, never inline values: a secret key's value must
//    be `${env:NAME}` or `${file:/absolute/path}`. Any other value may be a
//    reference too. References are resolved where the client is made, so the
//    coordinator's state, `weirctl status`, logs and metrics only ever hold
//    the reference.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <google/protobuf/map.h>

#include "common/status.h"

namespace weir::spec {

// Why Weir must control `key` itself (the refusal's text), or nullopt.
std::optional<std::string> WeirControlledKafkaKey(std::string_view key);

// A key whose value is a credential (a password, a private key, a secret).
bool IsSecretKafkaKey(std::string_view key);

// `${env:NAME}` (NAME: letters, digits, _) or `${file:/absolute/path}`.
bool IsSecretReference(std::string_view value);

// The settings with every reference resolved: an environment variable's
// value, or a file's content without its trailing newlines. InvalidArgument
// naming the key and the reference (never a value) when one cannot be read.
using KafkaSettings = std::vector<std::pair<std::string, std::string>>;
Result<KafkaSettings> ResolveKafkaProperties(const google::protobuf::Map<std::string, std::string>& properties);

// `message` (say, librdkafka's refusal of a setting) with the value of every
// secret setting in `settings` replaced by "***".
std::string RedactSecrets(std::string message, const KafkaSettings& settings);

// InvalidArgument "<client>: source.kafka.properties.<name> refused: <error>",
// secrets in `error` redacted: librdkafka refused one of the job's settings.
Status SettingRefused(std::string client, std::string_view name, const std::string& error,
                      const KafkaSettings& settings);

// Why a broker's certificate was refused, from OpenSSL's X509 verification
// error (librdkafka's ssl_cert_verify_cb; its own message says only "could
// not be verified"): "the certificate of broker B (depth D) is refused:
// certificate has expired". `depth` 0 is the broker's own certificate.
std::string CertificateRefused(std::string_view broker, int depth, int x509_error);

}  // namespace weir::spec
