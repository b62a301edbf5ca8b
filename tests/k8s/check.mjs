// Checks what `kubectl kustomize` built from an overlay, offline:
//   1. every object against the Kubernetes API schema (kubernetes-models,
//      prometheus-operator's for ServiceMonitor and PrometheusRule), and no
//      field the schema does not know (a typo is an error, not ignored);
//   2. the deployment policy: probes, requests and limits, non-root,
//      read-only root filesystem, no capabilities, seccomp, a tagged image
//      (never latest), a PodDisruptionBudget and a NetworkPolicy for every
//      workload, a cordbank service's secrets only as files mounted from
//      Secrets (never environment variables), a grace period that
//      covers the drain, and in prod two pods or more spread across nodes;
//   3. references: ConfigMaps, Secrets, Services, ports, HPA targets;
//   4. the NetworkPolicies allow exactly the edges of DESIGN.md;
//   5. the PrometheusRule carries deploy/prometheus/rules/ unchanged;
//   6. CURVE between the services: on in prod, where every pod mounts the
//      keys cordbank-config names from a Secret (and a pod that binds a
//      ZeroMQ port, the server's secret key and the allowed keys); off in dev.
//
//   node check.mjs --overlay dev|prod FILE.yaml   exit 0 clean, 1 with the errors printed
//   node check.mjs --self-test FILE.yaml          breaks FILE (the dev overlay) in each way the
//                                                 policy forbids; exit 0 when every break is caught
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseAllDocuments, parse } from "yaml";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");

// --- schemas ------------------------------------------------------------------------------

const SCHEMAS = {
    "v1/ConfigMap": "kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap",
    "v1/Namespace": "kubernetes-models/_schemas/IoK8sApiCoreV1Namespace",
    "v1/Secret": "kubernetes-models/_schemas/IoK8sApiCoreV1Secret",
    "v1/Service": "kubernetes-models/_schemas/IoK8sApiCoreV1Service",
    "v1/PersistentVolumeClaim": "kubernetes-models/_schemas/IoK8sApiCoreV1PersistentVolumeClaim",
    "batch/v1/CronJob": "kubernetes-models/_schemas/IoK8sApiBatchV1CronJob",
    "apps/v1/Deployment": "kubernetes-models/_schemas/IoK8sApiAppsV1Deployment",
    "apps/v1/StatefulSet": "kubernetes-models/_schemas/IoK8sApiAppsV1StatefulSet",
    "policy/v1/PodDisruptionBudget": "kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget",
    "autoscaling/v2/HorizontalPodAutoscaler":
        "kubernetes-models/_schemas/IoK8sApiAutoscalingV2HorizontalPodAutoscaler",
    "networking.k8s.io/v1/NetworkPolicy": "kubernetes-models/_schemas/IoK8sApiNetworkingV1NetworkPolicy",
    "monitoring.coreos.com/v1/ServiceMonitor":
        "@kubernetes-models/prometheus-operator/_schemas/ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoringV1ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule":
        "@kubernetes-models/prometheus-operator/_schemas/ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoringV1PrometheusRule",
};
const validators = {};
// The schema modules by path: the packages do not export them by name.
for (const [key, path] of Object.entries(SCHEMAS))
    validators[key] = (await import(pathToFileURL(join(HERE, "node_modules", `${path}.js`)))).validate;

// A field the schema does not know is one its validator never reads: the
// object goes through a Proxy that records every property read.
function tracked(value, path, seen) {
    if (value === null || typeof value !== "object") return value;
    return new Proxy(value, {
        get(target, key, receiver) {
            const v = Reflect.get(target, key, receiver);
            if (typeof key !== "string" || !Object.hasOwn(target, key)) return v;
            seen.add(`${path}/${key}`);
            return tracked(v, `${path}/${key}`, seen);
        },
    });
}
function ownPaths(value, path, out) {
    if (value === null || typeof value !== "object") return out;
    for (const key of Object.keys(value)) {
        out.push(`${path}/${key}`);
        ownPaths(value[key], `${path}/${key}`, out);
    }
    return out;
}

const ident = (o) => `${o.kind}/${o.metadata?.name}`;

function checkSchema(objects, errors) {
    for (const o of objects) {
        const validate = validators[`${o.apiVersion}/${o.kind}`];
        if (!validate) {
            errors.push(`${ident(o)}: ${o.apiVersion} ${o.kind} is not a kind this check knows`);
            continue;
        }
        const seen = new Set();
        if (!validate(tracked(o, "", seen)))
            for (const e of validate.errors)
                errors.push(`${ident(o)}: schema: ${e.instancePath || "/"} ${e.keyword} ${JSON.stringify(e.params)}`);
        // apiVersion and kind are read by the dispatch above, not the schema.
        for (const p of ownPaths(o, "", []))
            if (!seen.has(p) && !/^\/(apiVersion|kind)$/.test(p) && !hasUnknownAncestor(p, seen))
                errors.push(`${ident(o)}: unknown field ${p}`);
    }
}
// Reports an unknown field once, not once per field under it.
function hasUnknownAncestor(path, seen) {
    const parts = path.split("/");
    for (let i = 2; i < parts.length; i++) if (!seen.has(parts.slice(0, i).join("/"))) return true;
    return false;
}

// --- the cluster's view ---------------------------------------------------------------------

const WORKLOADS = new Set(["Deployment", "StatefulSet"]);
const matches = (selector, labels) =>
    selector &&
    Object.entries(selector.matchLabels || {}).every(([k, v]) => labels?.[k] === v) &&
    (selector.matchExpressions || []).every((e) =>
        e.operator === "In" ? e.values.includes(labels?.[e.key])
        : e.operator === "NotIn" ? !e.values.includes(labels?.[e.key])
        : e.operator === "Exists" ? labels && e.key in labels
        : e.operator === "DoesNotExist" ? !(labels && e.key in labels)
        : false);
const podLabels = (w) => w.spec.template.metadata?.labels || {};
const containersOf = (w) => [...(w.spec.template.spec.initContainers || []), ...w.spec.template.spec.containers];
const isCordbank = (w) => podLabels(w)["app.kubernetes.io/part-of"] === "cordbank";
const byKind = (objects, kind) => objects.filter((o) => o.kind === kind);
const find = (objects, kind, name) => objects.find((o) => o.kind === kind && o.metadata.name === name);

function checkWorkloads(objects, opts, errors) {
    const config = find(objects, "ConfigMap", "cordbank-config")?.data || {};
    const pdbs = byKind(objects, "PodDisruptionBudget");
    const policies = byKind(objects, "NetworkPolicy");
    const hpas = byKind(objects, "HorizontalPodAutoscaler");
    if (!policies.some((p) => Object.keys(p.spec.podSelector || {}).length === 0 &&
                             ["Ingress", "Egress"].every((t) => p.spec.policyTypes?.includes(t)) &&
                             !p.spec.ingress?.length && !p.spec.egress?.length))
        errors.push("no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)");
    for (const w of objects.filter((o) => WORKLOADS.has(o.kind))) {
        const id = ident(w);
        const pod = w.spec.template.spec;
        const labels = podLabels(w);
        if (!matches(w.spec.selector, labels)) errors.push(`${id}: its selector does not match its pods`);
        if (pod.automountServiceAccountToken !== false)
            errors.push(`${id}: automountServiceAccountToken is not false (no pod here talks to the API)`);
        const psc = pod.securityContext || {};
        for (const c of containersOf(w)) {
            const cid = `${id} container ${c.name}`;
            const sc = c.securityContext || {};
            if (!c.livenessProbe) errors.push(`${cid}: no livenessProbe`);
            if (!c.readinessProbe) errors.push(`${cid}: no readinessProbe`);
            for (const r of ["requests", "limits"])
                for (const k of ["cpu", "memory"])
                    if (!c.resources?.[r]?.[k]) errors.push(`${cid}: no resources.${r}.${k}`);
            if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) errors.push(`${cid}: runAsNonRoot is not true`);
            if ((sc.runAsUser ?? psc.runAsUser) === 0) errors.push(`${cid}: runs as uid 0`);
            if (sc.readOnlyRootFilesystem !== true) errors.push(`${cid}: readOnlyRootFilesystem is not true`);
            if (sc.allowPrivilegeEscalation !== false) errors.push(`${cid}: allowPrivilegeEscalation is not false`);
            if (!sc.capabilities?.drop?.includes("ALL")) errors.push(`${cid}: capabilities do not drop ALL`);
            if (sc.capabilities?.add?.length) errors.push(`${cid}: adds capabilities ${sc.capabilities.add}`);
            if ((sc.seccompProfile ?? psc.seccompProfile)?.type !== "RuntimeDefault")
                errors.push(`${cid}: seccompProfile is not RuntimeDefault`);
            const image = c.image || "";
            const tag = image.includes("@") ? "digest" : /:([^/:]+)$/.exec(image)?.[1];
            if (!tag) errors.push(`${cid}: image ${image} has no tag`);
            else if (tag === "latest") errors.push(`${cid}: image ${image} uses the latest tag`);
            for (const e of c.env || []) {
                if (!/TOKEN|PASSWORD|SECRET|PG_URL|PUBLIC_KEY|CURVE/.test(e.name)) continue;
                if (isCordbank(w) && e.name.endsWith("_FILE")) {
                    if (!e.value || !mountedFromSecret(pod, c, e.value))
                        errors.push(`${cid}: ${e.name} (${e.value || "unset"}) is not a file mounted from a Secret`);
                } else if (isCordbank(w))
                    errors.push(`${cid}: ${e.name} is a secret in an environment variable: give it as a file (${e.name}_FILE) mounted from a Secret`);
                else if (!e.valueFrom?.secretKeyRef)
                    errors.push(`${cid}: ${e.name} is not read from a Secret (secretKeyRef)`);
            }
            if (isCordbank(w)) checkCordbankContainer(w, c, cid, config, errors);
        }
        if (!pdbs.some((p) => matches(p.spec.selector, labels)))
            errors.push(`${id}: no PodDisruptionBudget selects its pods`);
        // Its own policy: one that selects it by name, not only a namespace-
        // or project-wide one.
        if (!policies.some((p) => p.spec.podSelector?.matchLabels?.["app.kubernetes.io/name"] && matches(p.spec.podSelector, labels)))
            errors.push(`${id}: no NetworkPolicy names its pods`);
        const hpa = hpas.find((h) => h.spec.scaleTargetRef.kind === w.kind && h.spec.scaleTargetRef.name === w.metadata.name);
        if (hpa && w.spec.replicas !== undefined)
            errors.push(`${id}: sets replicas although ${ident(hpa)} owns them (each apply would reset them)`);
        if (opts.overlay === "prod" && isCordbank(w)) {
            const least = hpa ? hpa.spec.minReplicas ?? 1 : w.spec.replicas ?? 1;
            if (least < 2) errors.push(`${id}: fewer than 2 pods in prod (${least})`);
            if (!pod.affinity?.podAntiAffinity) errors.push(`${id}: no podAntiAffinity in prod`);
        }
    }
    for (const h of hpas)
        if (!find(objects, h.spec.scaleTargetRef.kind, h.spec.scaleTargetRef.name))
            errors.push(`${ident(h)}: its target ${h.spec.scaleTargetRef.kind}/${h.spec.scaleTargetRef.name} does not exist`);
    const gateway = find(objects, "StatefulSet", "cordbank-gateway");
    if (gateway && String(gateway.spec.replicas ?? 1) !== config.CORDBANK_GATEWAY_REPLICAS)
        errors.push(`StatefulSet/cordbank-gateway: ${gateway.spec.replicas ?? 1} replicas but CORDBANK_GATEWAY_REPLICAS is ${config.CORDBANK_GATEWAY_REPLICAS} (shards would be run twice or not at all)`);
}

// The probes and the drain of a cordbank service.
function checkCordbankContainer(w, c, cid, config, errors) {
    const admin = c.ports?.find((p) => p.name === "admin");
    if (!admin) errors.push(`${cid}: no port named admin`);
    for (const [probe, path] of [["startupProbe", "/livez"], ["livenessProbe", "/livez"], ["readinessProbe", "/readyz"]]) {
        const get = c[probe]?.httpGet;
        if (!get || get.path !== path || get.port !== "admin")
            errors.push(`${cid}: ${probe} is not GET ${path} on the admin port`);
    }
    const sleep = c.lifecycle?.preStop?.sleep?.seconds;
    if (!sleep) errors.push(`${cid}: no preStop sleep (peers must see the pod leave before SIGTERM)`);
    const graceMs = Number(c.env?.find((e) => e.name === "CORDBANK_GRACE_MS")?.value ?? config.CORDBANK_GRACE_MS ?? 20000);
    const period = w.spec.template.spec.terminationGracePeriodSeconds ?? 30;
    if (period < (sleep || 0) + graceMs / 1000)
        errors.push(`${cid}: terminationGracePeriodSeconds ${period} < preStop ${sleep || 0} s + drain ${graceMs / 1000} s: the kubelet would SIGKILL a draining pod`);
}

function checkReferences(objects, opts, errors) {
    const external = new Set(opts.externalSecrets);
    const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
    for (const w of workloads)
        for (const c of containersOf(w)) {
            const cid = `${ident(w)} container ${c.name}`;
            for (const ref of c.envFrom || []) {
                if (ref.configMapRef && !find(objects, "ConfigMap", ref.configMapRef.name))
                    errors.push(`${cid}: ConfigMap ${ref.configMapRef.name} does not exist`);
                if (ref.secretRef && !find(objects, "Secret", ref.secretRef.name) && !external.has(ref.secretRef.name))
                    errors.push(`${cid}: Secret ${ref.secretRef.name} does not exist`);
            }
            for (const e of c.env || []) {
                const s = e.valueFrom?.secretKeyRef;
                if (!s) continue;
                const secret = find(objects, "Secret", s.name);
                if (secret && !(s.key in (secret.data || {})) && !(s.key in (secret.stringData || {})) && !s.optional)
                    errors.push(`${cid}: Secret ${s.name} has no key ${s.key}`);
                if (!secret && !external.has(s.name))
                    errors.push(`${cid}: Secret ${s.name} does not exist and is not one the operator makes (${[...external].join(", ") || "none"})`);
            }
        }
    for (const w of workloads)
        for (const v of w.spec.template.spec.volumes || []) {
            const name = v.secret?.secretName;
            if (!name) continue;
            const secret = find(objects, "Secret", name);
            if (!secret && !external.has(name))
                errors.push(`${ident(w)}: volume ${v.name}: Secret ${name} does not exist and is not one the operator makes (${[...external].join(", ") || "none"})`);
            for (const i of (secret && !v.secret.optional && v.secret.items) || [])
                if (!(i.key in (secret.data || {})) && !(i.key in (secret.stringData || {})))
                    errors.push(`${ident(w)}: volume ${v.name}: Secret ${name} has no key ${i.key}`);
        }
    if (opts.overlay === "prod")
        for (const s of byKind(objects, "Secret"))
            errors.push(`${ident(s)}: a Secret in the prod overlay (secrets are made outside the repository)`);
    for (const svc of byKind(objects, "Service")) {
        const pods = workloads.filter((w) => matches({ matchLabels: svc.spec.selector }, podLabels(w)));
        if (!pods.length) errors.push(`${ident(svc)}: selects no pods`);
        for (const p of svc.spec.ports)
            for (const w of pods)
                if (typeof p.targetPort === "string" && !containersOf(w).some((c) => c.ports?.some((cp) => cp.name === p.targetPort)))
                    errors.push(`${ident(svc)}: port ${p.name} targets ${p.targetPort}, which ${ident(w)} does not have`);
    }
    // Every dns:// endpoint in the config is a headless Service with that port.
    const config = find(objects, "ConfigMap", "cordbank-config")?.data || {};
    for (const [key, value] of Object.entries(config))
        for (const m of String(value).matchAll(/dns:\/\/([a-z0-9-]+):(\d+)/g)) {
            const svc = find(objects, "Service", m[1]);
            if (!svc) errors.push(`ConfigMap cordbank-config: ${key} names Service ${m[1]}, which does not exist`);
            else if (svc.spec.clusterIP !== "None") errors.push(`ConfigMap cordbank-config: ${key}: Service ${m[1]} is not headless (dns:// needs one address per pod)`);
            else if (!svc.spec.ports.some((p) => p.port === Number(m[2])))
                errors.push(`ConfigMap cordbank-config: ${key}: Service ${m[1]} has no port ${m[2]}`);
        }
}

// --- NetworkPolicy edges ------------------------------------------------------------------------

// Which workload may open a connection to which port of which other, as
// Kubernetes applies the policies: the source's egress and the
// destination's ingress must both allow it.
function edges(objects, namespace) {
    const policies = byKind(objects, "NetworkPolicy");
    const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
    const nsLabels = { "kubernetes.io/metadata.name": namespace };
    const peerAllows = (peers, labels, peerNs) =>
        !peers || peers.length === 0 ||
        peers.some((peer) => {
            if (peer.ipBlock) return peerNs === null; // outside the cluster
            if (peerNs === null) return false;
            const nsOk = peer.namespaceSelector ? matches(peer.namespaceSelector, peerNs) : peerNs === nsLabels;
            const podOk = peer.podSelector ? matches(peer.podSelector, labels) : true;
            return nsOk && podOk && (peer.podSelector || peer.namespaceSelector);
        });
    const portAllows = (ports, port) =>
        !ports || ports.length === 0 ||
        ports.some((p) => (p.protocol || "TCP") === "TCP" && (p.port === undefined || p.port === port.containerPort || p.port === port.name));
    // allowed(direction, subject pod labels, peer labels, peer namespace labels, port)
    const allowed = (type, labels, peerLabels, peerNs, port) => {
        // podSelector {} selects every pod of the namespace.
        const selecting = policies.filter((p) => (p.spec.policyTypes || ["Ingress"]).includes(type) && matches(p.spec.podSelector || {}, labels));
        if (!selecting.length) return true;
        const key = type === "Ingress" ? "ingress" : "egress";
        const peersKey = type === "Ingress" ? "from" : "to";
        return selecting.some((p) => (p.spec[key] || []).some((r) => peerAllows(r[peersKey], peerLabels, peerNs) && portAllows(r.ports, port)));
    };
    const name = (w) => podLabels(w)["app.kubernetes.io/name"] || w.metadata.name;
    const out = new Set();
    for (const dst of workloads)
        for (const port of containersOf(dst).flatMap((c) => c.ports || [])) {
            for (const src of workloads)
                if (src !== dst &&
                    allowed("Egress", podLabels(src), podLabels(dst), nsLabels, port) &&
                    allowed("Ingress", podLabels(dst), podLabels(src), nsLabels, port))
                    out.add(`${name(src)} -> ${name(dst)}:${port.containerPort}`);
            // From another namespace: the monitoring one, and any other.
            for (const [who, ns] of [["monitoring", { "kubernetes.io/metadata.name": "monitoring" }], ["any", { "kubernetes.io/metadata.name": "elsewhere" }]])
                if (allowed("Ingress", podLabels(dst), { app: "elsewhere" }, ns, port))
                    out.add(`${who} -> ${name(dst)}:${port.containerPort}`);
        }
    return out;
}

function expectedEdges(objects) {
    const names = new Set(objects.filter((o) => WORKLOADS.has(o.kind)).map((w) => podLabels(w)["app.kubernetes.io/name"]));
    const services = ["gateway", "command", "balance", "cache", "metrics"];
    const admin = { gateway: 7101, command: 7201, balance: 7301, cache: 7401, metrics: 7501 };
    const e = [
        "gateway -> command:7200", "command -> cache:7400", "command -> balance:7300",
        "cache -> balance:7300", "cache -> balance:7302",
        ...services.filter((s) => s !== "metrics").map((s) => `${s} -> metrics:7500`),
        ...services.map((s) => `monitoring -> ${s}:${admin[s]}`),
        // Discord's interactions through the Ingress controller.
        "any -> gateway:7100", "monitoring -> gateway:7100",
    ];
    if (names.has("postgres")) e.push("balance -> postgres:5432");
    if (names.has("redis")) e.push("cache -> redis:6379", "gateway -> redis:6379");
    return new Set(e);
}

function checkEdges(objects, namespace, errors) {
    const got = edges(objects, namespace);
    const want = expectedEdges(objects);
    for (const e of got) if (!want.has(e)) errors.push(`NetworkPolicy: allows ${e}, which is not an edge of DESIGN.md`);
    for (const e of want) if (!got.has(e)) errors.push(`NetworkPolicy: does not allow ${e}, an edge of DESIGN.md`);
    return got;
}

// --- alert rules ---------------------------------------------------------------------------------

function checkRules(objects, errors) {
    if (find(objects, "CronJob", "cordbank-backup-full"))
        checkRule(objects, "cordbank-backup", "deploy/prometheus/backup", errors);
    checkRule(objects, "cordbank", "deploy/prometheus/rules", errors);
}
function checkRule(objects, name, from, errors) {
    const rule = find(objects, "PrometheusRule", name);
    if (!rule) return errors.push(`no PrometheusRule ${name}`);
    const dir = join(ROOT, from);
    const groups = readdirSync(dir).filter((f) => f.endsWith(".rules.yml")).sort()
        .flatMap((f) => parse(readFileSync(join(dir, f), "utf8")).groups);
    // kustomize sorts keys: compare with sorted keys.
    const canon = (v) => Array.isArray(v) ? v.map(canon)
        : v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]))
        : v;
    if (JSON.stringify(canon(rule.spec.groups)) !== JSON.stringify(canon(groups)))
        errors.push(`PrometheusRule ${name} differs from ${from}/: run k8s/gen-prometheusrule.sh`);
}

// --- main ----------------------------------------------------------------------------------------

// CronJobs (the backups): the same pod hardening as a service, no overlapping
// runs, a deadline, their own NetworkPolicy.
function checkCronJobs(objects, errors) {
    const policies = byKind(objects, "NetworkPolicy");
    for (const j of byKind(objects, "CronJob")) {
        const id = ident(j);
        const template = j.spec.jobTemplate.spec.template;
        const pod = template.spec;
        const psc = pod.securityContext || {};
        if (j.spec.concurrencyPolicy !== "Forbid") errors.push(`${id}: concurrencyPolicy is not Forbid (two runs would overlap)`);
        if (!j.spec.jobTemplate.spec.activeDeadlineSeconds) errors.push(`${id}: no activeDeadlineSeconds (a hung run would block the next ones)`);
        if (pod.automountServiceAccountToken !== false) errors.push(`${id}: automountServiceAccountToken is not false`);
        for (const c of [...(pod.initContainers || []), ...pod.containers]) {
            const cid = `${id} container ${c.name}`;
            const sc = c.securityContext || {};
            for (const r of ["requests", "limits"])
                for (const k of ["cpu", "memory"])
                    if (!c.resources?.[r]?.[k]) errors.push(`${cid}: no resources.${r}.${k}`);
            if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) errors.push(`${cid}: runAsNonRoot is not true`);
            if (sc.readOnlyRootFilesystem !== true) errors.push(`${cid}: readOnlyRootFilesystem is not true`);
            if (sc.allowPrivilegeEscalation !== false) errors.push(`${cid}: allowPrivilegeEscalation is not false`);
            if (!sc.capabilities?.drop?.includes("ALL")) errors.push(`${cid}: capabilities do not drop ALL`);
            if ((sc.seccompProfile ?? psc.seccompProfile)?.type !== "RuntimeDefault")
                errors.push(`${cid}: seccompProfile is not RuntimeDefault`);
            if (!/:[^/:]+$/.test(c.image || "") || /:latest$/.test(c.image)) errors.push(`${cid}: image ${c.image} has no tag or uses latest`);
            for (const e of c.env || [])
                if (/PASS|KEY|TOKEN|SECRET/.test(e.name) && !e.valueFrom?.secretKeyRef)
                    errors.push(`${cid}: ${e.name} is not read from a Secret (secretKeyRef)`);
        }
        if (!policies.some((p) => p.spec.podSelector?.matchLabels?.["app.kubernetes.io/name"] && matches(p.spec.podSelector, template.metadata?.labels)))
            errors.push(`${id}: no NetworkPolicy names its pods`);
    }
}

// Whether container c of pod finds path (a file, or a directory of them)
// under a mount of a Secret volume (its items, when listed, include it).
function mountedFromSecret(pod, c, path) {
    return (c.volumeMounts || []).some((m) => {
        const v = (pod.volumes || []).find((x) => x.name === m.name);
        if (!v?.secret || !path.startsWith(`${m.mountPath}/`)) return false;
        const rel = path.slice(m.mountPath.length + 1);
        return !v.secret.items || v.secret.items.some((i) => i.path === rel || i.path.startsWith(`${rel}/`));
    });
}

// CURVE (common/curve.h): on in prod, off in dev (no keys there). In prod
// every cordbank container finds the files cordbank-config names under a
// mount of a Secret volume (its items, when listed, must include them); one
// that binds a ZeroMQ port also its server's secret key and allowed keys.
const ZMQ_BIND_PORTS = new Set(["rpc", "events", "snapshots"]);
function checkCurve(objects, opts, errors) {
    const config = find(objects, "ConfigMap", "cordbank-config")?.data || {};
    const on = config.CORDBANK_CURVE === "true";
    if (opts.overlay !== "prod") {
        if (on) errors.push("ConfigMap cordbank-config: CORDBANK_CURVE is on outside prod (dev has no keys)");
        return;
    }
    if (!on) {
        errors.push('ConfigMap cordbank-config: CORDBANK_CURVE is not "true" in prod (ZeroMQ between pods in clear)');
        return;
    }
    const server = config.CORDBANK_CURVE_SERVER_KEY;
    for (const w of objects.filter((o) => WORKLOADS.has(o.kind) && isCordbank(o))) {
        const pod = w.spec.template.spec;
        for (const c of pod.containers) {
            const mounted = (path) => mountedFromSecret(pod, c, path);
            const need = [["CORDBANK_CURVE_CERT", config.CORDBANK_CURVE_CERT], ["CORDBANK_CURVE_SERVER_KEY", server]];
            if ((c.ports || []).some((p) => ZMQ_BIND_PORTS.has(p.name)))
                need.push(["the server's secret key", server && `${server}_secret`],
                          ["CORDBANK_CURVE_ALLOWED_KEYS", config.CORDBANK_CURVE_ALLOWED_KEYS]);
            for (const [what, path] of need)
                if (!path || !mounted(path))
                    errors.push(`${ident(w)} container ${c.name}: ${what} (${path || "unset"}) is not mounted from a Secret`);
        }
    }
}

function check(objects, opts) {
    const errors = [];
    checkSchema(objects, errors);
    checkWorkloads(objects, opts, errors);
    checkCronJobs(objects, errors);
    checkReferences(objects, opts, errors);
    checkCurve(objects, opts, errors);
    const namespace = objects.find((o) => o.kind === "Namespace")?.metadata.name || "default";
    for (const o of objects)
        if (o.kind !== "Namespace" && o.metadata.namespace !== namespace)
            errors.push(`${ident(o)}: in namespace ${o.metadata.namespace}, not the overlay's ${namespace}`);
    const got = checkEdges(objects, namespace, errors);
    checkRules(objects, errors);
    return { errors, edges: got };
}

function load(file) {
    const docs = parseAllDocuments(readFileSync(file, "utf8"));
    for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors[0].message}`);
    const objects = docs.map((d) => d.toJS()).filter(Boolean);
    // kustomize folds long base64 values over lines; the API server's
    // decoder (Go's base64) skips the newlines, the schema's regex does not.
    for (const o of objects)
        if (o.kind === "Secret")
            for (const k of Object.keys(o.data || {})) o.data[k] = String(o.data[k]).replace(/\n/g, "");
    return objects;
}

// Each way of breaking the dev overlay that the policy must catch, with the
// text the error must contain.
const BREAKS = [
    ["a workload without a readinessProbe", /no readinessProbe/, (o) => { delete wl(o, "cordbank-command").readinessProbe; }],
    ["a probe on another path", /readinessProbe is not GET \/readyz/, (o) => { wl(o, "cordbank-cache").readinessProbe.httpGet.path = "/livez"; }],
    ["an image tagged latest", /latest tag/, (o) => { wl(o, "cordbank-balance").image = "localhost/cordbank-balance:latest"; }],
    ["an image without a tag", /has no tag/, (o) => { wl(o, "cordbank-balance").image = "localhost/cordbank-balance"; }],
    ["no memory limit", /no resources\.limits\.memory/, (o) => { delete wl(o, "cordbank-metrics").resources.limits.memory; }],
    ["running as root", /runAsNonRoot is not true/, (o) => { podOf(o, "cordbank-gateway").securityContext.runAsNonRoot = false; }],
    ["a writable root filesystem", /readOnlyRootFilesystem is not true/, (o) => { wl(o, "cordbank-gateway").securityContext.readOnlyRootFilesystem = false; }],
    ["capabilities kept", /do not drop ALL/, (o) => { wl(o, "cordbank-cache").securityContext.capabilities.drop = []; }],
    ["no PodDisruptionBudget", /no PodDisruptionBudget/, (o) => remove(o, "PodDisruptionBudget", "cordbank-balance")],
    ["no NetworkPolicy for a workload", /no NetworkPolicy names its pods/, (o) => remove(o, "NetworkPolicy", "cordbank-command")],
    ["an edge DESIGN.md does not have", /allows gateway -> balance:7300/, (o) => {
        const p = find(o, "NetworkPolicy", "cordbank-balance");
        p.spec.ingress[0].from.push({ podSelector: { matchLabels: { "app.kubernetes.io/name": "gateway" } } });
        find(o, "NetworkPolicy", "cordbank-gateway").spec.egress.push({ ports: [{ protocol: "TCP", port: 7300 }] });
    }],
    ["no default deny", /no default-deny/, (o) => remove(o, "NetworkPolicy", "cordbank-default-deny")],
    ["a secret as a literal", /CORDBANK_PG_URL is a secret in an environment variable/, (o) => {
        const env = wl(o, "cordbank-balance").env;
        env.splice(env.findIndex((x) => x.name === "CORDBANK_PG_URL_FILE"), 1,
                   { name: "CORDBANK_PG_URL", value: "postgresql://cordbank:hunter2@db/cordbank" });
    }],
    ["a secret through an environment variable, even from a Secret", /CORDBANK_DISCORD_TOKEN is a secret in an environment variable/, (o) => {
        wl(o, "cordbank-gateway").env.push({ name: "CORDBANK_DISCORD_TOKEN", valueFrom: { secretKeyRef: { name: "cordbank-discord", key: "token" } } });
    }],
    ["a secret file not mounted from a Secret", /CORDBANK_PUBLIC_KEY_FILE \(\/etc\/cordbank\/discord\/public-key\) is not a file mounted/, (o) => {
        delete wl(o, "cordbank-gateway").volumeMounts;
    }],
    ["a misspelt field", /unknown field .*readinesProbe/, (o) => { const c = wl(o, "cordbank-cache"); c.readinesProbe = c.readinessProbe; }],
    ["a wrong type", /schema: .*replicas/, (o) => { find(o, "StatefulSet", "cordbank-gateway").spec.replicas = "two"; }],
    ["a grace period shorter than the drain", /terminationGracePeriodSeconds 10/, (o) => { podOf(o, "cordbank-command").terminationGracePeriodSeconds = 10; }],
    ["gateway replicas out of step with its config", /CORDBANK_GATEWAY_REPLICAS/, (o) => { find(o, "StatefulSet", "cordbank-gateway").spec.replicas = 3; }],
    ["a missing Secret", /volume postgres: Secret nope does not exist/, (o) => {
        podOf(o, "cordbank-balance").volumes.find((v) => v.name === "postgres").secret.secretName = "nope";
    }],
    ["a Secret without the key a volume lists", /volume discord: Secret cordbank-discord-[a-z0-9]+ has no key token/, (o) => {
        podOf(o, "cordbank-gateway").volumes.find((v) => v.name === "discord").secret.items.push({ key: "token", path: "token" });
    }],
    ["a dns:// endpoint without its Service", /names Service cordbank-cachee/, (o) => {
        find(o, "ConfigMap", "cordbank-config").data.CORDBANK_CACHE_ENDPOINTS = "dns://cordbank-cachee:7400";
    }],
    ["stale alert rules", /differs from deploy\/prometheus\/rules/, (o) => { find(o, "PrometheusRule", "cordbank").spec.groups.pop(); }],
    ["replicas beside an HPA", /sets replicas although/, (o) => { find(o, "Deployment", "cordbank-command").spec.replicas = 1; }],
    ["a volume from a missing Secret", /volume curve: Secret nope does not exist/, (o) => {
        podOf(o, "cordbank-command").volumes = [{ name: "curve", secret: { secretName: "nope" } }];
    }],
    ["CURVE on without keys (dev)", /CORDBANK_CURVE is on outside prod/, (o) => {
        find(o, "ConfigMap", "cordbank-config").data.CORDBANK_CURVE = "true";
    }],
];
function podOf(objects, name) { return objects.find((o) => WORKLOADS.has(o.kind) && o.metadata.name === name).spec.template.spec; }
function wl(objects, name) { return podOf(objects, name).containers[0]; }
function remove(objects, kind, name) { objects.splice(objects.indexOf(find(objects, kind, name)), 1); }

const args = process.argv.slice(2);
const flag = (name) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : undefined; };
const selfTest = args.includes("--self-test") && args.splice(args.indexOf("--self-test"), 1);
const overlay = flag("--overlay") || "dev";
const externalSecrets = (flag("--external-secrets") || "").split(",").filter(Boolean);
if (args.length !== 1) {
    console.error("usage: node check.mjs [--overlay dev|prod] [--external-secrets a,b] [--self-test] FILE.yaml");
    process.exit(2);
}
const opts = { overlay, externalSecrets };
const objects = load(args[0]);
if (!selfTest) {
    const { errors, edges: got } = check(objects, opts);
    const kinds = {};
    for (const o of objects) kinds[o.kind] = (kinds[o.kind] || 0) + 1;
    console.log(`${overlay}: ${objects.length} objects (${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(", ")})`);
    console.log(`${overlay}: NetworkPolicy edges: ${[...got].sort().join(", ")}`);
    for (const e of errors) console.log(`  error: ${e}`);
    process.exit(errors.length ? 1 : 0);
}
let failed = 0;
const clean = check(structuredClone(objects), opts).errors;
if (clean.length) {
    console.log(`self-test: the unbroken input has errors:\n  ${clean.join("\n  ")}`);
    process.exit(1);
}
for (const [what, expect, breakIt] of BREAKS) {
    const broken = structuredClone(objects);
    breakIt(broken);
    const errors = check(broken, opts).errors;
    const hit = errors.find((e) => expect.test(e));
    console.log(`  ${hit ? "caught" : "MISSED"}  ${what}${hit ? `: ${hit}` : ` (errors: ${errors.join("; ") || "none"})`}`);
    if (!hit) failed++;
}
console.log(`self-test: ${BREAKS.length - failed} of ${BREAKS.length} breaks caught`);
process.exit(failed ? 1 : 0);
