#!/bin/sh
# Prepares this machine for ribo's end-to-end tests; run as root.
# - an unprivileged user with subordinate uid/gid ranges, which the tests run ribo as;
# - /dev/fuse and /dev/net/tun usable by that user (stock distros ship them 0666; some machines 0600);
# - a copy of the built ribo that the user can read (the checkout may sit under /root).
# Usage: prepare-e2e.sh USER APP_DIR
set -eu
user=${1:?usage: prepare-e2e.sh USER APP_DIR}
app=${2:?usage: prepare-e2e.sh USER APP_DIR}
cd "$(dirname "$0")/../.."

if ! id "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/sh "$user"
fi
if ! grep -q "^$user:" /etc/subuid; then usermod --add-subuids 300000-365535 "$user"; fi
if ! grep -q "^$user:" /etc/subgid; then usermod --add-subgids 300000-365535 "$user"; fi
[ -e /dev/fuse ] && chmod 0666 /dev/fuse
# /dev/net/tun likewise: pasta and slirp4netns open it for a container's network.
[ -e /dev/net/tun ] && chmod 0666 /dev/net/tun

# buildah for the differential suite (test/differential), rootless as this user:
# runc, since crun refuses hybrid cgroup hosts, and the overlay driver, which
# rootless buildah may otherwise leave for vfs (about five times slower).
home=$(getent passwd "$user" | cut -d: -f6)
mkdir -p "$home/.config/containers"
printf '[engine]\nruntime = "runc"\n' > "$home/.config/containers/containers.conf"
printf '[storage]\ndriver = "overlay"\n' > "$home/.config/containers/storage.conf"
chown -R "$user:" "$home/.config"

# A second user without subordinate ids, to check the error that names the fix.
# (useradd may give every new user a range itself, so remove any.)
if ! id "$user-nosubid" >/dev/null 2>&1; then useradd --create-home --shell /bin/sh "$user-nosubid"; fi
sed -i "/^$user-nosubid:/d" /etc/subuid /etc/subgid

rm -rf "$app"
mkdir -p "$app"
# Build times kept: bin/ribo runs the bundle only while it is newer than the compiled CLI it was made from.
cp -R --preserve=timestamps package.json bin bundles dist node_modules "$app/"
chmod -R a+rX "$app"
# The directory that holds it must be reachable too.
chmod a+rx "$(dirname "$app")"

# Multi-platform tests (test/e2e/multi-platform.test.ts): foreign RUN steps run
# under QEMU user emulation through binfmt_misc (qemu-user-static and
# binfmt-support register the entries, bin/install-deps --test installs them).
# Some VMs boot without binfmt_misc mounted; entries may have been disabled.
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || echo "prepare-e2e: could not mount binfmt_misc" >&2
fi
if command -v update-binfmts >/dev/null 2>&1 && [ -e /proc/sys/fs/binfmt_misc/status ]; then
  for entry in /proc/sys/fs/binfmt_misc/qemu-*; do
    [ -e "$entry" ] || continue
    head -n1 "$entry" | grep -q '^enabled' || update-binfmts --enable "$(basename "$entry")" >/dev/null 2>&1 || echo 1 > "$entry"
  done
  # Packages installed while binfmt_misc was not mounted registered nothing: import them now.
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable >/dev/null 2>&1 || true
fi
# A static arm64 busybox from Debian, kept under /var/tmp across runs. Without
# it (no network) only the multi-platform tests fail, saying so.
arm64_dir=/var/tmp/ribo-arm64
if [ ! -x "$arm64_dir/busybox" ]; then
  (
    set -e
    mkdir -p "$arm64_dir"
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    cd "$arm64_dir"
    apt-get download busybox-static:arm64 >/dev/null 2>&1 || { apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get download busybox-static:arm64 >/dev/null; }
    rm -rf x && dpkg-deb -x busybox-static_*_arm64.deb x
    cp x/bin/busybox busybox
  ) || echo "prepare-e2e: could not fetch busybox-static:arm64; test/e2e/multi-platform.test.ts will fail" >&2
fi
[ -x "$arm64_dir/busybox" ] && chmod a+rx "$arm64_dir" "$arm64_dir/busybox"
true
