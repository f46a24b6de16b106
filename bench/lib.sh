# What several benches do alike, sourced by them (POSIX sh: some benches are sh, some bash):
# the median of their figures, the rootless bench user, podman with a store of
# the bench's own, and a docker-registry on loopback.

# The median of numbers on stdin, one a line (of an even count, the lower middle one).
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Started as root, a bench measures as an unprivileged user, as ribo's users run
# it: bench_prepare_user REPO APP [busybox] prepares that user (BENCH_USER,
# default ribo-e2e) with test/setup/prepare-e2e.sh and a copy of ribo in APP
# (with a static busybox beside it if asked), and sets bench_user and bench_home.
bench_prepare_user() {
  bench_user=${BENCH_USER:-ribo-e2e}
  "$1/test/setup/prepare-e2e.sh" "$bench_user" "$2" >/dev/null
  if [ "${3:-}" = busybox ]; then
    cp /bin/busybox "$2/busybox"
    chmod a+r "$2/busybox"
  fi
  bench_home=$(getent passwd "$bench_user" | cut -d: -f6)
}

# Rootless podman with a store and a runtime dir of the bench's own under WORK:
# bench_podman_setup WORK sets podman_root, podman (the command with its
# options) and podman_runtime, and exports XDG_RUNTIME_DIR.
bench_podman_setup() {
  podman_root=$1/podman
  export XDG_RUNTIME_DIR="$1/xdg"
  mkdir -p "$XDG_RUNTIME_DIR"
  podman="podman --root $podman_root/root --runroot $podman_root/run --storage-driver overlay --cgroup-manager cgroupfs"
  # crun refuses hosts with cgroups in hybrid v1/v2 mode unless the unified
  # hierarchy is hidden, which ribo does in its own namespace and podman cannot:
  # there podman runs with runc.
  podman_runtime=crun
  if grep -q ' /sys/fs/cgroup/unified cgroup2 ' /proc/self/mounts; then podman_runtime=runc; fi
}

# For the bench's exit: removes podman's store and stops its pause process.
bench_podman_cleanup() {
  $podman unshare rm -rf "$podman_root" >/dev/null 2>&1 || true
  # Rootless podman leaves a pause process per XDG_RUNTIME_DIR; this one is the bench's own.
  [ -f "$XDG_RUNTIME_DIR/libpod/tmp/pause.pid" ] && kill -KILL "$(cat "$XDG_RUNTIME_DIR/libpod/tmp/pause.pid")" 2>/dev/null || true
}

# Removes a work dir holding files of the user's subordinate ids (unpacked layers), as that user can.
bench_remove_work() {
  unshare --map-auto --map-root-user --mount rm -rf "$1" 2>/dev/null || rm -rf "$1"
}

# A docker-registry on a free loopback port, storing under WORK/registry:
# bench_start_registry WORK sets port and registry_pid (for the bench to kill
# on exit) and returns once the registry answers.
bench_start_registry() {
  port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  cat > "$1/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $1/registry
http:
  addr: 127.0.0.1:$port
YML
  docker-registry serve "$1/registry.yml" >"$1/registry.log" 2>&1 &
  registry_pid=$!
  node -e 'const tryGet = (n) => require("http").get(process.argv[1], (r) => { r.resume(); process.exit(0); }).on("error", () => n > 0 ? setTimeout(() => tryGet(n - 1), 100) : process.exit(1)); tryGet(50);' "http://127.0.0.1:$port/v2/"
}
