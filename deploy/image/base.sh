#!/usr/bin/env bash
# The base image every cordbank image is built from: Debian 12 (bookworm),
# made here with debootstrap from deb.debian.org and imported into buildah as
# localhost/cordbank-debian:bookworm. No image registry is involved.
#
#   deploy/image/base.sh            a quick no-op when the image already exists
#
# The debootstrapped tree is kept in build/image/bookworm-rootfs (git-ignored)
# so that the image can be imported again without the network; delete the
# directory to start over from deb.debian.org. Needs root, buildah, debootstrap.
# buildah honours STORAGE_DRIVER (e.g. STORAGE_DRIVER=vfs where overlay fails).
set -euo pipefail
cd "$(dirname "$0")/../.."

IMAGE=localhost/cordbank-debian:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=build/image
ROOTFS=$CACHE/bookworm-rootfs
DONE=$CACHE/bookworm-rootfs.done # written once debootstrap has finished

if buildah inspect --type image "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "base: debootstrap and buildah mount need root" >&2
    exit 1
fi

ctr=
cleanup() {
    if [ -n "$ctr" ]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if [ ! -e "$DONE" ]; then
    echo "base: debootstrap --variant=minbase bookworm from $MIRROR into $ROOTFS"
    rm -rf "$ROOTFS"
    mkdir -p "$CACHE"
    start=$(date +%s)
    # minbase: essential packages and apt, nothing else (about 120 MB).
    if ! timeout 1200 debootstrap --variant=minbase --components=main bookworm "$ROOTFS" "$MIRROR" \
        >"$CACHE/debootstrap.log" 2>&1; then
        echo "base: debootstrap failed; the end of $CACHE/debootstrap.log:" >&2
        tail -20 "$CACHE/debootstrap.log" >&2
        exit 1
    fi
    # apt sees point-release, updates and security (all through deb.debian.org),
    # and never installs recommended packages.
    cat >"$ROOTFS/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
EOF
    printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
        >"$ROOTFS/etc/apt/apt.conf.d/99cordbank-no-recommends"
    # What an image need not carry: the downloaded .debs, the package lists
    # (the build stage runs apt-get update), device nodes (the runtime makes /dev).
    rm -rf "${ROOTFS:?}"/var/cache/apt/archives/*.deb "${ROOTFS:?}"/var/lib/apt/lists/* \
        "${ROOTFS:?}"/var/log/* "${ROOTFS:?}"/dev/*
    mkdir -p "$ROOTFS/var/lib/apt/lists/partial"
    echo "base: debootstrap took $(($(date +%s) - start)) s, $(du -sm "$ROOTFS" | cut -f1) MB"
    touch "$DONE"
fi

echo "base: importing $ROOTFS as $IMAGE"
ctr=$(buildah from --pull-never scratch)
mnt=$(buildah mount "$ctr")
# tar keeps owners, modes, hard links and symlinks (merged /usr) as they are.
tar -C "$ROOTFS" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
buildah umount "$ctr" >/dev/null
buildah config \
    --os linux --arch amd64 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --cmd /bin/bash \
    --label org.opencontainers.image.title=cordbank-debian \
    --label "org.opencontainers.image.description=Debian 12 (bookworm) minbase, debootstrapped from $MIRROR" \
    --label org.opencontainers.image.version=bookworm \
    "$ctr"
buildah commit --quiet --rm "$ctr" "$IMAGE" >/dev/null
ctr=
echo "base: $IMAGE ready"
