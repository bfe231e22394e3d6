// The native safetensors reader: every dtype gluegen reads, metadata, and each malformed-file case
// as a typed error naming the file and tensor. Files are written byte by byte here, following the
// format's definition (8-byte little-endian header length, JSON header, data).
#include <gluegen/io/safetensors.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>

namespace gluegen {
namespace {

namespace fs = std::filesystem;

struct Blob {
  std::string name, dtype;
  std::vector<index_t> shape;
  std::string bytes;
};

template <typename V>
std::string raw(const std::vector<V>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(V)};
}

fs::path write_file(const std::string& stem, const std::vector<Blob>& blobs, const nlohmann::json& metadata = nullptr,
                    std::function<void(nlohmann::json&, std::string&)> corrupt = {}) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& b : blobs) {
    header[b.name] = {
        {"dtype", b.dtype}, {"shape", b.shape}, {"data_offsets", {data.size(), data.size() + b.bytes.size()}}};
    data += b.bytes;
  }
  if (!metadata.is_null()) header["__metadata__"] = metadata;
  if (corrupt) corrupt(header, data);
  const std::string text = header.dump();
  const std::uint64_t n = text.size();
  const fs::path path = fs::temp_directory_path() / (stem + "_" + std::to_string(::getpid()) + ".safetensors");
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << text << data;
  return path;
}

template <typename E>
void expect_error(const fs::path& path, const std::string& fragment) {
  try {
    io::SafetensorsReader r(path);
    (void)r.read<float>(r.names().at(0));
    ADD_FAILURE() << "no error for " << path;
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos) << e.what();
  }
  fs::remove(path);
}

TEST(Safetensors, ReadsEveryDtypeAndMetadata) {
  const std::vector<float> f32{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, -0.5f};
  std::vector<f16> h16;
  std::vector<bf16> b16;
  for (float v : f32) {
    h16.push_back(f16(v));
    b16.push_back(bf16(v));
  }
  const std::vector<std::int64_t> i64{0, 1, 2, 40000};
  const std::vector<double> f64{0.1, 0.2};
  const fs::path path = write_file("dtypes",
                                   {{"a.weight", "F32", {2, 3}, raw(f32)},
                                    {"a.half", "F16", {6}, raw(h16)},
                                    {"a.brain", "BF16", {3, 2}, raw(b16)},
                                    {"position_ids", "I64", {1, 4}, raw(i64)},
                                    {"scalar", "F64", {2}, raw(f64)}},
                                   {{"format", "pt"}});
  const io::SafetensorsReader r(path);
  EXPECT_EQ(r.metadata().at("format"), "pt");
  EXPECT_EQ(r.names().size(), 5u);
  EXPECT_EQ(r.read<float>("a.weight", Shape{2, 3}).to_vector(), f32);
  EXPECT_EQ(r.read<float>("a.half").to_vector(), f32);  // exactly representable values
  EXPECT_EQ(r.read<float>("a.brain").shape(), (Shape{3, 2}));
  EXPECT_EQ(r.read<float>("a.brain").to_vector(), f32);
  EXPECT_EQ(r.read<std::int32_t>("position_ids").to_vector(), (std::vector<std::int32_t>{0, 1, 2, 40000}));
  EXPECT_EQ(r.read<double>("scalar").to_vector(), f64);
  auto target = Tensor<float, Cpu>::zeros({2, 3});
  r.read_into("a.weight", target);
  EXPECT_EQ(target.to_vector(), f32);
  EXPECT_THROW(r.read<float>("a.weight", Shape{3, 2}), ShapeError);
  try {
    (void)r.read<float>("a.wieght");
    ADD_FAILURE();
  } catch (const MissingDatasetError& e) {
    EXPECT_NE(std::string(e.what()).find("closest: 'a.weight'"), std::string::npos) << e.what();
  }
  fs::remove(path);
}

TEST(Safetensors, MalformedFilesAreTypedErrors) {
  const std::vector<float> v{1, 2, 3, 4};
  expect_error<TruncatedFileError>(write_file("truncated", {{"x", "F32", {4}, raw(v)}}, nullptr,
                                              [](nlohmann::json&, std::string& d) { d.resize(10); }),
                                   "truncated");
  expect_error<IoError>(write_file("size", {{"x", "F32", {5}, raw(v)}}), "do not fit");
  expect_error<DTypeError>(write_file("dtype", {{"x", "Q4", {4}, raw(v)}}), "unknown dtype 'Q4'");
  expect_error<DTypeError>(write_file("bool", {{"x", "BOOL", {16}, raw(v)}}), "does not read");
  expect_error<IoError>(write_file("overlap", {{"x", "F32", {4}, raw(v)}, {"y", "F32", {4}, raw(v)}}, nullptr,
                                   [](nlohmann::json& h, std::string&) {
                                     h["y"]["data_offsets"] = {8, 24};
                                   }),
                        "overlap");
  // found by fuzzing: a float extent (4.7e19) reached an unchecked conversion, and extents whose product passes
  // 2^63 a signed overflow; both are typed errors now
  expect_error<IoError>(write_file("float_shape", {{"x", "F32", {4}, raw(v)}}, nullptr,
                                   [](nlohmann::json& h, std::string&) { h["x"]["shape"] = {4.7e19}; }),
                        "not a list of whole numbers");
  expect_error<IoError>(write_file("huge_shape", {{"x", "F32", {4}, raw(v)}}, nullptr,
                                   [](nlohmann::json& h, std::string&) {
                                     h["x"]["shape"] = {std::int64_t{1} << 40, std::int64_t{1} << 40};
                                   }),
                        "more elements than");
  const std::vector<float> nan{1, std::numeric_limits<float>::quiet_NaN()};
  expect_error<ValueError>(write_file("nan", {{"x", "F32", {2}, raw(nan)}}), "non-finite value at index 1");
  {  // a header length beyond the file
    const fs::path path = fs::temp_directory_path() / ("gluegen_st_len_" + std::to_string(::getpid()) + ".safetensors");
    std::ofstream(path, std::ios::binary) << std::string("\xff\xff\x00\x00\x00\x00\x00\x00{}", 10);
    EXPECT_THROW(io::SafetensorsReader{path}, TruncatedFileError);
    fs::remove(path);
  }
  {  // not JSON
    const fs::path path =
        fs::temp_directory_path() / ("gluegen_st_json_" + std::to_string(::getpid()) + ".safetensors");
    std::ofstream(path, std::ios::binary) << std::string("\x04\x00\x00\x00\x00\x00\x00\x00{{{{", 12);
    EXPECT_THROW(io::SafetensorsReader{path}, IoError);
    fs::remove(path);
  }
  EXPECT_THROW(io::SafetensorsReader{"/nonexistent/model.safetensors"}, FileNotFoundError);
}

// Found by fuzzing (tests/fuzz/fuzz_safetensors.cpp): a file rejected after it was opened and mapped leaked its
// descriptor and its mapping, so a program probing many bad files ran out of descriptors.
TEST(Safetensors, ARejectedFileLeavesNoDescriptorOrMappingBehind) {
  const auto count = [](const char* what) {
    if (std::string(what) == "fd")
      return std::distance(fs::directory_iterator("/proc/self/fd"), fs::directory_iterator{});
    std::ifstream maps("/proc/self/maps");
    return static_cast<std::ptrdiff_t>(std::count(std::istreambuf_iterator<char>(maps), {}, '\n'));
  };
  const fs::path path = write_file("leak", {{"x", "F32", {5}, raw(std::vector<float>{1, 2, 3, 4})}});
  EXPECT_THROW(io::SafetensorsReader{path}, IoError);  // warm up: whatever the first throw allocates for good
  const auto fds = count("fd"), maps = count("maps");
  for (int i = 0; i < 50; ++i) EXPECT_THROW(io::SafetensorsReader{path}, IoError);
  EXPECT_EQ(count("fd"), fds);
  EXPECT_EQ(count("maps"), maps);
  fs::remove(path);
}

}  // namespace
}  // namespace gluegen
