#!/usr/bin/env bash
# make images: the five service images, built with buildah (no Docker engine,
# no registry), checked, and exported as OCI archives.
#
#   1. the base image localhost/cordbank-debian:bookworm (deploy/image/base.sh,
#      a no-op when it exists)
#   2. buildah bud --isolation chroot --layers, one --target per service of
#      deploy/image/Containerfile: the build stage is built by the first and
#      taken from the layer cache by the other four. Tags:
#      localhost/cordbank-<svc>:<VERSION> and :<git short sha> (-dirty when the
#      sources the images are built from have uncommitted changes)
#   3. smoke check: the image's binary run with --help in a buildah working
#      container (exit 0 and "Usage:"), and name resolution through the image's
#      own libc and nsswitch.conf (getent from the host, copied into the
#      throwaway container only): localhost by files, and a DNS name when the
#      host resolves it
#   4. build/images/cordbank-<svc>-<VERSION>.oci.tar (buildah push oci-archive:,
#      reference localhost/cordbank-<svc>:<VERSION>), skipped when the archive
#      already holds the same image
#   5. a table of sizes and build/images/images.json
#
# Exits non-zero when a build or a smoke check fails or an image is larger than
# MAX_MB (40) uncompressed. Environment: SERVICES="gateway ..." (a subset),
# MAX_MB, NO_CACHE=1 (rebuild every layer), STORAGE_DRIVER=vfs (where overlay
# does not work), DNS_CHECK_NAME (deb.debian.org), BUD_TIMEOUT (seconds, 1800).
set -euo pipefail
cd "$(dirname "$0")/../.."

export BUILDAH_ISOLATION=chroot
read -r -a services <<<"${SERVICES:-gateway command balance cache metrics}"
MAX_MB=${MAX_MB:-40}
BUD_TIMEOUT=${BUD_TIMEOUT:-1800}
DNS_CHECK_NAME=${DNS_CHECK_NAME:-deb.debian.org}
OUT=build/images
SOURCE=https://github.com/cordbank/cordbank

[ "$(id -u)" = 0 ] || { echo "images: buildah needs root here" >&2; exit 1; }
[ -s VERSION ] || { echo "images: no VERSION file at the repository root" >&2; exit 1; }
version=$(tr -d '[:space:]' <VERSION)
sha=$(git rev-parse --short HEAD)
revision=$(git rev-parse HEAD)
inputs=(Makefile VERSION proto common services deploy/embed-sql.sh deploy/image)
if [ -n "$(git status --porcelain -- "${inputs[@]}")" ]; then
    sha=$sha-dirty
    revision=$revision-dirty
fi
mkdir -p "$OUT"

containers=()
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    local c
    for c in "${containers[@]}"; do
        buildah rm "$c" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$(date +%s)
elapsed() { echo "$(($(date +%s) - t0)) s"; }

# 1. base image
timeout 1500 deploy/image/base.sh

# 2. one bud per service
cache_flag=()
[ "${NO_CACHE:-}" = 1 ] && cache_flag=(--no-cache)
for svc in "${services[@]}"; do
    image=localhost/cordbank-$svc
    log=$OUT/build-$svc.log
    start=$(date +%s)
    if ! timeout "$BUD_TIMEOUT" buildah bud --isolation chroot --layers --pull-never --force-rm \
        "${cache_flag[@]}" \
        --ignorefile deploy/image/containerignore -f deploy/image/Containerfile \
        --target "$svc" \
        --build-arg "VERSION=$version" --build-arg "REVISION=$revision" --build-arg "SOURCE=$SOURCE" \
        -t "$image:$version" -t "$image:$sha" . >"$log" 2>&1; then
        echo "images: building $svc failed (or took over $BUD_TIMEOUT s); the end of $log:" >&2
        tail -30 "$log" >&2
        exit 1
    fi
    echo "images: $image:$version built in $(($(date +%s) - start)) s ($(grep -c 'Using cache' "$log" || true) cached steps)"
    cache_flag=() # the build stage is rebuilt once at most
done

# 3. to 5. per image: smoke check, archive, sizes
host_resolves=false
getent ahosts "$DNS_CHECK_NAME" >/dev/null 2>&1 && host_resolves=true
getent=$(command -v getent)
failed=0
json='{}'
rows=()
for svc in "${services[@]}"; do
    image=localhost/cordbank-$svc:$version
    id=$(buildah inspect --type image --format '{{.FromImageID}}' "$image")
    # Uncompressed: the sum of the layers' sizes in the stored manifest, where
    # layers are plain tars (buildah images prints the same, rounded: "28.6 MB").
    bytes=$(buildah inspect --type image "$image" | jq '.Manifest | fromjson | [.layers[].size] | add')

    smoke_ok=false dns_ok=false
    ctr=$(buildah from --pull-never --quiet "$image")
    containers+=("$ctr")
    if help=$(timeout 60 buildah run --isolation chroot "$ctr" -- "/usr/bin/cordbank-$svc" --help 2>&1) &&
        grep -q '^Usage:' <<<"$help"; then
        smoke_ok=true
    else
        echo "images: smoke check of $image failed: --help printed:" >&2
        head -20 <<<"$help" >&2
        failed=1
    fi
    buildah copy --quiet "$ctr" "$getent" /tmp/getent >/dev/null
    if timeout 30 buildah run --isolation chroot "$ctr" -- /tmp/getent ahosts localhost >/dev/null 2>&1 &&
        { [ "$host_resolves" = false ] ||
            timeout 30 buildah run --isolation chroot "$ctr" -- /tmp/getent ahosts "$DNS_CHECK_NAME" >/dev/null 2>&1; }; then
        dns_ok=true
    else
        echo "images: $image cannot resolve names (localhost or $DNS_CHECK_NAME)" >&2
        failed=1
    fi
    buildah rm "$ctr" >/dev/null
    containers=()

    archive=$OUT/cordbank-$svc-$version.oci.tar
    idfile=$OUT/.cordbank-$svc-$version.id
    if [ ! -s "$archive" ] || [ "$(cat "$idfile" 2>/dev/null)" != "$id" ]; then
        rm -f "$archive" "$idfile"
        # The reference inside is the full name (org.opencontainers.image.ref.name):
        # ctr/kind/podman importing the archive name the image after it.
        timeout 600 buildah push --quiet "$image" "oci-archive:$archive:$image" >/dev/null
        echo "$id" >"$idfile"
    fi
    archive_bytes=$(stat -c %s "$archive")

    size_mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
    archive_mb=$(awk -v b="$archive_bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
    over=false
    if [ "$bytes" -gt $((MAX_MB * 1000000)) ]; then
        echo "images: $image is $size_mb MB, over the $MAX_MB MB limit" >&2
        over=true
        failed=1
    fi
    json=$(jq --arg svc "$svc" --arg image "$image" --arg sha_tag "localhost/cordbank-$svc:$sha" \
        --arg id "$id" --arg archive "$archive" \
        --argjson size_mb "$size_mb" --argjson archive_mb "$archive_mb" \
        --argjson size_bytes "$bytes" --argjson archive_bytes "$archive_bytes" \
        --argjson smoke_ok "$smoke_ok" --argjson dns_ok "$dns_ok" --argjson over "$over" \
        '.[$svc] = {image: $image, also_tagged: $sha_tag, id: $id, size_mb: $size_mb,
                    size_bytes: $size_bytes, archive: $archive, archive_mb: $archive_mb,
                    archive_bytes: $archive_bytes, smoke_ok: $smoke_ok, dns_ok: $dns_ok,
                    over_limit: $over}' <<<"$json")
    rows+=("$(printf '%-9s %-36s %8s %10s  %-5s %-5s' "$svc" "$image" "$size_mb" "$archive_mb" \
        "$smoke_ok" "$dns_ok")")
done
jq . <<<"$json" >"$OUT/images.json"

printf '\n%-9s %-36s %8s %10s  %-5s %-5s\n' service image 'size MB' 'archive MB' smoke dns
printf '%s\n' "${rows[@]}"
echo "(size: uncompressed layers; archive: $OUT/cordbank-<svc>-$version.oci.tar, gzip layers;" \
    "limit $MAX_MB MB; also tagged :$sha)"
echo "images: $OUT/images.json; $(elapsed) in all"
exit "$failed"
