# Shared by the benchmark scripts (bench/proxy, bench/serving): logging and installing tools.
# Source it after setting ROOT.

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# install_missing COMMAND:PACKAGE...: apt-installs the package of each command that is neither on
# PATH nor in /usr/sbin (nginx and haproxy live there for non-root users), then checks for dotnet.
install_missing() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    # The benchmarks start their own nginx/HAProxy (and NATS, etcd) on free ports: the packages' services must not
    # run now or start at boot. Not removed, only stopped and disabled (works without a running systemd too).
    local unit
    for unit in "${missing[@]}"; do
      case "$unit" in nginx|haproxy|nats-server|etcd-server)
        [ "$unit" = etcd-server ] && unit=etcd
        as_root systemctl stop "$unit.service" 2>/dev/null || true
        as_root systemctl disable "$unit.service" 2>/dev/null || true
        # Without a running systemd (containers) the boot links are SysV ones: disable them too.
        [ ! -e "/etc/init.d/$unit" ] || as_root update-rc.d "$unit" disable >/dev/null 2>&1 || true ;;
      esac
    done
  fi
  command -v dotnet >/dev/null || die "the .NET SDK (see global.json) is required to build Trellis"
}
