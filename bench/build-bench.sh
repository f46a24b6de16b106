#!/bin/bash
# Builds each workload of ../shared/bench/workloads three ways (empty cache,
# fully cached, one context file changed) with ribo and, when installed, with
# `buildah bud --layers`, in the same run on the same machine, and prints
# both times (wall clock, and CPU: user+sys of the command and the children it
# waited for), their ratios and ribo's peak RSS (target < 200 MB). On a shared
# machine the CPU figures are the steadier comparison.
# Usage: [BENCH_ROUNDS=N] bench/build-bench.sh [WORKLOAD...]   (default: 3 rounds, all four workloads)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/bench/lib.sh"
shared=${RIBO_SHARED:-$here/../shared}
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(tiny bulk multistage debian-app)

work=$(mktemp -d /var/tmp/ribo-bench.XXXXXX)
cleanup() {
  if [ -n "${BUILDAH_ROOT:-}" ]; then
    buildah --root "$BUILDAH_ROOT" --runroot "$work/buildah-run" rmi --all --force >/dev/null 2>&1 || true
    umount -R "$BUILDAH_ROOT/overlay" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
sh "$shared/bench/prepare.sh" "$work/ctx" >/dev/null

# The base image every workload builds FROM: a Debian minbase rootfs, imported.
tarball=/var/tmp/ribo-test-cache/bookworm-minbase.tar
if [ ! -f "$tarball" ]; then
  mkdir -p "$(dirname "$tarball")"
  mode=unshare; [ "$(id -u)" -eq 0 ] && mode=root
  mmdebstrap --quiet --mode=$mode --variant=minbase --format=tar bookworm "$tarball.partial" && mv "$tarball.partial" "$tarball"
fi
store="$work/store"
ribo() { "$here/bin/ribo" --root "$store" "$@"; }
ribo import "$tarball" localhost/debian:bookworm >/dev/null 2>&1

have_buildah=false
if command -v buildah >/dev/null 2>&1; then
  have_buildah=true
  BUILDAH_ROOT="$work/buildah"
  bah=(buildah --root "$BUILDAH_ROOT" --runroot "$work/buildah-run" --storage-driver overlay)
  skopeo copy --quiet "oci:$store:localhost/debian:bookworm" "containers-storage:[overlay@$BUILDAH_ROOT+$work/buildah-run]localhost/debian:bookworm" >/dev/null
fi

# One file each workload's COPY reads, changed for the third build.
changed_file() {
  case $1 in
    tiny) echo app/f1.txt ;;
    bulk) echo tree/pkg00/lib/mod000.js ;;
    multistage) echo main.sh ;;
    debian-app) echo app.py ;;
  esac
}

# Sets SECONDS_TAKEN, CPU_SECONDS and PEAK_RSS_MB for a command (GNU time); stops the bench if it fails.
measure() {
  local out="$work/time.out"
  # Each command starts with nothing left to write back: a sync at unmount (ribo's
  # overlays) would otherwise pay for what the other tool left in the page cache.
  sync
  if ! /usr/bin/time -f '%e %U %S %M' -o "$out" "$@" >"$work/cmd.log" 2>&1; then
    echo "FAILED: $*" >&2; tail -20 "$work/cmd.log" >&2; exit 1
  fi
  read -r SECONDS_TAKEN CPU_SECONDS PEAK_RSS_MB < <(awk '{ printf "%s %.2f %.0f\n", $1, $2 + $3, $4 / 1024 }' "$out")
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

# Each figure is the median of BENCH_ROUNDS alternating builds (ribo, then buildah), beside the median load average.
rounds=${BENCH_ROUNDS:-3}
echo "build-bench: $rounds rounds per figure, $(nproc) CPUs"
printf '%-11s %-11s %7s %9s %6s %8s %10s %7s %12s %5s\n' workload mode ribo_s buildah_s ratio ribo_cpu buildah_cpu ratio ribo_rss_MB load
for wl in "${workloads[@]}"; do
  ctx="$work/ctx/$wl"
  for mode in empty cached one-changed; do
    : > "$work/r.s"; : > "$work/r.cpu"; : > "$work/r.rss"; : > "$work/b.s"; : > "$work/b.cpu"; : > "$work/load"
    for _ in $(seq "$rounds"); do
      case $mode in
        empty) ribo_args=(--no-cache); bah_args=(--no-cache) ;;
        cached) ribo_args=(); bah_args=() ;;
        one-changed) echo "# changed $(date +%s%N)" >> "$ctx/$(changed_file "$wl")"; ribo_args=(); bah_args=() ;;
      esac
      cut -d' ' -f1 /proc/loadavg >> "$work/load"
      measure "$here/bin/ribo" --root "$store" build "${ribo_args[@]}" -t "bench/$wl" "$ctx"
      echo "$SECONDS_TAKEN" >> "$work/r.s"; echo "$CPU_SECONDS" >> "$work/r.cpu"; echo "$PEAK_RSS_MB" >> "$work/r.rss"
      if $have_buildah; then
        # crun refuses hybrid cgroups, which buildah cannot work around; runc works.
        measure "${bah[@]}" bud --runtime runc --layers "${bah_args[@]}" -t "bench/$wl" "$ctx"
        echo "$SECONDS_TAKEN" >> "$work/b.s"; echo "$CPU_SECONDS" >> "$work/b.cpu"
      fi
    done
    ribo_s=$(median < "$work/r.s"); ribo_cpu=$(median < "$work/r.cpu"); ribo_rss=$(sort -n "$work/r.rss" | tail -1); load=$(median < "$work/load")
    bah_s=-; ratio=-; bah_cpu=-; cpu_ratio=-
    if $have_buildah; then
      bah_s=$(median < "$work/b.s"); bah_cpu=$(median < "$work/b.cpu")
      ratio=$(ratio "$ribo_s" "$bah_s"); cpu_ratio=$(ratio "$ribo_cpu" "$bah_cpu")
    fi
    printf '%-11s %-11s %7s %9s %6s %8s %10s %7s %12s %5s\n' "$wl" "$mode" "$ribo_s" "$bah_s" "$ratio" "$ribo_cpu" "$bah_cpu" "$cpu_ratio" "$ribo_rss" "$load"
  done
done
