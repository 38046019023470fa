#!/usr/bin/env bash
# Seeds fuzz/corpus/esl_decode/ from slices of the real captures in captures/ (not committed:
# the corpus directory is ignored). Each seed is a 4-byte chunking seed followed by a slice.
set -eu  # (no pipefail: `head` closes the pipe early on purpose)
cd "$(dirname "$0")"
out=corpus/esl_decode
mkdir -p "$out"
n=0
for capture in ../captures/*.recv; do
  name=$(basename "$capture" .recv)
  size=$(stat -c %s "$capture")
  # slices of 2, 6 and 12 KiB at a handful of offsets through the capture
  for len in 2048 6144 12288; do
    for part in 0 1 2 3; do
      skip=$(( size * part / 4 ))
      seed=$(printf '\\x%02x\\x%02x\\x00\\x00' $(( (n * 37) % 256 )) $(( n % 4 )))
      { printf "$seed"; tail -c +$(( skip + 1 )) "$capture" | head -c "$len"; } > "$out/${name}_${part}_${len}"
      n=$(( n + 1 ))
    done
  done
done
echo "wrote $n seeds to fuzz/$out"
