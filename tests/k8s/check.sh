#!/usr/bin/env bash
# The Kubernetes manifests, offline (no cluster): `kubectl kustomize` builds
# the base and each overlay, and tests/k8s/check.mjs validates every object
# against the Kubernetes API schema and checks the deployment policy, the
# references and the NetworkPolicy edges (see its header). Its self-test
# breaks the dev overlay in each way the policy forbids and expects each
# break to be caught. make deps installs kubectl (Debian's
# kubernetes-client, when no kubectl is there) and the npm packages.
#
#   tests/k8s/check.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib/assert.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Prod's Secrets are made by the operator, outside the repository.
EXTERNAL=cordbank-discord,cordbank-postgres,cordbank-pgbackrest,cordbank-pgbackrest-tls,cordbank-curve

section "kubectl kustomize ($(kubectl version --client 2>/dev/null | head -1))"
for o in base overlays/dev overlays/prod; do
    name=$(basename "$o")
    kubectl kustomize "k8s/$o" >"$out/$name.yaml" 2>"$out/$name.err"
    expect_eq "k8s/$o builds" "0 " "$? $(grep -v 'is deprecated' "$out/$name.err")"
done

section "schema, policy, references and edges"
for o in dev prod; do
    node tests/k8s/check.mjs --overlay "$o" --external-secrets "$EXTERNAL" "$out/$o.yaml" >"$out/$o.check" 2>&1
    rc=$?
    sed -n '1,2p' "$out/$o.check" | sed 's/^/       /'
    expect_eq "$o: every object valid, the policy met, exactly DESIGN.md's edges" "0" "$rc$(grep 'error:' "$out/$o.check" | head -20 | sed 's/^/\n/')"
done
expect_eq "StatefulSets: prod only the gateway, dev also PostgreSQL and Redis" "1 3" \
    "$(grep -c '^kind: StatefulSet' "$out/prod.yaml") $(grep -c '^kind: StatefulSet' "$out/dev.yaml")"

section "the policy check catches what it forbids"
node tests/k8s/check.mjs --self-test "$out/dev.yaml" >"$out/self.check" 2>&1
rc=$?
grep -E 'caught|MISSED|unbroken' "$out/self.check" | sed 's/: .*//; s/^/     /'
expect_eq "$(tail -1 "$out/self.check")" 0 "$rc"

section "the PrometheusRule is the rules promtool tests"
k8s/gen-prometheusrule.sh "$out/rule.yaml" "$out/backup-rule.yaml"
expect_eq "k8s/base/prometheusrule.yaml is up to date (k8s/gen-prometheusrule.sh)" "" \
    "$(diff k8s/base/prometheusrule.yaml "$out/rule.yaml")"
expect_eq "k8s/overlays/prod/backup-prometheusrule.yaml is up to date (k8s/gen-prometheusrule.sh)" "" \
    "$(diff k8s/overlays/prod/backup-prometheusrule.yaml "$out/backup-rule.yaml")"

summary k8s
