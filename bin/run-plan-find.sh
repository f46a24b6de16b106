# shellcheck shell=sh
# Which run plan serves a command line: sourced by bin/ribo, which calls
# find_run_plan before it enters the namespaces (a plan found: the shell
# carries out the run, bin/run-plan.sh; none: Node does), and by
# bin/run-plan.sh, which parses the command line again inside them. No
# subprocesses: each fork counts at this scale.

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
  # reads plans (the CLI, compiled or bundled, the bundle templates, the
  # run-plan scripts and bin/ribo), may be wrong. `test -nt` is a builtin: no subprocess.
  [ -f "$_plan" ] && [ "$_plan" -nt "$_root/index.json" ] && [ "$_plan" -nt "$_app/dist/src/cli/ribo.cjs" ] \
    && [ "$_plan" -nt "$_app/dist/src/cli/main.js" ] && [ "$_plan" -nt "$_app/dist/src/run/run-plan.js" ] \
    && [ "$_plan" -nt "$_app/bin/run-plan.sh" ] && [ "$_plan" -nt "$_app/bin/run-plan-find.sh" ] \
    && [ "$_plan" -nt "$_app/bin/run-plan-record.sh" ] && [ "$_plan" -nt "$_app/bin/ribo" ] \
    && [ "$_plan" -nt "$_app/bundles/config.json" ] && [ "$_plan" -nt "$_app/bundles/seccomp.json" ] || return 0
  plan=$_plan
}
