// KeyOwners: the first partition of a job to write a (view, key) owns it.
#include <catch2/catch.hpp>

#include <string>

#include "featurestore/key_owners.h"

using weir::featurestore::KeyOwners;

TEST_CASE("a key written by a second partition of the same job is a conflict naming the first", "[featurestore]") {
  KeyOwners owners(1000);
  CHECK_FALSE(owners.Claim("job", "v", "k1", 0));
  CHECK_FALSE(owners.Claim("job", "v", "k1", 0));  // the owner again
  const auto other = owners.Claim("job", "v", "k1", 3);
  REQUIRE(other);
  CHECK(*other == 0);
  // Another job, another view, or another key: no conflict.
  CHECK_FALSE(owners.Claim("other-job", "v", "k1", 3));
  CHECK_FALSE(owners.Claim("job", "v2", "k1", 3));
  CHECK_FALSE(owners.Claim("job", "v", "k2", 3));
  // Names are told apart by length, not only by their concatenation.
  CHECK_FALSE(owners.Claim("jo", "bv", "k1", 5));
  CHECK(owners.tracked() == 5);
}

TEST_CASE("a full table tracks no new keys and counts them", "[featurestore]") {
  KeyOwners owners(64);
  for (int i = 0; i < 1000; ++i) CHECK_FALSE(owners.Claim("job", "v", "k" + std::to_string(i), 0));
  CHECK(owners.tracked() <= 64);
  CHECK(owners.untracked() == 1000 - owners.tracked());
  KeyOwners off(0);
  CHECK_FALSE(off.enabled());
  CHECK_FALSE(off.Claim("job", "v", "k", 0));
  CHECK_FALSE(off.Claim("job", "v", "k", 1));
}
