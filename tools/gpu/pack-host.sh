#!/usr/bin/env bash
# Packs a published fathom-gpuhost (dotnet publish tests/Fathom.GpuHost -c Release -o DIR) for a GPU
# machine that takes at most ~2 MB of carried files per call:
#   DEST/rt-NN   the .NET runtime and third-party assemblies (changes rarely), xz, cut into 1,950,000-byte parts
#   DEST/app.tar.xz   Fathom's own assemblies (changes every build; one part)
#   DEST/rt.sha   the hash of the runtime tarball, so a warm machine that holds it can skip those parts
# On the GPU machine: copy each rt-NN into /opt/fathom-rt/ on consecutive calls, then
#   tools/gpu/unpack-host.sh .devcarry/app.tar.xz    (assembles, checks the hash, unpacks to .devcarry/host)
# To compare with an older build (device-run.sh ab-*): publish it too, then
#   tools/gpu/pack-host.sh --old OLD_PUBLISH_DIR PUBLISH_DIR DEST
# writes DEST/app-old.tar.xz: the old build's own assemblies plus every runtime file of its publish that
# differs from PUBLISH_DIR's (the trimmed framework differs between builds), unpacked over a copy of the host.
# Usage: tools/gpu/pack-host.sh PUBLISH_DIR DEST
set -euo pipefail
if [ "${1:-}" = --old ]; then
  old=$2 new=$3 dest=$4
  mkdir -p "$dest"
  dest=$(cd "$dest" && pwd) new=$(cd "$new" && pwd)
  cd "$old"
  for f in *; do
    [ -f "$f" ] || continue
    case $f in Fathom*|fathom*) echo "$f";; *) cmp -s "$f" "$new/$f" || echo "$f";; esac
  done > /tmp/pack-old.list
  tar -cf - -T /tmp/pack-old.list | xz -6 > "$dest/app-old.tar.xz"
  echo "app-old.tar.xz: $(wc -l < /tmp/pack-old.list) files, $(stat -c%s "$dest/app-old.tar.xz") bytes"
  exit 0
fi
src=$1 dest=$2
mkdir -p "$dest"
rm -f "$dest"/rt-* "$dest"/app.tar.xz "$dest"/rt.sha
cd "$src"
ls -1 | grep -E '^(Fathom|fathom)' > /tmp/pack-app.list
ls -1 | grep -vxF -f /tmp/pack-app.list > /tmp/pack-rt.list
tar -cf - -T /tmp/pack-app.list | xz -6 > "$dest/app.tar.xz"
tar --sort=name --mtime=@0 --owner=0 --group=0 -cf - -T /tmp/pack-rt.list | xz -6 -T2 > /tmp/pack-rt.tar.xz
sha256sum /tmp/pack-rt.tar.xz | cut -c1-64 > "$dest/rt.sha"
split -b 1950000 -d -a 2 /tmp/pack-rt.tar.xz "$dest/rt-"
ls -l "$dest"
