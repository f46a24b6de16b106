#!/bin/bash
# Where people wait for ribo, against podman and skopeo on the same machine in
# the same run, each figure the median of ROUNDS alternating runs (ribo, then
# its peer), with the machine's load printed beside it (it is often shared):
#   - `ribo run --rm REF /bin/busybox true` on an empty store (pull, unpack,
#     start) against `podman run --rm` of the same image from the same
#     loopback registry on an empty store (target <= 0.7x);
#   - `ribo pull` alone against `skopeo copy docker://… oci:DIR` (target
#     <= 1.0x), with ribo's peak RSS (target < 200 MB);
#   - `ribo run --rm -e A=1 -w /tmp --name n1 IMAGE /bin/busybox true`, the
#     image run before, against podman's same command (target <= 0.5x).
# The image: a static busybox and DATA_MB of incompressible data in four layers.
# Usage: bench/first-run-bench.sh [ROUNDS] [DATA_MB]   (defaults 5 and 200)
# Rootless, as ribo's users run it: started as root, it prepares the e2e user
# (test/setup/prepare-e2e.sh) and measures as that user (BENCH_USER to pick another).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/bench/lib.sh"
rounds=${1:-5}
data_mb=${2:-200}
if [ "${RIBO_BENCH_INNER:-}" != 1 ] && [ "$(id -u)" -eq 0 ]; then
  app=/var/tmp/ribo-bench/app-first-run
  bench_prepare_user "$here" "$app"
  exec runuser -u "$bench_user" -- env HOME="$bench_home" PATH="$PATH" RIBO_BENCH_INNER=1 RIBO_BENCH_APP="$app" bash "$here/bench/first-run-bench.sh" "$rounds" "$data_mb"
fi
here=${RIBO_BENCH_APP:-$here}
work=$(mktemp -d /tmp/ribo-first-run-bench.XXXXXX)
bench_podman_setup "$work"
registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  bench_podman_cleanup
  bench_remove_work "$work"
}
trap cleanup EXIT

bench_start_registry "$work"

ref="127.0.0.1:$port/bench/first:1"
mkdir -p "$work/ctx"
cp "$(command -v busybox)" "$work/ctx/busybox"
printf 'FROM scratch\nCOPY busybox /bin/busybox\nWORKDIR /tmp\nWORKDIR /\n' > "$work/ctx/Dockerfile"
for i in 1 2 3 4; do
  head -c $((data_mb * 1024 * 1024 / 4)) /dev/urandom > "$work/ctx/part$i.bin"
  printf 'COPY part%s.bin /data/part%s.bin\n' "$i" "$i" >> "$work/ctx/Dockerfile"
done
"$here/bin/ribo" --root "$work/source" build -q -t "$ref" "$work/ctx" >/dev/null 2>&1
"$here/bin/ribo" --root "$work/source" push -q "$ref" >/dev/null

echo "first-run-bench: image $ref ($(( $(du -sb "$work/registry" | cut -f1) / 1000000 )) MB in the registry), $rounds rounds, $(nproc) CPUs, podman with $podman_runtime, as $(id -un)"

# Wall seconds and peak RSS (kB) of a command (GNU time); stops the bench if it fails.
measure() {
  if ! /usr/bin/time -f '%e %M' -o "$work/time" "$@" >/dev/null 2>"$work/err"; then cat "$work/err" >&2; exit 1; fi
  cat "$work/time"
}
# An empty store for each (ribo's unpacked layers belong to its subordinate ids: removed inside a namespace).
fresh() { $podman unshare rm -rf "$podman_root" >/dev/null 2>&1 || true; unshare --map-auto --map-root-user rm -rf "$@" 2>/dev/null || rm -rf "$@"; sync; }
load() { cut -d' ' -f1 /proc/loadavg; }

# Runs pairs of commands alternately; NAME.times and NAME.rss collect the figures.
: > "$work/loads"
pair() {
  local label=$1 setup=$2 ribo_cmd=$3 peer_cmd=$4
  : > "$work/ribo.times"; : > "$work/peer.times"; : > "$work/ribo.rss"; : > "$work/loads"
  for round in $(seq "$rounds"); do
    eval "$setup"
    load >> "$work/loads"
    read -r secs rss < <(eval "measure $ribo_cmd")
    echo "$secs" >> "$work/ribo.times"; echo "$rss" >> "$work/ribo.rss"
    read -r psecs _ < <(eval "measure $peer_cmd")
    echo "$psecs" >> "$work/peer.times"
  done
  local r p m l
  r=$(median < "$work/ribo.times"); p=$(median < "$work/peer.times"); m=$(sort -n "$work/ribo.rss" | tail -1); l=$(median < "$work/loads")
  awk -v label="$label" -v r="$r" -v p="$p" -v m="$m" -v l="$l" 'BEGIN { printf "  %-58s ribo %.3fs, peer %.3fs, ratio %.2fx; ribo peak RSS %d MB; load %s\n", label, r, p, r / p, m / 1024, l }'
}

ribo_store=$work/store
pair "run --rm REGISTRY/IMAGE on an empty store (target <= 0.7x)" \
  'fresh "$ribo_store"' \
  '"$here/bin/ribo" --root "$ribo_store" run --rm "$ref" /bin/busybox true' \
  '$podman run --rm --tls-verify=false --runtime $podman_runtime "$ref" /bin/busybox true'
pair "ribo pull vs skopeo copy (target <= 1.0x, RSS < 200 MB)" \
  'fresh "$ribo_store" "$work/oci"' \
  '"$here/bin/ribo" --root "$ribo_store" pull -q "$ref"' \
  'skopeo copy --quiet --src-tls-verify=false "docker://$ref" "oci:$work/oci:first"'
# The image in both stores and run once before: the run with flags alone is measured.
fresh "$ribo_store"
"$here/bin/ribo" --root "$ribo_store" run --rm "$ref" /bin/busybox true >/dev/null 2>&1
$podman pull -q --tls-verify=false "$ref" >/dev/null 2>&1
$podman run --rm --runtime $podman_runtime "$ref" /bin/busybox true >/dev/null
pair "run --rm -e A=1 -w /tmp --name n1 IMAGE true (target <= 0.5x)" \
  ':' \
  '"$here/bin/ribo" --root "$ribo_store" run --rm -e A=1 -w /tmp --name n1 "$ref" /bin/busybox true' \
  '$podman run --rm -e A=1 -w /tmp --name n1 --runtime $podman_runtime "$ref" /bin/busybox true'
