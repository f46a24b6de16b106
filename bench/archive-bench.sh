#!/bin/bash
# ribo save and ribo load beside skopeo copy doing the same conversion, in the
# same run, on one image: a Debian minbase rootfs (ribo import of the cached
# mmdebstrap tarball) when /var/tmp/ribo-test-cache has it, else 200 MB of
# random data in four layers. Prints each tool's median time, the ratio and
# ribo's peak RSS. No target: the figures are for comparison.
# Usage: bench/archive-bench.sh [ROUNDS]   (default 3)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/bench/lib.sh"
rounds=${1:-3}
work=$(mktemp -d /var/tmp/ribo-archive-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
ribo="$here/bin/ribo"
store="$work/store"
debian=/var/tmp/ribo-test-cache/bookworm-minbase.tar

if [ -f "$debian" ]; then
  "$ribo" --root "$store" import "$debian" bench/archive:1 >/dev/null
  what="Debian minbase ($(du -m "$debian" | cut -f1) MB rootfs, one layer)"
else
  mkdir -p "$work/ctx"
  printf 'FROM scratch\n' > "$work/ctx/Dockerfile"
  for i in 1 2 3 4; do
    head -c $((50 * 1024 * 1024)) /dev/urandom > "$work/ctx/part$i.bin"
    printf 'COPY part%s.bin /\n' "$i" >> "$work/ctx/Dockerfile"
  done
  "$ribo" --root "$store" build -q -t bench/archive:1 "$work/ctx" >/dev/null
  what="200 MB of random data in four layers"
fi
echo "archive bench: $what, $rounds rounds"

# seconds and peak RSS (KB) of one command
measure() { /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>&1; cat "$work/time"; }

# name, ribo command, skopeo command (each may use $out and $fresh)
compare() {
  local name=$1 ribo_cmd=$2 skopeo_cmd=$3
  : > "$work/ribo.times"; : > "$work/skopeo.times"; local rss=0
  for _ in $(seq "$rounds"); do
    rm -rf "$work/out" "$work/fresh"; mkdir -p "$work/fresh"
    set -- $(measure bash -c "$ribo_cmd")
    echo "$1" >> "$work/ribo.times"; [ "$2" -gt "$rss" ] && rss=$2
    rm -rf "$work/out" "$work/fresh"; mkdir -p "$work/fresh"
    set -- $(measure bash -c "$skopeo_cmd")
    echo "$1" >> "$work/skopeo.times"
  done
  local r s
  r=$(median < "$work/ribo.times"); s=$(median < "$work/skopeo.times")
  printf '%-28s ribo %6.2fs  skopeo %6.2fs  ratio %.2f  ribo peak RSS %d MB\n' "$name" "$r" "$s" "$(echo "$r / $s" | bc -l)" $((rss / 1024))
}

ref=bench/archive:1
"$ribo" --root "$store" save -o "$work/image.oci.tar" "$ref"
"$ribo" --root "$store" save --format docker-archive -o "$work/image.docker.tar" "$ref"
compare "save oci-archive" "'$ribo' --root '$store' save -o '$work/out' $ref" "skopeo copy -q oci:'$store':$ref oci-archive:'$work/out':$ref"
compare "save docker-archive" "'$ribo' --root '$store' save --format docker-archive -o '$work/out' $ref" "skopeo copy -q oci:'$store':$ref docker-archive:'$work/out':$ref"
compare "load oci-archive" "'$ribo' --root '$work/fresh' load -i '$work/image.oci.tar'" "skopeo copy -q oci-archive:'$work/image.oci.tar' oci:'$work/fresh':$ref"
compare "load docker-archive" "'$ribo' --root '$work/fresh' load -i '$work/image.docker.tar'" "skopeo copy -q docker-archive:'$work/image.docker.tar' oci:'$work/fresh':$ref"
