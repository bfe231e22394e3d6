// The CTranslate2 model.bin reader: f32, f16 and integer variables, aliases, and each malformed file
// as a typed error naming the file. Files are written byte by byte here, following the layout in
// io/ctranslate2.hpp (CTranslate2's model_spec.py); the real Whisper files are read by the encoder's
// tests once fetched.
#include <gluegen/io/ctranslate2.hpp>

#include <gtest/gtest.h>

#include <fstream>

namespace gluegen {
namespace {

namespace fs = std::filesystem;

class ModelBinWriter {
 public:
  explicit ModelBinWriter(std::uint32_t version = 6) {
    put<std::uint32_t>(version);
    string("WhisperSpec");
    put<std::uint32_t>(3);
  }
  template <typename V>
  ModelBinWriter& put(V v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof(V));
    return *this;
  }
  ModelBinWriter& string(const std::string& s) {
    put<std::uint16_t>(static_cast<std::uint16_t>(s.size() + 1));
    bytes += s;
    bytes += '\0';
    return *this;
  }
  /// One variable: name, dims, dtype code, and its raw bytes.
  template <typename V>
  ModelBinWriter& variable(const std::string& name, const std::vector<std::uint32_t>& dims, std::uint8_t dtype,
                           const std::vector<V>& values) {
    string(name).put<std::uint8_t>(static_cast<std::uint8_t>(dims.size()));
    for (auto d : dims) put(d);
    put(dtype).put<std::uint32_t>(static_cast<std::uint32_t>(values.size() * sizeof(V)));
    bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(V));
    return *this;
  }
  fs::path write(const std::string& stem) const {
    const fs::path path = fs::temp_directory_path() / (stem + "_" + std::to_string(::getpid()) + ".bin");
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  std::string bytes;
};

/// A small valid file: an f32 matrix, an f16 vector, an i16 scalar and one alias.
ModelBinWriter small_model() {
  ModelBinWriter w;
  w.put<std::uint32_t>(3);
  w.variable<float>("encoder/conv1/weight", {2, 1, 3}, 0, {1, 2, 3, 4, 5, -6.5f});
  w.variable<std::uint16_t>("encoder/layer_norm/gamma", {2}, 4, {f16(0.5f).bits, f16(-2.0f).bits});
  w.variable<std::int16_t>("encoder/num_heads", {}, 2, {6});
  w.put<std::uint32_t>(1).string("decoder/projection/weight").string("encoder/conv1/weight");
  return w;
}

TEST(Ctranslate2Reader, ReadsVariablesScalarsAndAliases) {
  const io::Ctranslate2Reader r(small_model().write("ct2_ok"));
  EXPECT_EQ(r.binary_version(), 6u);
  EXPECT_EQ(r.spec(), "WhisperSpec");
  EXPECT_EQ(r.spec_revision(), 3u);
  EXPECT_EQ(r.names().size(), 3u);
  EXPECT_EQ(r.shape("encoder/conv1/weight"), (Shape{2, 1, 3}));
  EXPECT_EQ(r.integer("encoder/num_heads"), 6);

  Tensor<float, Cpu> w(Shape{2, 1, 3});
  r.read_into("decoder/projection/weight", w);  // the alias reads its target
  EXPECT_EQ(w.to_vector(), (std::vector<float>{1, 2, 3, 4, 5, -6.5f}));
  Tensor<double, Cpu> g(Shape{2});
  r.read_into("encoder/layer_norm/gamma", g);
  EXPECT_EQ(g.to_vector(), (std::vector<double>{0.5, -2.0}));
}

TEST(Ctranslate2Reader, WrongShapeAndMissingNamesAreTypedErrors) {
  const io::Ctranslate2Reader r(small_model().write("ct2_names"));
  Tensor<float, Cpu> wrong(Shape{3, 2});
  EXPECT_THROW(
      {
        try {
          r.read_into("encoder/conv1/weight", wrong);
        } catch (const ShapeError& e) {
          EXPECT_NE(std::string(e.what()).find("encoder/conv1/weight"), std::string::npos) << e.what();
          throw;
        }
      },
      ShapeError);
  EXPECT_THROW(
      {
        try {
          (void)r.shape("encoder/conv2/weight");
        } catch (const MissingDatasetError& e) {
          EXPECT_NE(std::string(e.what()).find("closest: 'encoder/conv1/weight'"), std::string::npos) << e.what();
          throw;
        }
      },
      MissingDatasetError);
  EXPECT_THROW((void)r.integer("encoder/conv1/weight"), ShapeError);
}

TEST(Ctranslate2Reader, EveryTruncationIsATypedError) {
  const std::string full = small_model().bytes;
  for (std::size_t cut = 0; cut < full.size(); ++cut) {
    ModelBinWriter w(6);
    w.bytes = full.substr(0, cut);
    const fs::path path = w.write("ct2_cut");
    // A cut inside the header can also leave a plausible but wrong count: ValueError; never a crash.
    EXPECT_THROW(io::Ctranslate2Reader{path}, Error) << "cut at byte " << cut;
  }
}

TEST(Ctranslate2Reader, AbsurdSizesAndCodesAreRejectedBeforeAllocating) {
  ModelBinWriter huge;  // a [2^20, 2^20] f32 tensor declared in a file of a few bytes
  huge.put<std::uint32_t>(1).string("w").put<std::uint8_t>(2).put<std::uint32_t>(1u << 20).put<std::uint32_t>(1u << 20);
  EXPECT_THROW(io::Ctranslate2Reader{huge.write("ct2_huge")}, ValueError);

  ModelBinWriter dtype;
  dtype.put<std::uint32_t>(1).variable<float>("w", {1}, 9, {1.0f}).put<std::uint32_t>(0);
  EXPECT_THROW(io::Ctranslate2Reader{dtype.write("ct2_dtype")}, DTypeError);

  ModelBinWriter bytes;  // 3 f32 elements declared, 2 stored
  bytes.put<std::uint32_t>(1).variable<float>("w", {3}, 0, {1.0f, 2.0f}).put<std::uint32_t>(0);
  EXPECT_THROW(io::Ctranslate2Reader{bytes.write("ct2_bytes")}, ValueError);

  ModelBinWriter alias;
  alias.put<std::uint32_t>(0).put<std::uint32_t>(1).string("a").string("nothing");
  EXPECT_THROW(io::Ctranslate2Reader{alias.write("ct2_alias")}, ValueError);

  ModelBinWriter old(3);
  EXPECT_THROW(io::Ctranslate2Reader{old.write("ct2_v3")}, ValueError);
  EXPECT_THROW(io::Ctranslate2Reader{"/nonexistent/model.bin"}, FileNotFoundError);
}

TEST(Ctranslate2Reader, NonFiniteWeightsAreRejected) {
  ModelBinWriter w;
  w.put<std::uint32_t>(1).variable<float>("w", {2}, 0, {1.0f, std::numeric_limits<float>::infinity()});
  w.put<std::uint32_t>(0);
  const io::Ctranslate2Reader r(w.write("ct2_inf"));
  Tensor<float, Cpu> t(Shape{2});
  EXPECT_THROW(r.read_into("w", t), ValueError);
}

}  // namespace
}  // namespace gluegen
