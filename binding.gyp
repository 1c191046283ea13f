{
  # ROUTEGUARD_PORTABLE=1 (set by scripts/prebuild.js) selects the portable link below.
  "variables": { "routeguard_portable%": "<!(node -p \"process.env.ROUTEGUARD_PORTABLE === '1' ? 1 : 0\")" },
  "targets": [
    {
      "target_name": "routeguard",
      "sources": [
        "<!@(node -p \"require('fs').readFileSync('native/sources.txt','utf8').split('\\n').filter(Boolean).join(' ')\")"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED",
                  "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-fexceptions", "-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }],
        # Prebuilds (ROUTEGUARD_PORTABLE=1): libstdc++ linked in and
        # kept private, so the binary needs no GLIBCXX_* and no glibc symbol newer than GLIBC_2.28
        # (native/glibc_compat.cc). libgcc stays shared: the static libgcc_eh of GCC 12 imports
        # _dl_find_object@GLIBC_2.35, and libgcc_s.so.1 is loaded by Node itself anyway.
        # From-source builds (musl, other arches) link normally: they run where they are built,
        # and not every distribution installs a static libstdc++ with g++.
        ["routeguard_portable==1", {
          "sources": ["native/glibc_compat.cc"],
          "cflags_cc": ["-fvisibility=hidden", "-fvisibility-inlines-hidden"],
          "ldflags": ["-static-libstdc++", "-Wl,--exclude-libs,ALL"]
        }]
      ]
    }
  ]
}
