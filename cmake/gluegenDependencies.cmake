# The third-party packages gluegen's headers use. Shared by the build tree and by the installed
# package config, so a consumer's find_package(gluegen) finds exactly what the build found.
include(CMakeFindDependencyMacro)
# Inside a consumer's find_package(gluegen) a missing dependency makes gluegen "not found" with a
# message; in gluegen's own build it is a hard error.
macro(gluegen_find_dependency name)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "gluegen")
    find_dependency(${name} ${ARGN})
  else()
    find_package(${name} ${ARGN} REQUIRED)
  endif()
endmacro()
gluegen_find_dependency(Eigen3 3.4 NO_MODULE)
gluegen_find_dependency(xtensor)
gluegen_find_dependency(nlohmann_json 3)
gluegen_find_dependency(fmt)
gluegen_find_dependency(OpenMP COMPONENTS CXX)
gluegen_find_dependency(ZLIB)  # gzip-compressed IDX files (io/idx.hpp)
gluegen_find_dependency(OpenSSL COMPONENTS Crypto)  # SHA-256 of model weights in provenance records (io/provenance.hpp)
# utf8proc (Unicode categories, NFD, case mapping for the tokenizers), stb (PNG writing, the
# caption font), sentencepiece (XLM-R / e5 / T5 tokenizers), FFTW and libsamplerate (audio/) ship
# only pkg-config files: imported targets PkgConfig::GLUEGEN_<NAME>. HDF5 (its C API) comes the same
# way: CMake's FindHDF5 compiles a C test program, which fails in a consumer's project(x CXX) that has
# no C enabled.
gluegen_find_dependency(PkgConfig)
macro(gluegen_pkg_dependency name module debian_package)
  if(NOT TARGET PkgConfig::GLUEGEN_${name})
    pkg_check_modules(GLUEGEN_${name} QUIET IMPORTED_TARGET GLOBAL ${module})
    if(NOT GLUEGEN_${name}_FOUND)
      if(CMAKE_FIND_PACKAGE_NAME STREQUAL "gluegen")
        set(gluegen_FOUND FALSE)
        set(gluegen_NOT_FOUND_MESSAGE "gluegen needs ${module} (Debian: ${debian_package})")
        return()
      endif()
      message(FATAL_ERROR "${module} not found (Debian: ${debian_package}; scripts/setup.sh installs it)")
    endif()
  endif()
endmacro()
gluegen_pkg_dependency(UTF8PROC libutf8proc libutf8proc-dev)
gluegen_pkg_dependency(STB stb libstb-dev)
gluegen_pkg_dependency(SENTENCEPIECE sentencepiece libsentencepiece-dev)
gluegen_pkg_dependency(HDF5 hdf5 libhdf5-dev)
# The audio front end (include/gluegen/audio/): FFTW's single-precision FFT for Whisper's log-mel
# STFT, libsamplerate for resampling to 16 kHz.
gluegen_pkg_dependency(FFTW3F fftw3f libfftw3-dev)
gluegen_pkg_dependency(SAMPLERATE samplerate libsamplerate0-dev)
# eSpeak NG renders spoken prompts (audio/espeak.hpp): speech for users without recordings, and the
# speech corpus the speech aligners train and are scored on.
gluegen_pkg_dependency(ESPEAK espeak-ng libespeak-ng-dev)

# CUDA flags for translation units that include <gluegen/tensor/cuda.cuh>:
#  - C++20 through a generator expression (CMake 3.25 has no CUDA20 dialect flag for nvcc 13);
#  - relaxed constexpr and silenced host/device remarks for Eigen's headers;
#  - FMT_USE_CONSTEXPR=1 (gluegen::cuda target), which fmt 9 needs to compile under nvcc.
set(GLUEGEN_CUDA_FLAGS
    $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>
    $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>
    $<$<COMPILE_LANGUAGE:CUDA>:-diag-suppress=20011,20012,20013,20014,20015,20208>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-fopenmp>)
