#pragma once
// What a pipeline needs from a text encoder: prompts in, token features and their padding mask out
// at a fixed length (an aligner sees fixed token lengths), with the encoder's width and identity.
#include <gluegen/encoders/encoder_output.hpp>

#include <concepts>
#include <string>
#include <vector>

namespace gluegen::encoders {

/// texts -> EncoderOutput with last_hidden_state [B, length, width()] and mask [B, length].
template <typename E>
concept TextEncoder = requires(E& e, const E& ce, const std::vector<std::string>& texts, index_t length) {
  typename E::value_type;
  typename E::policy;
  { e.encode(texts, length) } -> std::same_as<EncoderOutput<typename E::value_type, typename E::policy>>;
  { ce.width() } -> std::convertible_to<index_t>;
  { ce.name() } -> std::convertible_to<std::string>;
};

}  // namespace gluegen::encoders
