// Tokens files. The Authorizer's checks on real calls are in the feature
// store's tests (row_store_test.cc) and the security integration tests.
#include <catch2/catch.hpp>

#include "daemon/auth.h"
#include "daemon/grpc_auth.h"

using weir::Role;
using weir::TokenTable;

TEST_CASE("a tokens file maps each token to its roles", "[daemon]") {
  auto table = TokenTable::Parse("# comment\n\nt1 admin\nt2  reader, importer\n", "tokens");
  REQUIRE(table.ok());
  CHECK(table->size() == 2);
  CHECK(table->RolesOf("t1").Intersects(Role::kAdmin));
  CHECK_FALSE(table->RolesOf("t1").Intersects(Role::kReader));
  CHECK(table->RolesOf("t2").Intersects(Role::kImporter));
  CHECK(table->RolesOf("t2").ToString() == "reader, importer");
  CHECK(table->RolesOf("t3").empty());
}

TEST_CASE("a bad tokens file is refused naming the line", "[daemon]") {
  auto unknown = TokenTable::Parse("t1 admin\nt2 root\n", "tokens");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.status().message(), Catch::Matchers::Contains("tokens line 2: unknown role \"root\""));
  auto no_role = TokenTable::Parse("t1\n", "tokens");
  REQUIRE_FALSE(no_role.ok());
  CHECK_THAT(no_role.status().message(), Catch::Matchers::Contains("found no role"));
  auto twice = TokenTable::Parse("t1 admin\nt1 reader\n", "tokens");
  REQUIRE_FALSE(twice.ok());
  auto empty = TokenTable::Parse("# nothing\n", "tokens");
  REQUIRE_FALSE(empty.ok());
  CHECK_THAT(empty.status().message(), Catch::Matchers::Contains("lists no token"));
}

TEST_CASE("an Authorizer without tokens is off", "[daemon]") {
  CHECK_FALSE(weir::Authorizer().enabled());
  auto table = TokenTable::Parse("t admin\n", "tokens");
  REQUIRE(table.ok());
  CHECK(weir::Authorizer(std::move(*table)).enabled());
}

TEST_CASE("a worker token may be bound to one worker id", "[daemon]") {
  auto table = TokenTable::Parse("t1 worker:w1\nt2 worker, reader\n", "tokens");
  REQUIRE(table.ok());
  const weir::Grant* bound = table->GrantOf("t1");
  REQUIRE(bound != nullptr);
  CHECK(bound->roles.Intersects(Role::kWorker));
  CHECK(bound->worker_id == "w1");
  const weir::Grant* any = table->GrantOf("t2");
  REQUIRE(any != nullptr);
  CHECK(any->worker_id.empty());
  CHECK(table->GrantOf("t3") == nullptr);
  auto empty_id = TokenTable::Parse("t1 worker:\n", "tokens");
  REQUIRE_FALSE(empty_id.ok());
  CHECK_THAT(empty_id.status().message(), Catch::Matchers::Contains("needs a worker id"));
}
