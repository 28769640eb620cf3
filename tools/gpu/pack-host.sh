#!/usr/bin/env bash
# Packs a published fathom-gpuhost (dotnet publish tests/Fathom.GpuHost -c Release -o DIR) for a GPU
# machine that takes at most ~2 MB of carried files per call:
#   DEST/rt-NN   the .NET runtime and third-party assemblies (changes rarely), xz, cut into 1,950,000-byte parts
#   DEST/app.tar.xz   Fathom's own assemblies (changes every build; one part)
#   DEST/rt.sha   the hash of the runtime tarball, so a warm machine that holds it can skip those parts
# On the GPU machine: copy each rt-NN into /opt/fathom-rt/ on consecutive calls, then
#   tools/gpu/unpack-host.sh .devcarry/app.tar.xz    (assembles, checks the hash, unpacks to .devcarry/host)
# Usage: tools/gpu/pack-host.sh PUBLISH_DIR DEST
set -euo pipefail
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
