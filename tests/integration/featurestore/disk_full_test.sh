#!/usr/bin/env bash
# weir-featurestore on a tiny tmpfs: writes that would fill the disk are
# refused with a clear reason (never a crash), reads go on, and once space is
# freed writes resume without a restart.
#   disk_full_test.sh WEIRCTL WEIR_FEATURESTORE
# Needs root (mount); without it the test is skipped (exit 77) and says why.
set -euo pipefail
weirctl=$1
featurestore=$2
source "$(dirname "$0")/../lib.sh"

disk=$tmp/disk
mkdir -p "$disk"
if ! mount -t tmpfs -o size=16m tmpfs "$disk" 2> "$tmp/mount.err"; then
  echo "SKIP: cannot mount a tmpfs for the full-disk test (needs root): $(cat "$tmp/mount.err")"
  exit 77
fi
# The processes go first (the mount is busy while they run), then the mount, then $tmp.
unmount_and_cleanup() {
  for p in "${tracked_pids[@]}"; do kill -9 "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  umount "$disk" 2>/dev/null || umount -l "$disk" || true
  cleanup
}
trap unmount_and_cleanup EXIT

# What will be freed later: half the disk.
dd if=/dev/zero of="$disk/filler" bs=1M count=8 status=none

"$featurestore" --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data-dir "$disk/data" --min-free-disk-mib 2 \
  --log-level warn > "$tmp/store.out" 2> "$tmp/store.log" &
pid=$!
track $pid
store=$(wait_for_line "$tmp/store.out" "weir-featurestore listening on " $pid)
metrics=$(wait_for_line "$tmp/store.out" "weir-featurestore metrics on " $pid)
export WEIR_STORE=$store

# rows TAG: 1000 rows of ~450 bytes, keys TAG-0..TAG-999.
rows() {
  awk -v tag="$1" -v pad="$(printf 'x%.0s' $(seq 300))" 'BEGIN {
    for (i = 0; i < 1000; i++)
      printf "{\"view\":\"v\",\"key\":\"%s-%d\",\"feature\":\"f\",\"window_start\":0,\"window_end\":1000,\"value\":\"%s\",\"revision\":0}\n", tag, i, pad
  }'
}

# metric NAME: its value in /metrics.
metric() { http_body "$metrics" /metrics | sed -n "s/^$1 //p"; }

# 1. Write until the store refuses: a clean refusal that says why, not a crash.
rows first | "$weirctl" features import --input - 2> /dev/null || fail "the first import failed"
refused=""
for i in $(seq 40); do
  code=0
  rows "fill$i" | "$weirctl" features import --input - 2> "$tmp/import.txt" || code=$?
  if [ $code -ne 0 ]; then
    refused=$i
    break
  fi
done
[ -n "$refused" ] || fail "40 imports into a 16 MiB disk were all accepted"
[ $code -eq 1 ] || fail "a full disk: weirctl exited $code, want 1: $(cat "$tmp/import.txt")"
grep -q "disk is full" "$tmp/import.txt" || fail "refusal does not say the disk is full: $(cat "$tmp/import.txt")"
grep -q "is weir-featurestore running there" "$tmp/import.txt" &&
  fail "refusal blames an unreachable store: $(cat "$tmp/import.txt")"
kill -0 $pid 2>/dev/null || fail "weir-featurestore died on a full disk"
[ "$(metric weir_store_writable)" = "0" ] || fail "weir_store_writable is not 0 while the disk is full"
[ "$(metric weir_store_refused_writes_total)" != "0" ] || fail "the refused write is not counted"

# 2. Reads still work, and another write is refused the same way.
got=$("$weirctl" features get --view v --key first-7 --feature f --as-of 2000)
echo "$got" | grep -q '"key":"first-7"' || fail "features get on a full disk: '$got'"
"$weirctl" features export --view v 2> /dev/null | grep -c '"key":"first-' | grep -qx 1000 ||
  fail "export on a full disk does not return the first 1000 rows"
code=0
rows again | "$weirctl" features import --input - 2> "$tmp/import.txt" || code=$?
[ $code -eq 1 ] && grep -q "disk is full" "$tmp/import.txt" || fail "second refusal: exit $code: $(cat "$tmp/import.txt")"
kill -0 $pid 2>/dev/null || fail "weir-featurestore died on a full disk"

# 3. Space comes back: the store says so by itself (no write needed), then writes succeed.
rm "$disk/filler"
for _ in $(seq 100); do
  [ "$(metric weir_store_writable)" = "1" ] && break
  kill -0 $pid 2>/dev/null || fail "weir-featurestore died"
  sleep 0.1
done
[ "$(metric weir_store_writable)" = "1" ] || fail "weir_store_writable did not return to 1 within 10s of freeing space"
rows after | "$weirctl" features import --input - 2> "$tmp/import.txt" || fail "import after freeing space: $(cat "$tmp/import.txt")"
got=$("$weirctl" features get --view v --key after-999 --feature f --as-of 2000)
echo "$got" | grep -q '"key":"after-999"' || fail "a row written after freeing space is not read back: '$got'"
stop_gracefully $pid weir-featurestore

echo "weir-featurestore on a full disk: all checks passed"
