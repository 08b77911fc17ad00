#include "common/utf8.h"

#include <catch2/catch.hpp>
#include <string>

namespace weir {
namespace {

TEST_CASE("well-formed UTF-8 is valid to the end", "[common]") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("caf\xC3\xA9"));       // é
  CHECK(IsValidUtf8("\xE2\x82\xAC"));      // €
  CHECK(IsValidUtf8("\xF0\x9F\x98\x80"));  // U+1F600
  CHECK(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF, the last code point
  CHECK(IsValidUtf8(std::string("nul\0inside", 10)));
}

TEST_CASE("ill-formed UTF-8 stops the valid prefix where it starts", "[common]") {
  CHECK(ValidUtf8Prefix("ab\xFF") == 2);            // never a UTF-8 byte
  CHECK(ValidUtf8Prefix("ab\xC3") == 2);            // truncated sequence
  CHECK(ValidUtf8Prefix("\xC0\xAF") == 0);          // overlong '/'
  CHECK(ValidUtf8Prefix("\xE0\x80\xAF") == 0);      // overlong, 3 bytes
  CHECK(ValidUtf8Prefix("x\xED\xA0\x80") == 1);     // a surrogate, U+D800
  CHECK(ValidUtf8Prefix("\xF4\x90\x80\x80") == 0);  // above U+10FFFF
  CHECK(ValidUtf8Prefix("\xE2\x82\x41") == 0);      // a continuation byte missing
  CHECK(ValidUtf8Prefix("\x80") == 0);              // a lone continuation byte
}

}  // namespace
}  // namespace weir
