{
  # The addon links one copy of the fast kernels per instruction set; which one runs is
  # chosen at load time (native/addon.cc). The reference kernels are always present.
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-O2", "-O3", "-std=gnu++17", "-std=gnu++20"],
    "cflags_cc": ["-std=c++17", "-fPIC", "-Wall", "-Wno-unused-function", "-fno-fast-math"],
    "include_dirs": ["native"]
  },
  "targets": [
    {
      "target_name": "fast_avx512",
      "type": "static_library",
      "sources": ["native/fast/fast_kernels.cc"],
      "cflags_cc": ["-O3"],
      "conditions": [
        ["target_arch=='x64'", {
          "defines": ["SCALEOT_ISA_AVX512"],
          "cflags_cc": ["-Wno-maybe-uninitialized", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma"]
        }, {"defines": ["SCALEOT_ISA_UNAVAILABLE", "SCALEOT_TABLE_NAME=fast_kernels_avx512"]}]
      ]
    },
    {
      "target_name": "fast_avx2",
      "type": "static_library",
      "sources": ["native/fast/fast_kernels.cc"],
      "cflags_cc": ["-O3"],
      "conditions": [
        ["target_arch=='x64'", {
          "defines": ["SCALEOT_ISA_AVX2"],
          "cflags_cc": ["-mavx2", "-mfma"]
        }, {"defines": ["SCALEOT_ISA_UNAVAILABLE", "SCALEOT_TABLE_NAME=fast_kernels_avx2"]}]
      ]
    },
    {
      "target_name": "fast_portable",
      "type": "static_library",
      "sources": ["native/fast/fast_kernels.cc"],
      "defines": ["SCALEOT_ISA_PORTABLE"],
      "cflags_cc": ["-O3", "-ffp-contract=off"]
    },
    {
      "target_name": "scaleot_native",
      "sources": ["native/addon.cc", "native/threadpool.cc"],
      "dependencies": ["fast_avx512", "fast_avx2", "fast_portable"],
      "cflags_cc": ["-O2", "-ffp-contract=off"],
      "libraries": ["-lpthread"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
