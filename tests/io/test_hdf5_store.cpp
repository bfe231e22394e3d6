// io/hdf5_store.hpp: round trips in every dtype, metadata, atomic writes, and every error case.
#include <gluegen/io/hdf5_store.hpp>
#include <gluegen/tensor.hpp>

#include "support/reference.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace gluegen::io {
namespace {

namespace fs = std::filesystem;
using Tf = Tensor<float, Cpu>;

class Hdf5StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("gluegen-h5-{}-{}", ::getpid(), ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path file(const char* name) const { return dir_ / name; }

  /// A small model file with nested names, two dtypes and a config.
  fs::path write_model(const char* name) {
    ModelMeta meta{.model_type = "gluenet", .config = {{"n_blocks", 3}, {"dim", 8}}};
    WeightWriter w(file(name), meta);
    w.write("encoder.layers.0.fc1.weight", ops::randn<float, Cpu>({8, 4}, 1));
    w.write("encoder.layers.0.fc1.bias", ops::randn<float, Cpu>({8}, 2));
    w.write("encoder.norm.weight", ops::randn<float, Cpu>({4}, 3), DType::f16);
    w.commit();
    return file(name);
  }

  fs::path dir_;
};

TEST_F(Hdf5StoreTest, RoundTripsEveryDtypeWithExactRounding) {
  const Tf x = ops::randn<float, Cpu>({3, 5, 7}, 42);
  const Tensor<double, Cpu> xd = ops::randn<double, Cpu>({2, 3}, 43);
  {
    WeightWriter w(file("m.h5"), {.model_type = "test"});
    w.write("as.f32", x);
    w.write("as.f64", xd);
    w.write("as.f16", x, DType::f16);
    w.write("as.bf16", x, DType::bf16);
    w.write("f16.native", x.cast<f16>());
    w.write("scalar_like", Tf::full({1}, 3.5f));
    w.write("empty", Tf::zeros({0, 4}));
    w.commit();
  }
  WeightReader r(file("m.h5"));
  EXPECT_EQ(r.read<float>("as.f32").to_vector(), x.to_vector());
  EXPECT_EQ(r.read<double>("as.f64").to_vector(), xd.to_vector());
  EXPECT_EQ(r.info("as.f16").dtype, DType::f16);
  EXPECT_EQ(r.info("as.bf16").dtype, DType::bf16);
  EXPECT_EQ(r.info("as.f64").shape, (Shape{2, 3}));
  // f16/bf16 storage rounds each value exactly once (to nearest even) and widens exactly.
  EXPECT_EQ(r.read<float>("as.f16").to_vector(), x.cast<f16>().cast<float>().to_vector());
  EXPECT_EQ(r.read<float>("as.bf16").to_vector(), x.cast<bf16>().cast<float>().to_vector());
  EXPECT_EQ(r.read<float>("f16.native").to_vector(), r.read<float>("as.f16").to_vector());
  EXPECT_EQ(r.read<f16>("as.f16").cast<float>().to_vector(), r.read<float>("as.f16").to_vector());
  EXPECT_EQ(r.read<double>("as.f32").to_vector(), x.cast<double>().to_vector());
  EXPECT_EQ(r.read<float>("scalar_like").to_vector(), std::vector<float>{3.5f});
  EXPECT_EQ(r.read<float>("empty").shape(), (Shape{0, 4}));
}

TEST_F(Hdf5StoreTest, MetadataNamesAndNestedGroups) {
  WeightReader r(write_model("m.h5"));
  EXPECT_EQ(r.meta().gluegen_format, kGluegenFormat);
  EXPECT_EQ(r.meta().model_type, "gluenet");
  EXPECT_EQ(r.meta().config.at("n_blocks"), 3);
  EXPECT_EQ(r.names(), (std::vector<std::string>{"encoder.layers.0.fc1.bias", "encoder.layers.0.fc1.weight",
                                                 "encoder.norm.weight"}));
  EXPECT_TRUE(r.contains("encoder.norm.weight"));
  EXPECT_FALSE(r.contains("encoder.norm"));  // a group, not a dataset
  EXPECT_FALSE(r.contains("decoder.norm.weight"));
  Tf target = Tf::zeros({8, 4});
  r.read_into("encoder.layers.0.fc1.weight", target);
  EXPECT_EQ(target.to_vector(), (ops::randn<float, Cpu>({8, 4}, 1).to_vector()));
}

TEST_F(Hdf5StoreTest, WritesAtomically) {
  const fs::path path = write_model("m.h5");
  const auto before = fs::file_size(path);
  {  // an abandoned write (no commit, as after an exception) leaves the old file and no temp file
    WeightWriter w(path, {.model_type = "other"});
    w.write("x", Tf::zeros({1000}));
  }
  EXPECT_EQ(fs::file_size(path), before);
  EXPECT_EQ(WeightReader(path).meta().model_type, "gluenet");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator{}), 1);
  {  // a committed write replaces it
    WeightWriter w(path, {.model_type = "other"});
    w.write("x", Tf::zeros({10}));
    w.commit();
    EXPECT_THROW(w.commit(), Error);
  }
  EXPECT_EQ(WeightReader(path).meta().model_type, "other");
}

TEST_F(Hdf5StoreTest, MissingFileAndMissingDirectory) {
  EXPECT_THROW(WeightReader(file("absent.h5")), FileNotFoundError);
  EXPECT_THROW(WeightWriter(dir_ / "no" / "such" / "dir.h5", {}), FileNotFoundError);
}

TEST_F(Hdf5StoreTest, NotAnHdf5File) {
  std::ofstream(file("text.h5")) << "this is a text file, not HDF5\n";
  try {
    WeightReader r(file("text.h5"));
    FAIL();
  } catch (const NotHdf5Error& e) {
    EXPECT_NE(e.message().find("text.h5"), std::string::npos) << e.message();
  }
}

TEST_F(Hdf5StoreTest, TruncatedFile) {
  const fs::path path = write_model("m.h5");
  fs::resize_file(path, fs::file_size(path) * 2 / 3);
  try {
    WeightReader r(path);
    for (const auto& name : r.names()) (void)r.read<float>(name);
    FAIL() << "a truncated file was read without error";
  } catch (const TruncatedFileError& e) {
    EXPECT_NE(e.message().find("m.h5"), std::string::npos) << e.message();
  }
}

TEST_F(Hdf5StoreTest, MissingDatasetSuggestsClosestNames) {
  WeightReader r(write_model("m.h5"));
  try {
    (void)r.read<float>("encoder.layers.0.fc1.weigth");
    FAIL();
  } catch (const MissingDatasetError& e) {
    EXPECT_NE(e.message().find("'encoder.layers.0.fc1.weigth' not found"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("closest: 'encoder.layers.0.fc1.weight'"), std::string::npos) << e.message();
  }
}

TEST_F(Hdf5StoreTest, WrongShapeNamesBothShapesAndTheFile) {
  WeightReader r(write_model("m.h5"));
  try {
    (void)r.read<float>("encoder.layers.0.fc1.weight", Shape{4, 8});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(e.message().find("has shape [8, 4], expected [4, 8]"), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("m.h5"), std::string::npos) << e.message();
  }
  Tf wrong = Tf::zeros({8, 5});
  EXPECT_THROW(r.read_into("encoder.layers.0.fc1.weight", wrong), ShapeError);
}

TEST_F(Hdf5StoreTest, UnsupportedDtypeAndNonFiniteValues) {
  {  // integer datasets, written with the raw C API as another tool would
    detail::Handle f(H5Fcreate(file("ints.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    const hsize_t dims[1] = {4};
    detail::Handle space(H5Screate_simple(1, dims, nullptr), H5Sclose);
    detail::Handle d(H5Dcreate2(f.get(), "ids", H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                     H5Dclose);
    const int values[4] = {1, 2, 3, 4};
    H5Dwrite(d.get(), H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values);
    detail::Handle d64(H5Dcreate2(f.get(), "ids64", H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                       H5Dclose);
    const long long wide[4] = {1, 2, 3, 4};
    H5Dwrite(d64.get(), H5T_NATIVE_LLONG, H5S_ALL, H5S_ALL, H5P_DEFAULT, wide);
  }
  WeightReader ints(file("ints.h5"));
  EXPECT_EQ(ints.meta().gluegen_format, 0);  // not written by gluegen: attributes are optional
  EXPECT_EQ(ints.info("ids").dtype, DType::i32);
  EXPECT_EQ(ints.read<std::int32_t>("ids").to_vector(), (std::vector<std::int32_t>{1, 2, 3, 4}));
  EXPECT_EQ(ints.read<float>("ids").to_vector(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_THROW((void)ints.read<std::int32_t>("ids64"), DTypeError);

  {
    WeightWriter w(file("nan.h5"), {});
    w.write("w", Tf::from_host({3}, std::vector<float>{1.f, NAN, INFINITY}));
    w.commit();
  }
  try {
    (void)WeightReader(file("nan.h5")).read<float>("w");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(e.message().find("holds 2 non-finite value(s)"), std::string::npos) << e.message();
  }
  EXPECT_EQ(WeightReader(file("nan.h5"), {.reject_nonfinite = false}).read<float>("w").numel(), 3);
}

TEST_F(Hdf5StoreTest, RejectsBadNamesAndDuplicates) {
  WeightWriter w(file("m.h5"), {});
  EXPECT_THROW(w.write("a..b", Tf::zeros({1})), ValueError);
  EXPECT_THROW(w.write("a/b", Tf::zeros({1})), ValueError);
  EXPECT_THROW(w.write("", Tf::zeros({1})), ValueError);
  w.write("a.b", Tf::zeros({1}));
  EXPECT_THROW(w.write("a.b", Tf::zeros({1})), IoError);
}

}  // namespace
}  // namespace gluegen::io
