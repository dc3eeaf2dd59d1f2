{
  "targets": [
    {
      "target_name": "scaleot_native",
      "sources": ["native/addon.cc"],
      "include_dirs": ["native"],
      "cflags_cc!": ["-fno-exceptions", "-O2", "-O3"],
      "cflags_cc": ["-std=c++17", "-O2", "-fno-fast-math", "-ffp-contract=off", "-Wall", "-Wno-unused-function"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
