# Sourced by the scripts that take a program from Debian's archive. `need_command COMMAND
# PACKAGE...` installs PACKAGE... with apt-get (as root) unless COMMAND is on the PATH already.
need_command() {
  local command=$1
  shift
  command -v "$command" >/dev/null && return
  [[ $EUID -eq 0 ]] || { echo "$command is missing: apt-get install $* (as root)" >&2; exit 1; }
  echo "installing $* with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "$@" >&2
}
