// gluegen inspect / convert-weights / record-provenance (model_file_commands.hpp).
#include "model_file_commands.hpp"

#include "inspect_model_file.hpp"
#include "option_checks.hpp"

#include <gluegen/aligners/model_files.hpp>
#include <gluegen/diffusion/model_files.hpp>
#include <gluegen/encoders/speech_encoder.hpp>
#include <gluegen/encoders/text_encoder.hpp>
#include <gluegen/io/provenance.hpp>

#include <fmt/format.h>

#include <memory>
#include <optional>

namespace gluegen::cli {
namespace {

/// Copies the datasets of `in` whose names start with `keep` (the prefix stripped) into `out`: float tensors
/// stored as `storage` (nullopt: as stored), integer tensors and texts as they are. Returns how many.
std::size_t copy_datasets(const io::WeightReader& in, io::WeightWriter& out, const std::string& keep,
                          std::optional<DType> storage) {
  std::size_t n = 0;
  for (const auto& name : in.names()) {
    if (!name.starts_with(keep)) continue;
    const std::string to = name.substr(keep.size());
    if (in.holds_text(name)) {
      out.write_strings(to, in.read_strings(name));
    } else if (const DType stored = in.info(name).dtype; stored == DType::i32) {
      out.write(to, in.read<std::int32_t>(name));
    } else if (stored == DType::f64 && (!storage || *storage == DType::f64)) {
      out.write(to, in.read<double>(name));
    } else {
      out.write(to, in.read<float>(name), storage.value_or(stored));
    }
    ++n;
  }
  return n;
}

struct ConvertArgs {
  std::string in, out, dtype = "f16";
  bool encoder_only = false;
};

/// Rewrites a model file with its floating-point tensors stored as another dtype (f16 / bf16 halve a
/// file; compute stays f32 on load), keeping model_type, config, provenance, the integer tensors and the texts.
/// With encoder_only, a GlueNet keeps only what inference runs, its encoder f, as the Translator_noln it
/// is (gluegen.translator): the reconstruction decoder and the discriminator only serve training.
int convert_weights_command(const ConvertArgs& a) {
  const auto storage = dtype_from_name(a.dtype);
  GLUEGEN_CHECK_AS(ValueError, storage && *storage != DType::i32, "--dtype must be f32, f64, f16 or bf16, got '{}'",
                   a.dtype);
  const io::WeightReader in(a.in);
  io::ModelMeta meta = in.meta();
  std::string keep;  // the prefix of the tensors kept, stripped from their names
  if (a.encoder_only) {
    GLUEGEN_CHECK_AS(ValueError, meta.model_type == aligners::kGlueNetModelType,
                     "--encoder-only takes a GlueNet ({}), and '{}' holds a '{}'", aligners::kGlueNetModelType, a.in,
                     meta.model_type);
    meta = aligners::translator_meta<false>(aligners::gluenet_config(in).encoder_config());
    meta.provenance = in.meta().provenance;
    keep = "encoder.";
  }
  std::filesystem::create_directories(std::filesystem::absolute(a.out).parent_path());
  io::WeightWriter out(a.out, meta);
  const std::size_t n = copy_datasets(in, out, keep, storage);
  out.commit();
  fmt::print("{} datasets of '{}' ({}) -> {} ({}) as {}: {:.1f} MB -> {:.1f} MB\n", n, a.in, in.meta().model_type,
             a.out, meta.model_type, a.dtype, static_cast<double>(std::filesystem::file_size(a.in)) / 1e6,
             static_cast<double>(std::filesystem::file_size(a.out)) / 1e6);
  return 0;
}

struct RecordArgs {
  std::string file, source_encoder, target_encoder, text_encoder, decoder, made_by;
  index_t source_length = 0, target_length = 0, text_length = 0;
};

/// Adds to a file's provenance record what it was made from, computing each model's identity from its weights,
/// and rewrites the file atomically with every dataset as it was stored. For files made before gluegen recorded
/// provenance (the shipped models); files gluegen makes now record it themselves.
int record_provenance_command(const RecordArgs& a) {
  const io::WeightReader in(a.file);
  io::ModelMeta meta = in.meta();
  if (!meta.provenance.is_object()) meta.provenance = nlohmann::json::object();
  auto& record = meta.provenance;
  if (!a.source_encoder.empty())
    record["source_encoder"] = encoders::is_whisper_folder(a.source_encoder)
                                   ? encoders::WhisperSpeechEncoder<float, Cpu>(a.source_encoder).identity().to_json()
                                   : encoders::HfTextEncoder<float, Cpu>(a.source_encoder).identity().to_json();
  if (!a.target_encoder.empty())
    record["target_encoder"] = encoders::HfTextEncoder<float, Cpu>(a.target_encoder).identity().to_json();
  if (!a.text_encoder.empty())
    record["text_encoder"] = encoders::HfTextEncoder<float, Cpu>(a.text_encoder).identity().to_json();
  if (!a.decoder.empty()) {
    auto unet = diffusion::load_unet<float, Cpu>(io::WeightReader(a.decoder));
    record["decoder"] =
        io::ModelIdentity{std::filesystem::path(a.decoder).stem().string(), io::weights_sha256(unet)}.to_json();
  }
  if (a.source_length > 0) record["source_length"] = a.source_length;
  if (a.target_length > 0) record["target_length"] = a.target_length;
  if (a.text_length > 0) record["text_length"] = a.text_length;
  if (!a.made_by.empty()) record["command"] = a.made_by;
  record["recorded_by"] = command_line();
  io::WeightWriter out(a.file, meta);  // a new file renamed over the old one only once complete
  const std::size_t n = copy_datasets(in, out, "", std::nullopt);
  out.commit();
  fmt::print("{}: {} datasets rewritten with the provenance record\n", a.file, n);
  print_provenance(record);
  return 0;
}

}  // namespace

std::function<int()> add_model_file_commands(CLI::App& app) {
  auto inspect = std::make_shared<std::pair<std::string, bool>>();
  auto* inspect_cmd = app.add_subcommand("inspect", "what a model file holds: model_type, config, provenance, tensors");
  inspect_cmd->add_option("file", inspect->first, "a gluegen (or any HDF5) file")->required()->check(CLI::ExistingFile);
  inspect_cmd->add_flag("--stats", inspect->second, "min / max / mean / std of every tensor");

  auto cv = std::make_shared<ConvertArgs>();
  auto* convert_cmd =
      app.add_subcommand("convert-weights", "rewrite a model file with its float tensors in another storage dtype");
  convert_cmd->add_option("--in", cv->in, "model file (.h5)")->required()->check(CLI::ExistingFile);
  convert_cmd->add_option("--out", cv->out, "output file")->required();
  convert_cmd->add_option("--dtype", cv->dtype, "storage: f16, bf16, f32, f64")->capture_default_str();
  convert_cmd->add_flag("--encoder-only", cv->encoder_only,
                        "a GlueNet's encoder f alone (gluegen.translator), all that inference needs");

  auto rec = std::make_shared<RecordArgs>();
  auto* rec_cmd = app.add_subcommand(
      "record-provenance", "record in a model file which models it was made with (files made before gluegen did)");
  rec_cmd->add_option("--file", rec->file, "the model file, rewritten in place")->required()->check(CLI::ExistingFile);
  rec_cmd->add_option("--source-encoder", rec->source_encoder, "an aligner's source encoder (text or Whisper folder)")
      ->check(CLI::ExistingDirectory);
  rec_cmd->add_option("--target-encoder", rec->target_encoder, "the encoder whose features an aligner maps into")
      ->check(CLI::ExistingDirectory);
  rec_cmd->add_option("--text-encoder", rec->text_encoder, "a decoder's (or captions file's) own text encoder")
      ->check(CLI::ExistingDirectory);
  rec_cmd->add_option("--decoder", rec->decoder, "the frozen decoder a LaVi-Bridge or ELLA file adapts")
      ->check(CLI::ExistingFile);
  rec_cmd->add_option("--source-length", rec->source_length, "source tokens per prompt it was trained with")
      ->check(at_least_one);
  rec_cmd->add_option("--target-length", rec->target_length, "target tokens per prompt")->check(at_least_one);
  rec_cmd->add_option("--text-length", rec->text_length, "a decoder's tokens per caption")->check(at_least_one);
  rec_cmd->add_option("--made-by", rec->made_by, "the command (or recipe) that made the file");

  return [=]() -> int {
    if (inspect_cmd->parsed()) return inspect_model_file(inspect->first, inspect->second);
    if (convert_cmd->parsed()) return convert_weights_command(*cv);
    if (rec_cmd->parsed()) return record_provenance_command(*rec);
    return -1;
  };
}

}  // namespace gluegen::cli
