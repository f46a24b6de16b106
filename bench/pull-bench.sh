#!/bin/bash
# Pulls an image of about 200 MB (four layers of incompressible data, built by
# ribo FROM scratch) from a docker-registry on loopback into an empty store
# with `ribo pull`, and into an empty OCI layout with `skopeo copy docker://…
# oci:DIR`, alternately, in the same run; prints each tool's median wall time
# and median CPU time (user + sys; the machine may be shared, so CPU time is
# the steadier figure), the ratios and ribo's peak RSS. Target: ribo <= 1.0x
# skopeo in wall time.
# Usage: bench/pull-bench.sh [ROUNDS] [MB]   (defaults 3 and 200)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/bench/lib.sh"
rounds=${1:-3}
mb=${2:-200}
work=$(mktemp -d /var/tmp/ribo-pull-bench.XXXXXX)
registry_pid=
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

bench_start_registry "$work"

ref="127.0.0.1:$port/bench/big:1"
mkdir -p "$work/ctx"
printf 'FROM scratch\n' > "$work/ctx/Dockerfile"
for i in 1 2 3 4; do
  head -c $((mb * 1024 * 1024 / 4)) /dev/urandom > "$work/ctx/part$i.bin"
  printf 'COPY part%s.bin /data/part%s.bin\n' "$i" "$i" >> "$work/ctx/Dockerfile"
done
"$here/bin/ribo" --root "$work/source" build -q -t "$ref" "$work/ctx" >/dev/null 2>&1
"$here/bin/ribo" --root "$work/source" push -q "$ref" >/dev/null
size=$(du -sb "$work/registry" | cut -f1)
echo "pull-bench: image $ref, $(( size / 1000000 )) MB in the registry, $rounds rounds"

# Seconds (wall), CPU seconds (user + sys) and peak RSS (kB) of a command, via GNU time.
measure() {
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$work/time"
}

: > "$work/ribo.times"; : > "$work/skopeo.times"; : > "$work/ribo.cpu"; : > "$work/skopeo.cpu"; : > "$work/ribo.rss"; : > "$work/load"
# Each tool starts from an empty target with nothing of the previous round
# left to write back or discard: the same start for both (a precaution; the
# difference it makes was lost in this machine's noise).
fresh() { rm -rf "$1"; sync; }
for round in $(seq "$rounds"); do
  fresh "$work/pull-store"
  cut -d' ' -f1 /proc/loadavg >> "$work/load"
  read -r secs cpu rss < <(measure "$here/bin/ribo" --root "$work/pull-store" pull -q "$ref")
  echo "$secs" >> "$work/ribo.times"; echo "$cpu" >> "$work/ribo.cpu"; echo "$rss" >> "$work/ribo.rss"
  fresh "$work/pull-oci"
  read -r ssecs scpu _ < <(measure skopeo copy --quiet --src-tls-verify=false "docker://$ref" "oci:$work/pull-oci:big")
  echo "$ssecs" >> "$work/skopeo.times"; echo "$scpu" >> "$work/skopeo.cpu"
  echo "  round $round: ribo ${secs}s (CPU ${cpu}s, peak RSS $((rss / 1024)) MB), skopeo ${ssecs}s (CPU ${scpu}s)"
done
r=$(median < "$work/ribo.times"); s=$(median < "$work/skopeo.times"); m=$(sort -n "$work/ribo.rss" | tail -1)
rc=$(median < "$work/ribo.cpu"); sc=$(median < "$work/skopeo.cpu"); l=$(median < "$work/load")
awk -v r="$r" -v s="$s" -v rc="$rc" -v sc="$sc" -v m="$m" -v l="$l" 'BEGIN { printf "pull-bench: wall ribo %.2fs, skopeo %.2fs, ratio %.2fx (target <= 1.0x); CPU ribo %.2fs, skopeo %.2fs, ratio %.2fx; ribo peak RSS %d MB (target < 200 MB); median load %s\n", r, s, r / s, rc, sc, rc / sc, m / 1024, l }'
