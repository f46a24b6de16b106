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
cp -R package.json bin bundles dist node_modules "$app/"
chmod -R a+rX "$app"
# The directory that holds it must be reachable too.
chmod a+rx "$(dirname "$app")"
