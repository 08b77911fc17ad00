// UTF-8 validation, for text that must cross the wire as a proto3 string or
// appear in JSON output.
#pragma once

#include <cstddef>
#include <string_view>

namespace weir {

// The length of the longest prefix of `text` that is well-formed UTF-8
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF); equal
// to text.size() when all of it is.
size_t ValidUtf8Prefix(std::string_view text);

inline bool IsValidUtf8(std::string_view text) { return ValidUtf8Prefix(text) == text.size(); }

}  // namespace weir
