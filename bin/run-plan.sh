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
# bin/ribo sources bin/run-plan-find.sh to call find_run_plan before it
# enters the namespaces; then runs this file with ribo's arguments
# (RIBO_PLANNED_RUN set to the plan) inside them, where run_planned does the
# work. bin/run-plan-record.sh writes the container's record. Sourced with
# RIBO_PLANNED_RUN unset (as the tests do), it only defines the functions.

# Its parts beside it: the command line's parser and the record's writer.
. "${0%/*}/run-plan-find.sh"
. "${0%/*}/run-plan-record.sh"

# Leaves the planned run for Node, which redoes everything from the start.
# Only called before the container exists.
run_with_node() {
  [ -z "${_names_locked:-}" ] || exec 8<&-
  [ -z "${_lifeline:-}" ] || exec 4>&- 3<&-
  unset RIBO_PLANNED_RUN
  [ -z "${_umask:-}" ] || umask "$_umask"
  # Through bin/ribo's shell part, which gives Node its flags.
  exec "$self" "$@"
}

# Undoes what the run made before the container exists (its network, its
# dir) and leaves the run for Node.
leave_for_node() {
  release_network
  $_bb rm -rf "$dir"
  run_with_node "$@"
}

# Makes the container's user and network namespaces before the runtime
# starts (plan_namespaces_made, crun; src/run/run-plan.ts): `cat`,
# started by unshare in them, holds them until release_network ends it (or,
# should this shell die, until fd 4, which no child keeps, is closed). Sets
# _ns_pid and the namespaces' paths as JSON strings for the config. The
# word written into hold.fifo comes back through cat on up.fifo once cat
# runs, that is once unshare has made the namespaces; end of file instead
# means unshare failed. The id maps are written from here, root in ribo's
# namespace, each in one write (root on its own line: see identityMappings).
make_namespaces() {
  open_lifeline
  $_bb unshare --user --net $_bb cat "$_net/hold.fifo" >"$_net/up.fifo" 2>/dev/null 3<&- 4>&- &
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
  # The network hook failed (runc): the helper said why.
  case $_log in
    *[Hh]ook*)
      if [ -n "$_net" ] && [ -s "$_net/helper.log" ]; then
        echo "ribo: error: $plan_network could not set up the container's network: $(cat "$_net/helper.log")." >&2
        _status=1
        return 0
      fi ;;
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

# Opens hold.fifo: fd 4 for writing, which only this shell holds (its
# children get it closed), and fd 3 for reading, which slirp4netns and the
# namespaces' holder get: they end when fd 4 is closed or this shell dies.
# Both opened here, before any child needs them: a read-only open of a FIFO
# waits until it has a writer.
open_lifeline() {
  exec 4<>"$_net/hold.fifo" 3<"$_net/hold.fifo"
  _lifeline=1
}

# Starts slirp4netns on the namespaces at $1 (user) and $2 (net), in the
# background. Once it is ready (it writes 1 on its --ready-fd and closes it)
# or has failed, `ok` or `fail` is written into ready.fifo. It ends when fd 4
# is closed (open_lifeline), as release_network does, or when this shell
# dies: its --exit-fd, fd 3, then hangs up.
# Its subshell's streams are not the caller's, who would otherwise wait for
# its end (the tap device's removal takes some 20 ms).
start_slirp() {
  (
    exec 4>&-
    # shellcheck disable=SC2086
    slirp4netns $plan_slirp_options --ready-fd=3 --exit-fd=6 --userns-path="$1" --netns-type=path "$2" "$plan_slirp_interface" 6<&3 3>&1 </dev/null >/dev/null 2>"$_net/helper.log" | {
      read -r _answer
      if [ "$_answer" = 1 ]; then echo ok; else echo fail; fi >"$_net/ready.fifo"
    }
  ) </dev/null >/dev/null 2>&1 &
  _net_pid=$!
}

# Whether the network slirp4netns set up before crun (start_slirp) is ready:
# waits for its answer; says why not and sets _status otherwise.
network_ready() {
  [ -n "$_net" ] && [ -n "$plan_namespaces_made" ] && [ "$plan_network" = slirp4netns ] || return 0
  read -r _answer <"$_net/ready.fifo" || _answer=
  [ "$_answer" != ok ] || return 0
  echo "ribo: error: slirp4netns could not set up the container's network: $(cat "$_net/helper.log" 2>/dev/null)." >&2
  _status=1
  return 1
}

# Carries out the run, in the steps below; each takes ribo's arguments (as
# find_run_plan saw them) for the fall back to Node.
run_planned() {
  check_plan "$@"
  prepare_container "$@"
  record_container "$@"
  set_up_bundle "$@"
  if network_ready; then run_container; fi
  finish_run
}

# Whether the plan still holds for this run and this host; sets the
# container's command (_args) and leaves the run for Node otherwise.
check_plan() {
  # shellcheck disable=SC1090
  . "$RIBO_PLANNED_RUN" 2>/dev/null || run_with_node "$@"
  [ "${plan_format:-}" = 10 ] && [ "$plan_mode" = "$RIBO_IN_NAMESPACE" ] || run_with_node "$@"
  # The plan's busybox (src/run/run-plan-busybox.ts): mkdir, mv and the like, as its applets, start in
  # half the time. Written unquoted before the applet's name ($_bb mkdir): without it, the usual programs.
  _bb=
  [ -z "${plan_busybox:-}" ] || [ ! -x "$plan_busybox" ] || _bb=$plan_busybox
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

  # A bind's host path that is not there: Node makes it a directory (as docker's -v does).
  [ -z "$_bind" ] || [ -e "$_bind_source" ] || run_with_node "$@"
}

# A new container: 64 hex digits of id, its dirs and FIFOs, and first of all
# its network, whose helper is then ready when the runtime needs it.
prepare_container() {
  new_container_id
  runtime_id=ribo-$short
  dir=$plan_root/containers/$id
  # One mkdir for every dir the run needs (each exec counts at this scale).
  _made=$dir/bundle
  [ -z "$plan_network" ] || _made=$dir/bundle/net
  for _sub in $plan_mount_dirs; do _made="$_made $dir/$_sub"; done
  # shellcheck disable=SC2086
  $_bb mkdir -p $_made || run_with_node "$@"

  # The FIFOs of the network's handshake and of the guard below, in one call:
  # hold.fifo holds the namespaces' holder (make_namespaces) and slirp4netns.
  _net= _fifos=$dir/guard.pipe
  [ -z "$plan_network" ] || { _net=$dir/bundle/net; _fifos="$_fifos $_net/ready.fifo"; }
  [ -z "$_net" ] || [ -z "$plan_namespaces_made" ] || _fifos="$_fifos $_net/up.fifo"
  [ -z "$_net" ] || { [ -z "$plan_namespaces_made" ] && [ "$plan_network" != slirp4netns ]; } || _fifos="$_fifos $_net/hold.fifo"
  # Without -t a container's output goes to pipes, never to ribo's terminal,
  # as with docker (programs format for a pipe), nor to a socket (which
  # cannot be opened again as /dev/stdout): each such stream gets a FIFO and
  # a copier below. Files and pipes are handed to the container as they are.
  _copy_out= _copy_err=
  if [ -t 1 ] || [ -S /dev/stdout ]; then _copy_out=1 _fifos="$_fifos $dir/stdout.pipe"; fi
  if [ -t 2 ] || [ -S /dev/stderr ]; then _copy_err=1 _fifos="$_fifos $dir/stderr.pipe"; fi
  # shellcheck disable=SC2086
  $_bb mkfifo -m 0600 $_fifos || leave_for_node "$@"
  # Namespaces made here are configured by the helper while the rest is set
  # up: slirp4netns's answer is read before the runtime starts (network_ready),
  # pasta's by the runtime's hook.
  if [ -n "$_net" ] && [ -n "$plan_namespaces_made" ]; then
    make_namespaces || leave_for_node "$@"
    if [ "$plan_network" = slirp4netns ]; then
      start_slirp "/proc/$_ns_pid/ns/user" "/proc/$_ns_pid/ns/net"
      return 0
    fi
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
  # opening the FIFO here returns once it does, then the helper configures the
  # namespace (pasta forks into the background once it has), and the hook is
  # told ok (or fail: no container).
  if [ -n "$_net" ] && [ -z "$plan_namespaces_made" ] && [ "$plan_network" = slirp4netns ]; then
    # Its subshell waits for the hook (the open of the FIFO), then starts it,
    # and holds the FIFO open until the answer is written there.
    open_lifeline
    (
      exec 4>&-
      exec 7>"$_net/ready.fifo"
      start_slirp "$_net/userns" "$_net/netns"
    ) </dev/null >/dev/null 2>&1 &
    _net_pid=$!
  elif [ -n "$_net" ] && [ -z "$plan_namespaces_made" ]; then
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
    $_bb cat "$dir/stdout.pipe" 4>&- 5>&- &
    _copiers=$!
  fi
  if [ -n "$_copy_err" ]; then
    $_bb cat "$dir/stderr.pipe" >&2 4>&- 5>&- &
    _copiers="$_copiers $!"
  fi
  if [ -n "$_copy_out" ]; then exec 7>"$dir/stdout.pipe"; else exec 7>&1; fi
  if [ -n "$_copy_err" ]; then exec 8>"$dir/stderr.pipe"; else exec 8>&2; fi
  # The container's open-file limit as the Node path leaves it: Node raises its soft limit to the hard one
  # at start, and the runtime passes it on (podman's containers, and docker's under its daemon, have soft = hard too).
  # The hard limit from the kernel's limits file, as `read` gives it (a $(ulimit -H -n) is a fork).
  while read -r _w1 _w2 _w3 _soft _hard _rest; do
    [ "$_w1 $_w2 $_w3" != "Max open files" ] || { ulimit -n "$_hard" 2>/dev/null || :; break; }
  done 2>/dev/null </proc/self/limits
  # Signals for the container go through the runtime, which passes them on.
  # shellcheck disable=SC2086
  "$plan_runtime" $plan_runtime_options --log="$dir/bundle/runtime.log" --log-format=json run --pid-file "$dir/container.pid" --bundle "$dir/bundle" "$runtime_id" </dev/null >&7 2>&8 3<&- 4>&- 5>&- 7>&- 8>&- &
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
  # slirp4netns ends once fd 4 is closed (start_slirp), without being waited for.
  [ -z "${_lifeline:-}" ] || exec 4>&- 3<&-
  [ -z "${_ns_pid:-}" ] || kill "$_ns_pid" 2>/dev/null
  if [ -n "${_net_pid:-}" ]; then
    if kill -0 "$_net_pid" 2>/dev/null; then exec 6<>"$_net/ready.fifo"; fi
    # pasta's subshell ends once pasta has written its pid file.
    [ "$plan_network" != pasta ] || wait "$_net_pid" 2>/dev/null
  fi
  if [ -s "$_net/helper.pid" ]; then read -r _helper <"$_net/helper.pid" && kill "$_helper" 2>/dev/null; fi
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
  if [ -d "$plan_root/tmp" ] && $_bb mv "$dir" "$_trash" 2>/dev/null; then
    _where=$_trash
  else
    _where=$dir _trash=
  fi
  _remove() {
    [ -z "$_net" ] || [ -n "$plan_namespaces_made" ] || $_bb umount -l "$_where/bundle/net/netns" "$_where/bundle/net/userns" 2>/dev/null
    $_bb umount "$_where/$plan_mount_target" 2>/dev/null || $_bb umount -l "$_where/$plan_mount_target"
    $_bb rm -rf "$_where"
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
