# shellcheck shell=sh
# The planned run: `ribo run --rm [-e NAME=VALUE] [-w DIR] [--name NAME] IMAGE [COMMAND...]` without Node.
#
# Starting Node and loading the CLI costs about 90 ms, many times what the
# container itself needs (crun starts one in 5 ms). The first run of an image
# with these arguments goes through Node, which afterwards writes a run plan
# (src/run/run-plan.ts): everything it worked out for that image (its unpacked
# layers, the bundle's config.json and the container's record, with markers
# where each run differs) as shell that defines variables and two functions.
# Later runs are carried out here: replay the mount the plan describes,
# write the bundle and the record, run the runtime, clean up. Anything this does not cover (other
# flags, a changed tag, a pruned layer, a new ribo) finds no usable plan and
# goes to Node as before.
#
# Used in two ways: bin/ribo sources this file (RIBO_PLANNED_RUN unset) to call
# find_run_plan before it enters the namespaces; then runs it with ribo's
# arguments (RIBO_PLANNED_RUN set to the plan) inside them, where run_planned
# does the work.

# Parses `[--root DIR] [--runtime crun|runc] run FLAGS IMAGE [COMMAND...]`,
# FLAGS being --rm and any of -e/--env NAME=VALUE, -w/--workdir /PATH,
# --name NAME, -v/--volume /HOST:/CONTAINER[:ro|rw] and --network host|none
# (each value its own word but --network=VALUE's; -w, --name, -v and --network
# once), the only command lines a plan serves: sets
# _root (maybe empty), _runtime, _image, _before (the number of words before
# COMMAND), _env_names (the names -e sets, in order) with each value in
# _ov_NAME, _workdir and _name (with _has_workdir and _has_name), _bind_source
# and _bind (the bind as a config mount), _network (host, none or empty), or returns 1. src/run/run-plan.ts
# (plainRun) accepts exactly the same.
normal_plain_path() {
  case $1 in /*) ;; *) return 1 ;; esac
  case $1 in *[!a-zA-Z0-9._/+@%=~-]* | */ | *//* | */./* | */. | */../* | */..) return 1 ;; esac
}

parse_plain_run() {
  _root= _runtime=
  _before=0
  while [ $# -gt 0 ]; do
    case $1 in
      --root | --runtime)
        [ $# -ge 2 ] || return 1
        if [ "$1" = --root ]; then _root=$2; else _runtime=$2; fi
        shift 2; _before=$((_before + 2)) ;;
      --root=*) _root=${1#--root=}; shift; _before=$((_before + 1)) ;;
      --runtime=*) _runtime=${1#--runtime=}; shift; _before=$((_before + 1)) ;;
      run) shift; break ;;
      *) return 1 ;;
    esac
  done
  _runtime=${_runtime:-${RIBO_RUNTIME:-crun}}
  case $_runtime in crun | runc) ;; *) return 1 ;; esac
  _rm= _env_names= _workdir= _has_workdir= _name= _has_name= _bind= _bind_source= _network=
  while [ $# -gt 0 ]; do
    case $1 in
      --rm) [ -z "$_rm" ] || return 1; _rm=1; shift; _before=$((_before + 1)); continue ;;
      --network=host | --network=none)
        [ -z "$_network" ] || return 1
        _network=${1#--network=}; shift; _before=$((_before + 1)); continue ;;
      --network)
        [ $# -ge 2 ] && [ -z "$_network" ] || return 1
        case $2 in host | none) _network=$2 ;; *) return 1 ;; esac ;;
      -e | --env)
        [ $# -ge 2 ] || return 1
        case $2 in [A-Za-z_]*=*) ;; *) return 1 ;; esac
        _n=${2%%=*}
        case $_n in *[!A-Za-z0-9_]*) return 1 ;; esac
        case ${2#*=} in *[\"\\[:cntrl:]]*) return 1 ;; esac
        case " $_env_names " in *" $_n "*) ;; *) _env_names="$_env_names $_n" ;; esac
        # $_n is a plain name (checked above): safe to build a variable name from.
        eval "_ov_$_n=\${2#*=}" ;;
      -w | --workdir)
        [ $# -ge 2 ] && [ -z "$_has_workdir" ] || return 1
        case $2 in /*) ;; *) return 1 ;; esac
        case $2 in *[!a-zA-Z0-9._/+@%=~-]*) return 1 ;; esac
        _workdir=$2 _has_workdir=1 ;;
      --name)
        [ $# -ge 2 ] && [ -z "$_has_name" ] || return 1
        case $2 in [a-zA-Z0-9]*) ;; *) return 1 ;; esac
        case $2 in *[!a-zA-Z0-9_.-]*) return 1 ;; esac
        _name=$2 _has_name=1 ;;
      -v | --volume)
        # One bind only: Node orders several by depth (run/volumes.ts).
        [ $# -ge 2 ] && [ -z "$_bind" ] || return 1
        case $2 in *:*:*:*) return 1 ;; *:*:*) _mode=${2##*:} _v=${2%:*} ;; *:*) _mode=rw _v=$2 ;; *) return 1 ;; esac
        case $_mode in ro | rw) ;; *) return 1 ;; esac
        _bind_source=${_v%%:*} _target=${_v#*:}
        normal_plain_path "$_bind_source" && normal_plain_path "$_target" || return 1
        case $_target in /etc/hosts | /etc/hostname | /etc/resolv.conf) return 1 ;; esac
        _bind="{\"destination\": \"$_target\", \"type\": \"bind\", \"source\": \"$_bind_source\", \"options\": [\"rbind\", \"$_mode\"]}" ;;
      -*) return 1 ;;
      *) break ;;
    esac
    shift 2; _before=$((_before + 2))
  done
  [ -n "$_rm" ] || return 1
  case ${1:-} in '' | -* | *..* | *[!a-zA-Z0-9._/:@-]* | oci:* | oci-archive:*) return 1 ;; esac
  _image=$1
  shift
  _before=$((_before + 2))
  [ "${1:-}" != -- ] || return 1
  for _word in "$@"; do
    case $_word in *[\"\\[:cntrl:]]*) return 1 ;; esac
  done
  [ -z "${RIBO_STORAGE_DRIVER:-}" ]
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

# Sets `plan` to the plan file for this command line, or leaves it empty.
# $1 is bin/ribo's own path; the rest is ribo's arguments. No subprocesses.
find_run_plan() {
  plan=
  _app=${1%/bin/*}
  shift
  parse_plain_run "$@" || return 0
  if [ -z "$_root" ]; then
    if [ -n "${RIBO_ROOT:-}" ]; then _root=$RIBO_ROOT
    else
      case ${XDG_DATA_HOME:-} in
        /*) _root=$XDG_DATA_HOME/ribo ;;
        *) [ -n "${HOME:-}" ] || return 0; _root=$HOME/.local/share/ribo ;;
      esac
    fi
  fi
  case $_root in /*) ;; *) _root=$PWD/$_root ;; esac
  # --network host|none have plans of their own (src/run/run-plan.ts, runPlanPath).
  _plan=$_root/run-plans/$_runtime${_network:+-$_network}/$_image.plan
  # A plan older than the store's tags, or than any part of ribo that writes or
  # reads plans (the CLI, compiled or bundled, the bundle templates, this
  # file and bin/ribo), may be wrong. `test -nt` is a builtin: no subprocess.
  [ -f "$_plan" ] && [ "$_plan" -nt "$_root/index.json" ] && [ "$_plan" -nt "$_app/dist/src/cli/ribo.cjs" ] \
    && [ "$_plan" -nt "$_app/dist/src/cli/main.js" ] && [ "$_plan" -nt "$_app/dist/src/run/run-plan.js" ] \
    && [ "$_plan" -nt "$_app/bin/run-plan.sh" ] && [ "$_plan" -nt "$_app/bin/ribo" ] \
    && [ "$_plan" -nt "$_app/bundles/config.json" ] && [ "$_plan" -nt "$_app/bundles/seccomp.json" ] || return 0
  plan=$_plan
}

# Leaves the planned run for Node, which redoes everything from the start.
# Only called before the container exists.
run_with_node() {
  [ -z "${_lock_held:-}" ] || exec 9<&-
  [ -z "${_names_locked:-}" ] || exec 8<&-
  [ -z "${_ns_pid:-}" ] || exec 4>&-
  unset RIBO_PLANNED_RUN
  [ -z "${_umask:-}" ] || umask "$_umask"
  # Through bin/ribo's shell part, which gives Node its flags.
  exec "$self" "$@"
}

# Undoes what the run made before the container exists (its network, its
# dir) and leaves the run for Node.
leave_for_node() {
  release_network
  rm -rf "$dir"
  run_with_node "$@"
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

# Replaces the container's record as Node does (containers.ts): a temp file
# renamed over state.json, so no reader ever sees half of one.
save_record() {
  write_record >"$dir/state.json.$$.tmp" && mv -f "$dir/state.json.$$.tmp" "$dir/state.json"
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
    sleep 0.02 </dev/null >/dev/null 2>&1 4>&- &
    return 0
  fi
  _pid_known=1
  process_start "$_pid" || return 0
  j_pid="{\"pid\": $_pid, \"start\": $_start}"
  save_record
}

# Makes the container's user and network namespaces before the runtime
# starts (plan_namespaces_made, crun on pasta; src/run/run-plan.ts): `cat`,
# started by unshare in them, holds them until release_network ends it (or,
# should this shell die, until fd 4, which no child keeps, is closed). Sets
# _ns_pid and the namespaces' paths as JSON strings for the config. The
# word written into hold.fifo comes back through cat on up.fifo once cat
# runs, that is once unshare has made the namespaces; end of file instead
# means unshare failed. The id maps are written from here, root in ribo's
# namespace, each in one write (root on its own line: see identityMappings).
make_namespaces() {
  exec 4<>"$_net/hold.fifo"
  unshare --user --net cat "$_net/hold.fifo" >"$_net/up.fifo" 2>/dev/null &
  _ns_pid=$!
  echo up >&4
  read -r _up <"$_net/up.fifo" || _up=
  [ "$_up" = up ] || return 1
  printf '%s\n' "$plan_uid_map" >"/proc/$_ns_pid/uid_map" && printf '%s\n' "$plan_gid_map" >"/proc/$_ns_pid/gid_map" || return 1
  j_ns_user="\"/proc/$_ns_pid/ns/user\"" j_ns_net="\"/proc/$_ns_pid/ns/net\""
}

# Mounts what the container needs, in one mount(8) call (each exec counts at
# this scale), from an fstab in its bundle: the tmpfs that hides the unified
# cgroup hierarchy from crun when $1 is hide (runtime/cgroups.ts), crun's
# binary bound read-only over itself (crun then skips copying itself into a
# memfd at every start: runtime/runtime-binary.ts), and the rootfs: the mount
# the plan describes (src/snapshot's MountSpec, written by src/run/run-plan.ts,
# plain paths only) for the container dir $dir, which stands as @DIR@ in its
# options. Relative lower dirs are resolved from plan_mount_cwd.
mount_rootfs() {
  _rest=$plan_mount_options _options=
  while :; do
    case $_rest in
      *@DIR@*) _options=$_options${_rest%%@DIR@*}$dir; _rest=${_rest#*@DIR@} ;;
      *) _options=$_options$_rest; break ;;
    esac
  done
  {
    [ "$1" != hide ] || echo "ribo-hide-unified /sys/fs/cgroup/unified tmpfs mode=0755 0 0"
    # nofail: this one only saves time.
    [ "$plan_runtime_name" != crun ] || echo "$plan_runtime $plan_runtime none bind,ro,nofail 0 0"
    echo "$plan_mount_source $dir/$plan_mount_target $plan_mount_type $_options 0 0"
  } >"$dir/bundle/fstab" || return 1
  (cd "$plan_mount_cwd" && mount -a -T "$dir/bundle/fstab")
}

# A command the runtime could not start exits as with docker: 127 when it
# is not found, 126 when it cannot be executed (src/runtime/start-failure.ts,
# which also reads runc's exec format error from the container's stderr:
# not here, where that stream is not read).
start_failure() {
  _log=$(cat "$dir/bundle/runtime.log")
  case $_log in
    *'"level":"error"'*) ;;
    *) return 0 ;;
  esac
  _command=${_args%%\",*}
  _command=${_command#\"}
  _command=${_command%\"}
  case $_log in
    *[Ee]xec*[Ee]xec\ format\ error*) _status=126 _why='it is not in an executable format' ;;
    *[Ee]xec*'not found in $PATH'* | *[Ee]xec*'executable file not found'* | *[Ee]xec*[Nn]o\ such\ file\ or\ directory*) _status=127 _why='no such command in the container' ;;
    *[Ee]xec*[Pp]ermission\ denied* | *[Ee]xec*[Oo]peration\ not\ permitted* | *[Ee]xec*[Ii]s\ a\ directory*) _status=126 _why='it is not executable (permission denied)' ;;
    *) return 0 ;;
  esac
  echo "ribo: cannot run \"$_command\": $_why (exit code $_status)" >&2
}

# Carries out the run, in the steps below; each takes ribo's arguments (as
# find_run_plan saw them) for the fall back to Node.
run_planned() {
  check_plan "$@"
  prepare_container "$@"
  record_container "$@"
  set_up_bundle "$@"
  run_container
  finish_run
}

# Whether the plan still holds for this run and this host; sets the
# container's command (_args) and leaves the run for Node otherwise.
check_plan() {
  # shellcheck disable=SC1090
  . "$RIBO_PLANNED_RUN" 2>/dev/null || run_with_node "$@"
  [ "${plan_format:-}" = 8 ] && [ "$plan_mode" = "$RIBO_IN_NAMESPACE" ] || run_with_node "$@"
  # The seccomp profile a run takes now (src/runtime/seccomp.ts, SYSTEM_SECCOMP_PROFILES: podman's
  # if installed, else ribo's, which the -nt checks above cover) must be the one the plan holds.
  if [ -e /etc/containers/seccomp.json ]; then _seccomp=/etc/containers/seccomp.json
  elif [ -e /usr/share/containers/seccomp.json ]; then _seccomp=/usr/share/containers/seccomp.json
  else _seccomp=ribo; fi
  [ "${plan_seccomp:-}" = "$_seccomp" ] && { [ "$_seccomp" = ribo ] || [ "$RIBO_PLANNED_RUN" -nt "$_seccomp" ]; } || run_with_node "$@"
  # The config holds crun's compiled filter (src/runtime/seccomp-filters.ts): libseccomp compiled it, and
  # an upgraded library (ld.so.cache is rewritten with every one) may compile the profile differently.
  [ ! -e /etc/ld.so.cache ] || [ "$RIBO_PLANNED_RUN" -nt /etc/ld.so.cache ] || run_with_node "$@"

  # The container's command: the words after the image, or the image's default.
  parse_plain_run "$@" || run_with_node "$@"
  _args=
  _n=0
  for _word in "$@"; do
    _n=$((_n + 1))
    [ $_n -le "$_before" ] || _args="$_args${_args:+,}\"$_word\""
  done
  if [ -z "$_args" ]; then _args=$plan_default_args
  else _args="$plan_entrypoint${plan_entrypoint:+,}$_args"
  fi
  [ -n "$_args" ] || run_with_node "$@"

  # The ids this namespace maps must still be those the plan's config maps.
  _ids=0
  while read -r _inside _outside _count; do _ids=$((_ids + _count)); done </proc/self/uid_map
  [ "$_ids" = "$plan_id_count" ] || run_with_node "$@"

  # A bind's host path that is not there: Node says so.
  [ -z "$_bind" ] || [ -e "$_bind_source" ] || run_with_node "$@"
}

# A new container: 64 hex digits of id, its dirs and FIFOs, and first of all
# its network, whose pasta takes longest to be ready (about 30 ms here): the
# runtime's hook waits for it.
prepare_container() {
  new_container_id
  runtime_id=ribo-$short
  dir=$plan_root/containers/$id
  # One mkdir for every dir the run needs (each exec counts at this scale).
  _made=$dir/bundle
  [ "$plan_network" != pasta ] || _made=$dir/bundle/net
  for _sub in $plan_mount_dirs; do _made="$_made $dir/$_sub"; done
  # shellcheck disable=SC2086
  mkdir -p $_made || run_with_node "$@"

  # The FIFOs of the network's handshake and of the guard below, in one call.
  _net= _fifos=$dir/guard.pipe
  [ "$plan_network" != pasta ] || { _net=$dir/bundle/net; _fifos="$_fifos $_net/ready.fifo"; }
  [ -z "$_net" ] || [ -z "$plan_namespaces_made" ] || _fifos="$_fifos $_net/hold.fifo $_net/up.fifo"
  # Without -t a container's output goes to pipes, never to ribo's terminal,
  # as with docker (programs format for a pipe), nor to a socket (which
  # cannot be opened again as /dev/stdout): each such stream gets a FIFO and
  # a copier below. Files and pipes are handed to the container as they are.
  _copy_out= _copy_err=
  if [ -t 1 ] || [ -S /dev/stdout ]; then _copy_out=1 _fifos="$_fifos $dir/stdout.pipe"; fi
  if [ -t 2 ] || [ -S /dev/stderr ]; then _copy_err=1 _fifos="$_fifos $dir/stderr.pipe"; fi
  # shellcheck disable=SC2086
  mkfifo -m 0600 $_fifos || leave_for_node "$@"
  # Namespaces made here are configured by pasta while the rest is set up and
  # the runtime starts; the hook waits for its answer on the FIFO.
  if [ -n "$_net" ] && [ -n "$plan_namespaces_made" ]; then
    make_namespaces || leave_for_node "$@"
    (
      exec 4>&-
      # shellcheck disable=SC2086
      if pasta $plan_pasta_options -P "$_net/helper.pid" --userns "/proc/$_ns_pid/ns/user" --netns "/proc/$_ns_pid/ns/net" </dev/null >/dev/null 2>"$_net/helper.log"
      then echo ok >"$_net/ready.fifo"
      else echo fail >"$_net/ready.fifo"
      fi
    ) &
    _net_pid=$!
  fi
}

# Its name: a free random one chosen under containers.lock, the lock Node's
# ContainerStore.create takes, and held until the record is there for others
# to see (until then `ribo ps` and the names skip the dir, which has no record
# yet); then the record, after which both locks are let go.
record_container() {
  # The in-use lock keeps `ribo prune` from deleting the layers until the
  # record protects them (taken after pasta's start, which does not need it).
  exec 9<"$plan_root/in-use.lock" || leave_for_node "$@"
  _lock_held=1
  flock --shared --wait 30 9 || leave_for_node "$@"
  for _layer in $plan_layer_dirs; do [ -d "$_layer" ] || leave_for_node "$@"; done
  j_now="\"$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)\""
  exec 8>>"$plan_root/containers.lock" || leave_for_node "$@"
  _names_locked=1
  flock --exclusive --wait 30 8 || leave_for_node "$@"
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
  # The record (status running, the shell as the monitor, no pid yet); it keeps
  # the layers from `ribo prune` once the in-use lock is released.
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
  exec 8<&- 9<&-
  _names_locked= _lock_held=
}

# The root file system and the bundle; on a runtime that makes the
# namespaces itself (runc), its network's helper, waiting for the hook.
set_up_bundle() {
  _hide=
  if [ -n "$plan_hide_unified" ] && [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
    if [ "$plan_hide_unified" = mount ]; then _hide=hide
    else umount /sys/fs/cgroup/unified
    fi
  fi
  # (What mount -a did mount of a failed fstab is let go first: the dir is removed.)
  mount_rootfs "$_hide" || { umount "$dir/$plan_mount_target" 2>/dev/null; leave_for_node "$@"; }

  # From here the container exists: its bundle, then the runtime.
  write_config >"$dir/bundle/config.json"
  # The container's /etc files (runtime/network-files.ts), bind-mounted by the config.
  umask "$_umask" # its user, maybe not root, reads them
  printf '%s' "$plan_hosts_head" "$short" "$_alias" "$plan_hosts_tail" >"$dir/bundle/hosts"
  printf '%s\n' "$short" >"$dir/bundle/hostname"
  printf '%s' "$plan_resolv" >"$dir/bundle/resolv.conf"
  umask 077
  # Its network (runtime/network.ts) when the runtime makes the namespaces:
  # its createRuntime hook binds them to files in net/ and waits on the FIFO;
  # opening the FIFO here returns once it does, then pasta configures the
  # namespace and forks into the background, and the hook is told ok (or
  # fail: no container).
  if [ -n "$_net" ] && [ -z "$plan_namespaces_made" ]; then
    (
      exec 6>"$_net/ready.fifo"
      # shellcheck disable=SC2086
      if pasta $plan_pasta_options -P "$_net/helper.pid" --userns "$_net/userns" --netns "$_net/netns" </dev/null >/dev/null 2>"$_net/helper.log"
      then echo ok >&6
      else echo fail >&6
      fi
    ) &
    _net_pid=$!
  fi
}

# Runs the container through the runtime, its output through the copiers,
# until the runtime has exited; sets _status.
run_container() {
  # The container dies with this shell however it ends (kill -9 too), as
  # OciRuntime.guard does for Node: a subshell waits on a FIFO only this shell
  # holds open; end of file without "done" kills the container through the
  # runtime. It ignores the signals a terminal sends the process group.
  (
    trap '' INT TERM HUP QUIT USR1 USR2 PIPE
    read -r _word <"$dir/guard.pipe" || _word=
    [ "$_word" = done ] && exit 0
    _killed=
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      # shellcheck disable=SC2086
      if "$plan_runtime" $plan_runtime_options kill "$runtime_id" KILL 2>/dev/null; then _killed=1; elif [ -n "$_killed" ]; then exit 0; fi
      sleep 0.5
    done
  ) </dev/null >/dev/null 2>&1 4>&- &
  exec 5>"$dir/guard.pipe"

  # The copiers of the streams that need one (above), started in the
  # background: they ignore Ctrl-C, which is for the container.
  _copiers=
  if [ -n "$_copy_out" ]; then
    cat "$dir/stdout.pipe" 4>&- 5>&- &
    _copiers=$!
  fi
  if [ -n "$_copy_err" ]; then
    cat "$dir/stderr.pipe" >&2 4>&- 5>&- &
    _copiers="$_copiers $!"
  fi
  if [ -n "$_copy_out" ]; then exec 7>"$dir/stdout.pipe"; else exec 7>&1; fi
  if [ -n "$_copy_err" ]; then exec 8>"$dir/stderr.pipe"; else exec 8>&2; fi
  # The container's open-file limit as the Node path leaves it: Node raises its soft limit to the hard one
  # at start, and the runtime passes it on (podman's containers, and docker's under its daemon, have soft = hard too).
  ulimit -n "$(ulimit -H -n)" 2>/dev/null || :
  # Signals for the container go through the runtime, which passes them on.
  # shellcheck disable=SC2086
  "$plan_runtime" $plan_runtime_options --log="$dir/bundle/runtime.log" --log-format=json run --pid-file "$dir/container.pid" --bundle "$dir/bundle" "$runtime_id" </dev/null >&7 2>&8 4>&- 5>&- 7>&- 8>&- &
  _runtime_pid=$!
  exec 7>&- 8>&-
  for _signal in INT HUP QUIT USR1 USR2; do
    # shellcheck disable=SC2064
    trap "kill -$_signal $_runtime_pid 2>/dev/null" "$_signal"
  done
  # A TERM stops ribo: the container gets it, and KILL after 10 s (as
  # `ribo stop`, and supervise.ts for Node).
  _grace_pid=
  trap 'kill -TERM $_runtime_pid 2>/dev/null; [ -n "$_grace_pid" ] || { (sleep 10; "$plan_runtime" $plan_runtime_options kill "$runtime_id" KILL) </dev/null >/dev/null 2>&1 4>&- 5>&- & _grace_pid=$!; }' TERM
  # `wait` returns early for a trapped signal (the runtime still runs: wait
  # again) and, with CHLD trapped, when record_pid's timer ends.
  _pid_known=
  trap : CHLD
  while :; do
    [ -n "$_pid_known" ] || record_pid
    wait "$_runtime_pid"
    _status=$?
    kill -0 "$_runtime_pid" 2>/dev/null || break
  done
  # A `wait` woken by a trapped signal (the timer's or a copier's CHLD, the
  # network's subshell) returns 128+N even when the runtime ended meanwhile:
  # its status is still kept by the shell, and a second `wait` gives it (127
  # once given, when the first wait had it after all).
  if [ "$_status" -gt 128 ]; then
    wait "$_runtime_pid"
    _again=$?
    [ "$_again" = 127 ] || _status=$_again
  fi
  trap - INT TERM HUP QUIT USR1 USR2 CHLD
  echo done >&5
  exec 5>&-
  [ -z "$_grace_pid" ] || kill "$_grace_pid" 2>/dev/null
  # shellcheck disable=SC2086
  [ -z "$_copiers" ] || wait $_copiers
}

# Tells why a command could not start, lets the network and the runtime's
# state go, removes the container and exits with its status.
finish_run() {
  [ "$_status" = 0 ] || [ ! -s "$dir/bundle/runtime.log" ] || start_failure
  release_network
  # shellcheck disable=SC2086
  [ ! -d "$plan_runtime_state/$runtime_id" ] || "$plan_runtime" $plan_runtime_options delete --force "$runtime_id" >/dev/null 2>&1
  remove_container_dir
  exit "$_status"
}

# Stops the network's helper and lets the namespaces go: a helper still
# waiting for a hook that never came (the runtime failed first) is let go,
# pasta is stopped, and the namespaces' holder (make_namespaces) ends.
release_network() {
  [ -n "$_net" ] || return 0
  if [ -n "${_net_pid:-}" ]; then
    if kill -0 "$_net_pid" 2>/dev/null; then exec 6<>"$_net/ready.fifo"; fi
    wait "$_net_pid" 2>/dev/null
  fi
  if [ -s "$_net/helper.pid" ]; then read -r _helper <"$_net/helper.pid" && kill "$_helper" 2>/dev/null; fi
  [ -z "${_ns_pid:-}" ] || { exec 4>&-; kill "$_ns_pid" 2>/dev/null; }
}

# --rm: the container is gone for everyone at once, when its dir is renamed
# into the store's tmp/ (one rename: `ribo ps -a`, names and the records'
# readers only look in containers/); the unmounts and the removal of its files,
# tens of ms on a busy disk, go on in the background after ribo has returned,
# in this mount namespace, which lives on with them. The tmp/ name is owned by
# this shell (files/process-identity.ts, ownedName), so what a killed removal
# leaves is stale and the next store open through Node removes it. tmp/ is on
# the store's file system, as the layers' renames out of it already require.
remove_container_dir() {
  _trash=$plan_root/tmp/$$.$j_monitor_start-container-$id
  if [ -d "$plan_root/tmp" ] && mv "$dir" "$_trash" 2>/dev/null; then
    _where=$_trash
  else
    _where=$dir _trash=
  fi
  _remove() {
    [ -z "$_net" ] || [ -n "$plan_namespaces_made" ] || umount -l "$_where/bundle/net/netns" "$_where/bundle/net/userns" 2>/dev/null
    umount "$_where/$plan_mount_target" 2>/dev/null || umount -l "$_where/$plan_mount_target"
    rm -rf "$_where"
  }
  if [ -n "$_trash" ]; then
    _remove </dev/null >/dev/null 2>&1 5>&- 6>&- &
  else
    _remove
  fi
}

if [ -n "${RIBO_PLANNED_RUN:-}" ]; then
  self=${0%/*}/ribo
  run_planned "$@"
fi
