#!/bin/sh
# `ribo run --rm IMAGE true` against `podman run --rm` on the same image, in
# the same run (alternating runs, medians, the load printed), with the floor
# beside them: the OCI runtime alone (`crun run`
# of a bundle ribo writes, over an unpacked rootfs). Rootless, as ribo's users
# run it: started as root, it prepares the e2e user (test/setup/prepare-e2e.sh)
# and measures as that user. Prints the medians and the ratios to podman.
# Usage: bench/run-bench.sh [RUNS] [NETWORK]   (BENCH_USER=name to pick the user)
# NETWORK (host or none) is given to both as --network NETWORK; without it each
# runs on its default network. Set against the default's figures, it shows
# what the private network costs.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-20}
network=${2:-}
case $network in '' | host | none) ;; *) echo "run-bench.sh: NETWORK is host or none, not $network" >&2; exit 2 ;; esac
net=${network:+--network $network}

if [ "${RIBO_BENCH_INNER:-}" != 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    app=$PWD
  else
    app=/var/tmp/ribo-bench/app
    bench_prepare_user "$PWD" "$app" busybox
    # CPU time of each command with all its processes (conmon and podman's
    # cleanup included), which other work on a shared machine cannot skew: a
    # cgroup v1 cpuacct group handed to the user.
    cpuacct=
    if [ -d /sys/fs/cgroup/cpuacct ] && mkdir -p /sys/fs/cgroup/cpuacct/ribo-run-bench 2>/dev/null; then
      cpuacct=/sys/fs/cgroup/cpuacct/ribo-run-bench
      chown -R "$bench_user" "$cpuacct"
    fi
    # On a shared machine other work skews the wall times; all contenders get the same higher priority.
    status=0
    nice -n "${BENCH_NICE:--10}" runuser -u "$bench_user" -- env HOME="$bench_home" PATH="$PATH" RIBO_BENCH_INNER=1 RIBO_BENCH_APP="$app" RIBO_BENCH_CPUACCT="$cpuacct" sh "$PWD/bench/run-bench.sh" "$runs" "$network" || status=$?
    [ -n "$cpuacct" ] && rmdir "$cpuacct" 2>/dev/null
    exit $status
  fi
  export RIBO_BENCH_APP="$app"
fi

app=${RIBO_BENCH_APP}
work=$(mktemp -d /tmp/ribo-run-bench.XXXXXX)
bench_podman_setup "$work"
mkdir -p "$work/ctx"
cleanup() {
  bench_podman_cleanup
  bench_remove_work "$work"
}
trap cleanup EXIT

ribo="$app/bin/ribo --root $work/store"
busybox=/bin/busybox
[ -f "$app/busybox" ] && busybox=$app/busybox
cp -R fixtures/hello/. "$work/ctx/"
cp "$busybox" "$work/ctx/busybox"
$ribo build -q -t hello "$work/ctx" >/dev/null

# The same image in podman's own store, through an OCI archive.
skopeo copy -q "oci:$work/store:hello:latest" "oci-archive:$work/hello.tar:localhost/hello:latest"
$podman load -q -i "$work/hello.tar" >/dev/null

if [ -n "$network" ]; then networks="both with --network $network"
else networks="each on its default network: ribo and podman slirp4netns, their rootless default"; fi
echo "ribo run vs podman run ($(nproc) CPUs; rootless as $(id -un); podman with $podman_runtime; $networks)"
# The warm-up's first ribo runs go through Node and leave the run plans the others use.
node bench/alternate.mjs "$runs" 3 \
  "ribo run (crun)=$ribo run --rm $net hello true" \
  "ribo run (runc)=$ribo --runtime runc run --rm $net hello true" \
  "podman run ($podman_runtime)=$podman run --rm $net --runtime $podman_runtime localhost/hello:latest true"
echo "target: ribo run (planned, after the warm-up) <= 0.20x podman run (medians)"

# CPU time per run (user + system, all processes of the run), where a cgroup was handed to us.
cpu_ms() {
  cg=$RIBO_BENCH_CPUACCT
  echo 0 > "$cg/cpuacct.usage"
  i=0
  while [ $i -lt "$runs" ]; do
    sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$cg" "$@" >/dev/null 2>&1
    i=$((i + 1))
  done
  echo $(( $(cat "$cg/cpuacct.usage") / runs / 1000000 ))
}
if [ -n "${RIBO_BENCH_CPUACCT:-}" ]; then
  ribo_cpu=$(cpu_ms $ribo run --rm $net hello true)
  ribo_runc_cpu=$(cpu_ms $ribo --runtime runc run --rm $net hello true)
  podman_cpu=$(cpu_ms $podman run --rm $net --runtime $podman_runtime localhost/hello:latest true)
  echo "CPU time per run (ms, all processes): ribo run (crun) $ribo_cpu, ribo run (runc) $ribo_runc_cpu, podman run ($podman_runtime) $podman_cpu" > "$work/cpu.txt"
fi

# The floor: a bundle as ribo writes it, over the image unpacked once, run by
# the runtime alone inside one user+mount namespace set up beforehand.
unshare --map-auto --map-root-user --mount sh -s "$work" "$app" "$runs" <<'FLOOR'
set -eu
work=$1 app=$2 runs=$3
if grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/self/mounts; then mount -t tmpfs -o mode=0755 ribo-hide-unified /sys/fs/cgroup/unified; fi
mkdir -p "$work/floor"
umoci raw unpack --image "$work/store:hello:latest" "$work/floor/rootfs" >/dev/null
node --input-type=module -e "
  import { readFileSync } from 'node:fs';
  import { writeBundle } from '$app/dist/src/runtime/bundle.js';
  import { mappedIdCount } from '$app/dist/src/runtime/subids.js';
  const idCount = mappedIdCount(readFileSync('/proc/self/uid_map', 'utf8'));
  await writeBundle('$work/floor', { args: ['true'], env: ['PATH=/bin'], cwd: '/', uid: 0, gid: 0, rootfs: '$work/floor/rootfs', network: 'host', idCount, hostname: 'floor' });
"
hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/floor.json" \
  -n "floor: crun run" "crun --root $work/crun-state --cgroup-manager=disabled run --bundle $work/floor floor-crun" \
  -n "floor: runc run" "runc --root $work/runc-state run --bundle $work/floor floor-runc"
FLOOR

node --input-type=module -e "
  import { readFileSync } from 'node:fs';
  console.log('\nthe floor, mean wall time (ms):');
  for (const r of JSON.parse(readFileSync('$work/floor.json')).results) console.log('  ' + r.command.padEnd(22) + (r.mean * 1000).toFixed(1).padStart(8));
"
[ -f "$work/cpu.txt" ] && cat "$work/cpu.txt"
true
