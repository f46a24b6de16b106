#!/bin/bash
# Multi-platform build: `ribo build --platform linux/amd64,linux/arm64` against
# `buildah bud --platform linux/amd64,linux/arm64 --manifest`, same workload,
# same machine, runs alternating between the two, every run from an empty
# cache (--no-cache). The workload is the one of test/e2e/multi-platform.test.ts:
# a FROM --platform=$BUILDPLATFORM stage that "compiles" (writes a file naming
# $TARGETARCH) and, per target, a RUN of that platform's own busybox (arm64's
# under QEMU through binfmt_misc). Prints each run's wall time with the load
# average at its start, then the medians and their ratio.
# Needs qemu-user-static and binfmt-support (bin/install-deps --bench) and an
# arm64 busybox (fetched from Debian as test/setup/prepare-e2e.sh does, as root).
# Usage: bench/platform-bench.sh [RUNS]   (default 5 each)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
arm64_busybox=/var/tmp/ribo-arm64/busybox

if [ "$(uname -m)" != x86_64 ]; then echo "platform-bench: the workload's busyboxes are amd64's and arm64's; run it on an x86-64 machine" >&2; exit 1; fi
if [ ! -x "$arm64_busybox" ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "platform-bench: $arm64_busybox is missing; run test/setup/prepare-e2e.sh as root once (it fetches busybox-static:arm64)" >&2; exit 1; fi
  mkdir -p "$(dirname "$arm64_busybox")"
  dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64 && apt-get -o DPkg::Lock::Timeout=600 update -qq; }
  (cd "$(dirname "$arm64_busybox")" && apt-get download busybox-static:arm64 >/dev/null)
  dpkg-deb -x "$(dirname "$arm64_busybox")"/busybox-static_*_arm64.deb "$(dirname "$arm64_busybox")/x"
  cp "$(dirname "$arm64_busybox")/x/bin/busybox" "$arm64_busybox"
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then echo "platform-bench: no qemu-aarch64 entry in binfmt_misc; install qemu-user-static and binfmt-support (bin/install-deps --bench) and mount binfmt_misc" >&2; exit 1; fi

work=$(mktemp -d /var/tmp/ribo-platform-bench.XXXXXX)
bah=(buildah --root "$work/buildah" --runroot "$work/buildah-run" --storage-driver overlay)
cleanup() {
  "${bah[@]}" rmi --all --force >/dev/null 2>&1 || true
  umount -R "$work/buildah/overlay" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ctx="$work/ctx"
mkdir -p "$ctx"
cp /bin/busybox "$ctx/busybox-amd64"
cp "$arm64_busybox" "$ctx/busybox-arm64"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM --platform=$BUILDPLATFORM scratch AS compile
ARG BUILDARCH
COPY busybox-${BUILDARCH} /bin/busybox
ARG TARGETARCH
ARG TARGETPLATFORM
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox mkdir -p /out && echo \"for $TARGETPLATFORM ($TARGETARCH), built on $(/bin/busybox uname -m)\" > /out/app"]

FROM scratch
ARG TARGETARCH
COPY busybox-${TARGETARCH} /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /arch"]
COPY --from=compile /out/app /app
ENTRYPOINT ["/bin/busybox"]
CMD ["uname", "-m"]
DOCKERFILE

platforms=linux/amd64,linux/arm64
ribo_build() { "$here/bin/ribo" --root "$work/store" build -q --no-cache --platform "$platforms" -t bench/multi "$ctx"; }
# --manifest adds to an existing list: the list goes first, so every run builds one of two images.
# (crun refuses hybrid cgroups, which buildah cannot work around; runc works.)
buildah_build() {
  "${bah[@]}" manifest rm bench/multi >/dev/null 2>&1 || true
  "${bah[@]}" bud --runtime runc --no-cache --platform "$platforms" --manifest bench/multi "$ctx"
}

# Wall seconds of one run into $taken; the bench stops when a build fails.
time_run() {
  local start end
  start=$(date +%s.%N)
  if ! "$@" >"$work/cmd.log" 2>&1; then echo "FAILED: $*" >&2; tail -20 "$work/cmd.log" >&2; exit 1; fi
  end=$(date +%s.%N)
  taken=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
load() { cut -d' ' -f1 /proc/loadavg; }

: > "$work/ribo.times"; : > "$work/buildah.times"
printf '%-4s %-8s %7s %6s\n' run tool seconds load
for i in $(seq 1 "$runs"); do
  # Alternating, and which goes first alternates too, so a change in the machine's load hits both.
  if [ $((i % 2)) -eq 1 ]; then order="ribo buildah"; else order="buildah ribo"; fi
  for tool in $order; do
    l=$(load)
    sync
    time_run "${tool}_build"
    echo "$taken" >> "$work/$tool.times"
    printf '%-4s %-8s %7s %6s\n' "$i" "$tool" "$taken" "$l"
  done
done
# What both made: an index of two platforms (checked, so a wrong build never counts).
"$here/bin/ribo" --root "$work/store" inspect --platform linux/arm64 -f '{{.Architecture}}' bench/multi | grep -qx arm64
ribo_median=$(median < "$work/ribo.times"); buildah_median=$(median < "$work/buildah.times")
printf 'median: ribo %ss, buildah %ss, ratio %s (load now %s)\n' "$ribo_median" "$buildah_median" "$(awk -v a="$ribo_median" -v b="$buildah_median" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')" "$(load)"
