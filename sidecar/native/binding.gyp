# The SO_ORIGINAL_DST addon; built only on demand (node sidecar/native/build.mjs), never at npm install.
{
  "targets": [
    {
      "target_name": "original_dst",
      "sources": ["original-dst.c"],
      "cflags": ["-Wall", "-Wextra"]
    }
  ]
}
