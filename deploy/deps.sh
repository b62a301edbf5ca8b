#!/usr/bin/env bash
# Installs the Debian packages cordbank needs that are missing; a sub-second
# no-op when all are present (one dpkg-query for the whole list).
set -euo pipefail
wanted=("$@")
# dpkg-query exits 1 when any package is unknown to dpkg: that is the case
# this script exists for, so its status is not an error here.
installed=$( { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${wanted[@]}" 2>/dev/null || true; } \
    | awk '$1=="ii"{print $2}' | sed 's/:.*//' | sort -u)
missing=$(comm -13 <(printf '%s\n' "$installed") <(printf '%s\n' "${wanted[@]}" | sort -u))
[ -z "$missing" ] && exit 0
echo "deps: installing:" $missing
if [ "$(id -u)" != 0 ]; then
    echo "deps: these packages are missing and installing them needs root:" $missing >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# PostgreSQL, Redis and Prometheus are servers: their packages would enable
# and start a system-wide instance (Prometheus on every interface). The
# project runs its own, on loopback, in temp dirs; a policy-rc.d that
# refuses every start keeps the packages from starting theirs (invoke-rc.d
# and deb-systemd-invoke both honour it). Only one we put there is removed.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# cordbank deploy/deps.sh: no service starts while it installs\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
