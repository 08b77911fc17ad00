// source.kafka.properties: what submit accepts and refuses, and how the
// clients' side resolves references without ever echoing a secret.
#include "spec/kafka_properties.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>

#include "spec/job_spec_yaml.h"

using Catch::Matchers::Contains;

namespace {

std::string Job(const std::string& properties) {
  return "name: j\n"
         "source:\n"
         "  kafka:\n"
         "    brokers: \"127.0.0.1:9092\"\n"
         "    topic: events\n"
         "    properties:\n" +
         properties +
         "key: user_id\n"
         "event_time: { field: ts }\n"
         "view: v\n"
         "features:\n"
         "  - { name: n, agg: count, window: { tumbling: 1m } }\n"
         "sink: { feature_store: \"127.0.0.1:7070\" }\n";
}

}  // namespace

TEST_CASE("client settings are kept as given, secrets as references", "[spec][kafka]") {
  auto spec =
      weir::ParseJobSpecYaml(Job("      security.protocol: SASL_SSL\n"
                                 "      sasl.mechanism: PLAIN\n"
                                 "      sasl.username: weir\n"
                                 "      sasl.password: \"${file:/run/secrets/kafka-password}\"\n"
                                 "      ssl.ca.location: /etc/weir/ca.pem\n"
                                 "      socket.timeout.ms: 10000\n"));
  REQUIRE(spec.ok());
  const auto& props = spec->source().kafka().properties();
  CHECK(props.size() == 6);
  CHECK(props.at("sasl.password") == "${file:/run/secrets/kafka-password}");
  CHECK(props.at("socket.timeout.ms") == "10000");
}

TEST_CASE("settings Weir controls and inline secrets are refused, naming the key", "[spec][kafka]") {
  for (const std::string key :
       {"group.id", "enable.auto.commit", "auto.offset.reset", "isolation.level", "enable.partition.eof",
        "bootstrap.servers", "plugin.library.paths", "oauthbearer_token_refresh_cb"}) {
    auto spec = weir::ParseJobSpecYaml(Job("      " + key + ": x\n"));
    REQUIRE_FALSE(spec.ok());
    CHECK_THAT(spec.status().message(), Contains("source.kafka.properties." + key + ": is set by Weir"));
  }
  auto inline_secret = weir::ParseJobSpecYaml(Job("      sasl.password: hunter2\n"));
  REQUIRE_FALSE(inline_secret.ok());
  CHECK_THAT(inline_secret.status().message(), Contains("source.kafka.properties.sasl.password: is a secret"));
  CHECK_THAT(inline_secret.status().message(), !Contains("hunter2"));
  auto relative = weir::ParseJobSpecYaml(Job("      ssl.key.password: \"${file:secret.txt}\"\n"));
  CHECK_FALSE(relative.ok());
  auto nested = weir::ParseJobSpecYaml(Job("      sasl: { password: x }\n"));
  CHECK_FALSE(nested.ok());
}

TEST_CASE("references resolve from the environment and files, failures name the reference only", "[spec][kafka]") {
  char dir[] = "/tmp/weir-kafka-props-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string file = std::string(dir) + "/password";
  std::ofstream(file) << "s3cret-from-file\n";
  setenv("WEIR_TEST_KAFKA_USER", "weir-user", 1);
  google::protobuf::Map<std::string, std::string> props;
  props["sasl.username"] = "${env:WEIR_TEST_KAFKA_USER}";
  props["sasl.password"] = "${file:" + file + "}";
  props["client.id"] = "plain";
  auto resolved = weir::spec::ResolveKafkaProperties(props);
  REQUIRE(resolved.ok());
  std::map<std::string, std::string> got(resolved->begin(), resolved->end());
  CHECK(got["sasl.username"] == "weir-user");
  CHECK(got["sasl.password"] == "s3cret-from-file");
  CHECK(got["client.id"] == "plain");
  CHECK(weir::spec::RedactSecrets("bad value s3cret-from-file for sasl.password", *resolved) ==
        "bad value *** for sasl.password");

  props["sasl.password"] = "${file:" + std::string(dir) + "/missing}";
  auto missing = weir::spec::ResolveKafkaProperties(props);
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Contains("source.kafka.properties.sasl.password: ${file:"));
  unsetenv("WEIR_TEST_KAFKA_USER");
  props.erase("sasl.password");
  auto unset = weir::spec::ResolveKafkaProperties(props);
  REQUIRE_FALSE(unset.ok());
  CHECK_THAT(unset.status().message(), Contains("${env:WEIR_TEST_KAFKA_USER}: the environment variable is not set"));
  std::remove(file.c_str());
  rmdir(dir);
}

TEST_CASE("a refused broker certificate says why, in words a user can act on", "[spec][kafka]") {
  CHECK(weir::spec::CertificateRefused("sasl_ssl://127.0.0.1:9093/1", 0, 10) ==
        "the certificate of broker sasl_ssl://127.0.0.1:9093/1 is refused: certificate has expired (renew the "
        "brokers' certificate)");
  CHECK_THAT(weir::spec::CertificateRefused("b", 1, 20),
             Contains("(chain depth 1) is refused: unable to get the issuer"));
  CHECK_THAT(weir::spec::CertificateRefused("b", 0, 62), Contains("hostname mismatch"));
  CHECK_THAT(weir::spec::CertificateRefused("b", 0, 4242), Contains("X509 verification error 4242"));
}
