#include "daemon/auth.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace weir {
namespace {

constexpr std::string_view kSpace = " \t\r\n";

std::string_view Trim(std::string_view s) {
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

Result<std::string> ReadWholeFile(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) return NotFound(std::string("cannot read the ") + what + " \"" + path + "\": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<Role> ParseRole(std::string_view name) {
  if (name == "admin") return Role::kAdmin;
  if (name == "worker") return Role::kWorker;
  if (name == "reader") return Role::kReader;
  if (name == "importer") return Role::kImporter;
  return InvalidArgument("unknown role \"" + std::string(name) + "\" (roles: admin, worker, reader, importer)");
}

}  // namespace

std::string Roles::ToString() const {
  std::string out;
  for (const auto& [role, name] : {std::pair{Role::kAdmin, "admin"}, std::pair{Role::kWorker, "worker"},
                                   std::pair{Role::kReader, "reader"}, std::pair{Role::kImporter, "importer"}}) {
    if (!Intersects(role)) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out.empty() ? "no role" : out;
}

Result<TokenTable> TokenTable::Parse(std::string_view text, const std::string& source) {
  TokenTable table;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = Trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    auto where = [&] { return source + " line " + std::to_string(line_no) + ": "; };
    const size_t space = line.find_first_of(kSpace);
    if (space == std::string_view::npos) {
      return InvalidArgument(where() + "want `TOKEN ROLE[,ROLE...]`, found no role");
    }
    const std::string token(line.substr(0, space));
    std::string_view names = Trim(line.substr(space));
    Roles roles;
    while (!names.empty()) {
      const size_t comma = names.find(',');
      auto role = ParseRole(Trim(names.substr(0, comma)));
      if (!role.ok()) return InvalidArgument(where() + role.status().message());
      roles = roles | *role;
      names = comma == std::string_view::npos ? std::string_view{} : names.substr(comma + 1);
    }
    if (!table.roles_.emplace(token, roles).second) {
      return InvalidArgument(where() + "a token listed twice (give it all its roles on one line)");
    }
  }
  if (table.roles_.empty()) {
    return InvalidArgument(source + " lists no token (one `TOKEN ROLE[,ROLE...]` per line)");
  }
  return table;
}

Result<TokenTable> TokenTable::Load(const std::string& path) {
  auto text = ReadWholeFile(path, "tokens file");
  if (!text.ok()) return text.status();
  return Parse(*text, "tokens file \"" + path + "\"");
}

Roles TokenTable::RolesOf(std::string_view token) const {
  auto it = roles_.find(token);
  return it == roles_.end() ? Roles() : it->second;
}

Result<std::string> ReadTokenFile(const std::string& path) {
  auto text = ReadWholeFile(path, "token file");
  if (!text.ok()) return text.status();
  const std::string_view token = Trim(std::string_view(*text).substr(0, text->find('\n')));
  if (token.empty()) return InvalidArgument("the token file \"" + path + "\" is empty (its first line is the token)");
  return std::string(token);
}

}  // namespace weir
