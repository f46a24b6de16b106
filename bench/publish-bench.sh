#!/bin/sh
# Bytes per second through a published port: a download over loopback from
# busybox httpd in a container (`ribo run -d -p 127.0.0.1::8080`, ribo's
# default network; TCP ports carried by socat, runtime/port-proxy.ts)
# against the same image, file and server under
# `podman run -d -p` (podman's rootless default network and port forwarder).
# Downloads alternate between the two (ribo, podman, podman, ribo, ...); prints each
# one's median and minimum rate, the ribo/podman ratio and the load average.
# Rootless as run-bench.sh: started as root, it prepares the e2e user
# (test/setup/prepare-e2e.sh) and measures as that user.
# Usage: bench/publish-bench.sh [SIZE_MB [ROUNDS]]   (default 1024 MB, 5 rounds; BENCH_USER=name)
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
size_mb=${1:-1024}
rounds=${2:-5}

if [ "${RIBO_BENCH_INNER:-}" != 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    export RIBO_BENCH_APP=$PWD
  else
    app=/var/tmp/ribo-bench/app
    bench_prepare_user "$PWD" "$app" busybox
    exec nice -n "${BENCH_NICE:--10}" runuser -u "$bench_user" -- env HOME="$bench_home" PATH="$PATH" RIBO_BENCH_INNER=1 RIBO_BENCH_APP="$app" sh "$PWD/bench/publish-bench.sh" "$size_mb" "$rounds"
  fi
fi

app=$RIBO_BENCH_APP
work=$(mktemp -d /tmp/ribo-publish-bench.XXXXXX)
bench_podman_setup "$work"
mkdir -p "$work/ctx" "$work/www"
ribo="$app/bin/ribo --root $work/store"
cleanup() {
  $ribo rm -f publish-bench-ribo >/dev/null 2>&1 || true
  $podman rm -f -t 0 publish-bench-podman >/dev/null 2>&1 || true
  bench_podman_cleanup
  bench_remove_work "$work"
}
trap cleanup EXIT

busybox=/bin/busybox
[ -f "$app/busybox" ] && busybox=$app/busybox
cp -R fixtures/hello/. "$work/ctx/"
cp "$busybox" "$work/ctx/busybox"
$ribo build -q -t hello "$work/ctx" >/dev/null
skopeo copy -q "oci:$work/store:hello:latest" "oci-archive:$work/hello.tar:localhost/hello:latest"
$podman load -q -i "$work/hello.tar" >/dev/null
# The file served: sparse, so the disk is never what is measured.
truncate -s "${size_mb}M" "$work/www/big"


server='httpd -f -p 8080 -h /www'
$ribo run -d --name publish-bench-ribo -p 127.0.0.1::8080 -v "$work/www:/www:ro" hello $server >/dev/null
$podman run -d --name publish-bench-podman --runtime $podman_runtime -p 127.0.0.1::8080 -v "$work/www:/www:ro" localhost/hello:latest $server >/dev/null
ribo_url="http://$($ribo port publish-bench-ribo 8080 | head -n 1)/big"
podman_url="http://$($podman port publish-bench-podman 8080 | head -n 1)/big"

# Both servers answer before anything is measured.
for url in "$ribo_url" "$podman_url"; do
  tries=0
  until curl -sf -o /dev/null -r 0-0 "$url"; do
    tries=$((tries + 1))
    [ $tries -lt 100 ] || { echo "no answer from $url" >&2; exit 1; }
    sleep 0.1
  done
done

echo "published-port throughput: a ${size_mb} MB download over loopback, $rounds alternating rounds ($(nproc) CPUs; rootless as $(id -un); ribo -p through socat, podman ($podman_runtime) on its rootless default)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$work/ribo.rates"
: > "$work/podman.rates"
expected=$((size_mb * 1024 * 1024))
download() {
  # size and rate; a short download is an error, never a fast one.
  out=$(curl -sf -o /dev/null -w '%{size_download} %{speed_download}' "$1")
  [ "${out%% *}" = "$expected" ] || { echo "download from $1 got ${out%% *} bytes, not $expected" >&2; exit 1; }
  echo "${out#* }" >> "$2"
}
i=0
while [ $i -lt "$rounds" ]; do
  # Who goes first swaps each round, so neither always follows the other's download.
  if [ $((i % 2)) -eq 0 ]; then
    download "$ribo_url" "$work/ribo.rates"
    download "$podman_url" "$work/podman.rates"
  else
    download "$podman_url" "$work/podman.rates"
    download "$ribo_url" "$work/ribo.rates"
  fi
  i=$((i + 1))
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

node --input-type=module -e "
  import { readFileSync } from 'node:fs';
  const rates = (file) => readFileSync(file, 'utf8').trim().split('\n').map(Number);
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  const ribo = rates('$work/ribo.rates'), podman = rates('$work/podman.rates');
  const mb = (x) => (x / 1e6).toFixed(0).padStart(7) + ' MB/s';
  console.log('  ribo   -p (socat):   median ' + mb(median(ribo)) + ', max ' + mb(Math.max(...ribo)));
  console.log('  podman -p:           median ' + mb(median(podman)) + ', max ' + mb(Math.max(...podman)));
  console.log('  ribo / podman (medians): ' + (median(ribo) / median(podman)).toFixed(2) + 'x   (target >= 1.0x)');
"
