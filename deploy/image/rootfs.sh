#!/usr/bin/env bash
# Runs in the build stage of deploy/image/Containerfile: gathers, for each
# service, the whole root filesystem of its runtime image in /out/<service>/:
#
#   /usr/bin/cordbank-<service>       the binary (debug sections stripped; symbols kept)
#   the shared libraries ldd lists    at their real paths, with the symlinks that lead
#   and the dynamic loader            there (/lib -> usr/lib, /lib64 -> usr/lib64, sonames)
#   /etc/passwd, /etc/group           root, nobody and cordbank (uid/gid 10001)
#   /etc/nsswitch.conf                files, then dns, for hosts (dns://name:port endpoints)
#   /etc/ssl/certs/ca-certificates.crt  and OpenSSL's default names for it
#                                     (/usr/lib/ssl/cert.pem, /usr/lib/ssl/certs)
#   /tmp                              empty, mode 1777
#   /dev /proc /sys                   empty mount points
#
# and nothing else: no shell, no package manager, no libnss_*.so. In glibc 2.34
# and later (bookworm has 2.36) the "files" and "dns" NSS modules are built
# into libc.so.6; libnss_files.so.2 and libnss_dns.so.2 are empty stubs kept
# for old binaries. The script checks that this libc does export them.
#
#   rootfs.sh BIN_DIR SERVICE...      e.g. rootfs.sh build/bin gateway command
set -euo pipefail
bin_dir=$1
shift
OUT=${OUT:-/out}

# copy_path PATH ROOT: PATH into ROOT at the same place, every symlink on the way
# (in the directories above it and in the file itself) recreated as a symlink.
ensure_dir() {
    local dir=$1 root=$2
    [ "$dir" = / ] && return 0
    ensure_dir "$(dirname "$dir")" "$root"
    if [ -L "$dir" ]; then
        [ -L "$root$dir" ] || ln -s "$(readlink "$dir")" "$root$dir"
        ensure_dir "$(readlink -f "$dir")" "$root"
    else
        mkdir -p "$root$dir"
    fi
}
copy_path() {
    local path=$1 root=$2 target
    while :; do
        ensure_dir "$(dirname "$path")" "$root"
        if [ -L "$path" ]; then
            target=$(readlink "$path")
            [ -L "$root$path" ] || ln -s "$target" "$root$path"
            case $target in
                /*) path=$target ;;
                *) path=$(dirname "$path")/$target ;;
            esac
        else
            [ -e "$root$path" ] || cp -p "$path" "$root$path"
            return 0
        fi
    done
}

# The libraries ldd says BINARY needs, and the loader: one absolute path a line.
needed() {
    local out
    out=$(ldd "$1")
    if grep -q 'not found' <<<"$out"; then
        echo "rootfs: $1: a library is missing:" >&2
        grep 'not found' <<<"$out" >&2
        return 1
    fi
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<<"$out"
}

libc=$(ldd "$bin_dir/cordbank-$1" | awk '$1 == "libc.so.6" { print $3 }')
if [ "$(nm -D --defined-only "$libc" | grep -c -E ' _nss_(files|dns)_gethostbyname4_r(@|$)')" != 2 ]; then
    echo "rootfs: $libc does not carry the files and dns NSS modules: libnss_*.so would be needed" >&2
    exit 1
fi

for svc in "$@"; do
    root=$OUT/$svc
    rm -rf "$root"
    mkdir -p "$root/usr/bin" "$root/etc/ssl/certs" "$root/tmp"
    chmod 1777 "$root/tmp"
    # Empty mount points for what a runtime mounts (it would make them, but a
    # read-only tree run by hand, e.g. chroot, needs them there).
    mkdir -m 755 "$root/dev" "$root/proc" "$root/sys"

    bin=$bin_dir/cordbank-$svc
    strip --strip-debug -o "$root/usr/bin/cordbank-$svc" "$bin"
    chmod 755 "$root/usr/bin/cordbank-$svc"
    for lib in $(needed "$bin"); do
        copy_path "$lib" "$root"
    done

    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
cordbank:x:10001:10001:cordbank:/nonexistent:/usr/sbin/nologin
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
cordbank:x:10001:
EOF
    cat >"$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group:  files
hosts:  files dns
EOF
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
    # OpenSSL's own defaults (OPENSSLDIR is /usr/lib/ssl on Debian), for a TLS
    # client that does not name a CA file (libwebsockets' wss:// to Discord).
    mkdir -p "$root/usr/lib/ssl"
    ln -s /etc/ssl/certs/ca-certificates.crt "$root/usr/lib/ssl/cert.pem"
    ln -s /etc/ssl/certs "$root/usr/lib/ssl/certs"
    chmod 644 "$root"/etc/passwd "$root"/etc/group "$root"/etc/nsswitch.conf

    echo "rootfs: $svc: $(find "$root" -type f | wc -l) files, $(du -sk "$root" | cut -f1) KiB"
done
