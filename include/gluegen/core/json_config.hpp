#pragma once
// Model configs read from users' files (a folder's config.json, a model file's config attribute): the one place
// where the JSON library's own exceptions become gluegen's typed errors, so a member of the wrong type
// ("hidden_size": "384") or a missing required one names the file like every other bad input.
#include <gluegen/core/error.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace gluegen {

/// JSON text from `origin`; an IoError naming it when the text is not JSON.
[[nodiscard]] inline nlohmann::json parse_json(std::string_view text, const std::string& origin) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    GLUEGEN_THROW(IoError, "'{}' is not valid JSON: {}", origin, e.what());
  }
}

/// Config::from_json(j) for the config of `origin`; a member of the wrong type is an IoError naming it.
template <typename Config>
[[nodiscard]] Config config_from_json(const nlohmann::json& j, const std::string& origin) {
  try {
    return Config::from_json(j);
  } catch (const nlohmann::json::exception& e) {
    GLUEGEN_THROW(IoError, "the model config of '{}' is malformed: {}", origin, e.what());
  }
}

}  // namespace gluegen
