# shellcheck shell=sh
# A planned run's container record (sourced by bin/run-plan.sh): its id, its
# name, its environment and the record itself, written as Node writes them
# (src/run/containers.ts), under the same locks.

# Sets `id` to 64 hex digits and `short` to its first 12, drawn again while
# those are all decimal digits, as Node does (newContainerId): the short id is
# the host name, and the resolver takes an all-digit name for an address. The
# last uuid's third and fourth groups are left in _c and _d for pick_name.
new_container_id() {
  short=0
  while case $short in *[a-f]*) false ;; esac; do
    IFS=- read -r _a _b _c _d _e </proc/sys/kernel/random/uuid
    short=$_a$_b
  done
  IFS=- read -r _f _g _h _i _j </proc/sys/kernel/random/uuid
  id=$_a$_b$_c$_d$_e$_f$_g$_h$_i$_j
}

# Whether a container of the store is named $1 (called holding containers.lock).
# With no container at all, the common case, the glob finds nothing and grep is not run.
name_in_use() {
  for _record in "$plan_root"/containers/*/state.json; do
    [ -e "$_record" ] || continue
    grep -qsF "\"name\": \"$1\"," "$plan_root"/containers/*/state.json
    return
  done
  return 1
}

# Sets `name` to a random name of the kind Node gives (containers.ts), one no
# container of the store has; $1 and $2 are random hex digits. Called holding
# containers.lock, until the record is written, as Node does.
pick_name() {
  _hex1=$1 _hex2=$2 _tries=0
  while :; do
    _pick=$((0x$_hex1 + _tries * 7919))
    # shellcheck disable=SC2086
    set -- $plan_adjectives; shift $((_pick % $#)); _adjective=$1
    # shellcheck disable=SC2086
    set -- $plan_nouns; shift $(((_pick >> 4) % $#)); name=${_adjective}_$1$(((0x$_hex2 + _tries) % 100))
    name_in_use "$name" || return 0
    _tries=$((_tries + 1))
  done
}

# Sets _start to the start time of process $1 (field 22 of /proc/PID/stat),
# which with its pid identifies a process in a record (store/owner.ts); fails
# when the process is gone (zombies count as gone).
process_start() {
  read -r _stat 2>/dev/null </proc/$1/stat || return 1
  # The command name, field 2, may hold spaces: count from after its ')'.
  # shellcheck disable=SC2086
  set -- ${_stat##*) }
  case $1 in Z | X) return 1 ;; esac
  shift 19
  _start=$1
}

# Sets j_env to the container's environment as JSON items: the plan's (the
# image's), an entry -e names replaced where it stands, the other -e entries
# after them in the order first given, the last value of each, as Node's Map does
# (run/run-image.ts); then HOSTNAME=$short in front when the plan says so.
# j_record_env, the record's, leaves out what the start adds: that HOSTNAME,
# and the plan's HOME entry when the start added it and -e did not replace it.
apply_env_flags() {
  j_env= j_record_env= _replaced=
  _saved_ifs=$IFS
  IFS='
'
  set -f
  for _item in $plan_env; do
    _n=${_item#\"}
    _n=${_n%%=*}
    _started=
    [ "$_item" != "${plan_env_home:-}" ] || _started=1
    case " $_env_names " in
      *" $_n "*) eval "_v=\$_ov_$_n"; _item="\"$_n=$_v\""; _replaced="$_replaced $_n"; _started= ;;
    esac
    j_env="$j_env${j_env:+,}$_item"
    [ -n "$_started" ] || j_record_env="$j_record_env${j_record_env:+,}$_item"
  done
  set +f
  IFS=$_saved_ifs
  for _n in $_env_names; do
    case " $_replaced " in *" $_n "*) continue ;; esac
    eval "_v=\$_ov_$_n"
    j_env="$j_env${j_env:+,}\"$_n=$_v\""
    j_record_env="$j_record_env${j_record_env:+,}\"$_n=$_v\""
  done
  # HOSTNAME first, as Node sets it at each start (src/run/start-spec.ts), unless -e gives it.
  if [ -n "${plan_env_hostname:-}" ]; then
    case " $_env_names " in *" HOSTNAME "*) ;; *) j_env="\"HOSTNAME=$short\"${j_env:+,}$j_env" ;; esac
  fi
}

# Replaces the container's record as Node does (containers.ts): a temp file
# renamed over state.json, so no reader ever sees half of one.
save_record() {
  write_record >"$dir/state.json.$$.tmp" && $_bb mv -f "$dir/state.json.$$.tmp" "$dir/state.json"
}

# Its name: a free random one chosen under containers.lock, the lock Node's
# ContainerStore.create takes, and held until the record is there for others
# to see (until then `ribo ps` and the names skip the dir, which has no record
# yet); then the record, after which the lock is let go.
record_container() {
  exec 8>>"$plan_root/containers.lock" || leave_for_node "$@"
  _names_locked=1
  flock --exclusive --wait 30 8 || leave_for_node "$@"
  # `ribo prune` reads the records and deletes the layers they do not name
  # holding this lock too (ContainerStore.whileNoneRecorded): layers there now
  # stay until the record, written under it, protects them. (No in-use lock:
  # that would be one more flock at each run.)
  for _layer in $plan_layer_dirs; do [ -d "$_layer" ] || leave_for_node "$@"; done
  if [ -n "$_has_name" ]; then
    # A name some container has already: Node refuses it, with its message.
    name_in_use "$_name" && leave_for_node "$@"
    name=$_name
  else
    pick_name "$_c" "$_d"
  fi

  # From here on state.json and config.json (they hold the env) are 0600; the dirs above keep the
  # user's umask (the rootfs must stay 0755), as does Node if the run falls back to it; the container gets 0022 from config.json.
  # The umask as `umask` prints it, from the kernel's status file (no subshell).
  _umask=
  while read -r _key _value _rest; do [ "$_key" != Umask: ] || { _umask=$_value; break; }; done 2>/dev/null </proc/self/status
  [ -n "$_umask" ] || _umask=$(umask)
  umask 077
  # The record (status running, the shell as the monitor, no pid yet; no times
  # either: the container dir's birth time stands for them, run/containers.ts,
  # which saves a `date` here); it keeps the layers from `ribo prune` once the
  # lock is released.
  j_monitor_pid=$$
  process_start $$
  j_monitor_start=$_start
  j_id="\"$id\"" j_name="\"$name\"" j_runtime_id="\"$runtime_id\"" j_hostname="\"$short\"" j_rootfs="\"$dir/$plan_mount_target\"" j_args=$_args j_pid=null
  apply_env_flags
  j_cwd=$plan_cwd j_aliases= _alias= j_bind=${_bind:+, $_bind} j_record_mounts=$_bind
  [ -z "$_has_workdir" ] || j_cwd="\"$_workdir\""
  # --name is also the container's name in its /etc/hosts (runtime/network-files.ts), as Node gives it.
  if [ -n "$_has_name" ]; then
    j_aliases="\"aliases\": [\"$name\"], "
    [ "$name" = "$short" ] || _alias=" $name"
  fi
  save_record || leave_for_node "$@"
  exec 8<&-
  _names_locked=
}

# One look at the runtime's pid file: once it names the container's process,
# records its pid and start time, as run/supervise.ts does, so the record names
# the process even after this shell is gone (until then readers take the pid
# from the pid file themselves, containers.ts). Otherwise starts a 20 ms timer
# (Node's interval, runtime/container.ts) whose end (SIGCHLD, trapped) wakes
# the shell's `wait` to look again: the runtime's exit is noticed at once, and
# a short container is gone before the first look, which then costs nothing.
record_pid() {
  _pid=
  # crun writes the pid without a newline: read fails at the end but sets _pid.
  read -r _pid 2>/dev/null <"$dir/container.pid"
  if [ -z "$_pid" ]; then
    $_bb sleep 0.02 </dev/null >/dev/null 2>&1 4>&- &
    return 0
  fi
  _pid_known=1
  process_start "$_pid" || return 0
  j_pid="{\"pid\": $_pid, \"start\": $_start}"
  save_record
}
