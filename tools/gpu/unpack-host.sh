#!/usr/bin/env bash
# GPU-machine side of pack-host.sh: joins /opt/fathom-rt/rt-* (carried on earlier calls), checks it
# against the hash beside the app tarball, and unpacks runtime + app into .devcarry/host.
# Usage (from the repository root): tools/gpu/unpack-host.sh .devcarry/app.tar.xz .devcarry/rt.sha
set -euo pipefail
app=$1 sha=$2
host=$(pwd)/.devcarry/host
if [ "$(cat /opt/fathom-rt/rt-* | sha256sum | cut -c1-64)" != "$(cat "$sha")" ]; then
  echo "runtime parts in /opt/fathom-rt do not match $sha:"; ls -l /opt/fathom-rt; exit 3
fi
rm -rf "$host" && mkdir -p "$host"
cat /opt/fathom-rt/rt-* | tar -xJf - -C "$host"
tar -xJf "$app" -C "$host"
echo "host unpacked: $(ls "$host" | wc -l) files"
