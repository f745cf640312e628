// validate.mjs -- checks every manifest in deploy/k8s without a cluster:
// each object against its API schema (kubernetes-models, and its KEDA
// models for the ScaledObject: types, required fields, formats), no field
// the API does not know (the attribute maps of @kubernetes/client-node, as
// `kubectl apply --validate=strict` would), and what a schema cannot see:
// references between the objects, probes and resources on every container,
// the agents' drain inside their termination grace period, and a
// kustomization that names every file.  --self-test breaks copies of the
// manifests in known ways and fails unless each break is reported.
// Run by scripts/k8s-validate.sh.  Prints "N passed, M failed".
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "..");

// ---- loading ---------------------------------------------------------------

function loadManifests(dir) {
  const objects = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith(".yaml")).sort()) {
    const text = readFileSync(join(dir, file), "utf8");
    parseAllDocuments(text).forEach((doc, index) => {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
      const object = doc.toJS();
      if (object) objects.push({ file, index, object, where: `${file}#${index + 1}` });
    });
  }
  return objects;
}

// "apps/v1" -> ["apps", "v1"]; "v1" -> ["", "v1"].
function groupVersion(apiVersion) {
  const slash = apiVersion.lastIndexOf("/");
  return slash < 0 ? ["", apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

// The kubernetes-models class of an object, or null for a kind we have no
// model of (a test that it is known follows).
async function modelOf(object) {
  const [group, version] = groupVersion(object.apiVersion ?? "");
  const path = group === "keda.sh" ? `@kubernetes-models/keda/keda.sh/${version}`
    : group === "" ? `kubernetes-models/${version}` : `kubernetes-models/${group}/${version}`;
  try {
    return (await import(path))[object.kind] ?? null;
  } catch {
    return null;
  }
}

// ---- checks of one object --------------------------------------------------

async function schemaErrors(object) {
  if (object.kind === "Kustomization") return [];
  const Model = await modelOf(object);
  if (!Model) return [`no schema for ${object.apiVersion} ${object.kind}`];
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`schema: ${error.message}`];
  }
}

// Fields the API does not know, walking the object along the attribute
// maps of @kubernetes/client-node's models ("V1Container", ...).
function unknownFields(value, type, path, errors) {
  if (value === null || value === undefined) return errors;
  let match = /^Array<(.+)>$/.exec(type);
  if (match) {
    if (Array.isArray(value)) value.forEach((item, i) => unknownFields(item, match[1], `${path}[${i}]`, errors));
    return errors;
  }
  match = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (match) {
    for (const [key, item] of Object.entries(value)) unknownFields(item, match[1], `${path}.${key}`, errors);
    return errors;
  }
  const Model = k8s[type];
  if (typeof Model?.getAttributeTypeMap !== "function" || typeof value !== "object") return errors;
  const fields = new Map(Model.getAttributeTypeMap().map((field) => [field.baseName, field.type]));
  for (const [key, item] of Object.entries(value)) {
    if (!fields.has(key)) errors.push(`unknown field ${path}.${key}`);
    else unknownFields(item, fields.get(key), `${path}.${key}`, errors);
  }
  return errors;
}

function strictErrors(object) {
  const [group, version] = groupVersion(object.apiVersion ?? "");
  if (group === "keda.sh" || object.kind === "Kustomization") return [];
  const type = version[0].toUpperCase() + version.slice(1) + object.kind;
  if (!k8s[type]) return [`no field list for ${type}`];
  return unknownFields(object, type, object.kind, []);
}

// ---- checks across objects -------------------------------------------------

const podSpecOf = (object) => object.spec?.template?.spec;
const workloads = (objects) => objects.filter((o) => podSpecOf(o.object));
const named = (objects, kind, name) => objects.find((o) => o.object.kind === kind
                                                   && o.object.metadata?.name === name);

function selects(selector, labels) {
  return Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value)
    && Object.keys(selector ?? {}).length > 0;
}

function hasKey(configObject, key) {
  const data = { ...configObject?.data, ...configObject?.stringData };
  return key in data;
}

function referenceErrors(objects, { object }) {
  const errors = [];
  const spec = podSpecOf(object);
  for (const container of spec?.containers ?? []) {
    for (const env of container.env ?? []) {
      const secret = env.valueFrom?.secretKeyRef;
      const config = env.valueFrom?.configMapKeyRef;
      if (secret && !hasKey(named(objects, "Secret", secret.name)?.object, secret.key)) {
        errors.push(`env ${env.name}: no Secret ${secret.name} with key ${secret.key}`);
      }
      if (config && !hasKey(named(objects, "ConfigMap", config.name)?.object, config.key)) {
        errors.push(`env ${env.name}: no ConfigMap ${config.name} with key ${config.key}`);
      }
    }
  }
  for (const volume of spec?.volumes ?? []) {
    if (volume.configMap && !named(objects, "ConfigMap", volume.configMap.name)) {
      errors.push(`volume ${volume.name}: no ConfigMap ${volume.configMap.name}`);
    }
    if (volume.secret && !named(objects, "Secret", volume.secret.secretName)) {
      errors.push(`volume ${volume.name}: no Secret ${volume.secret.secretName}`);
    }
  }
  if (object.kind === "StatefulSet" && !named(objects, "Service", object.spec.serviceName)) {
    errors.push(`serviceName ${object.spec.serviceName}: no such Service`);
  }
  if (object.kind === "Service") errors.push(...serviceErrors(objects, object));
  const target = object.spec?.scaleTargetRef;
  if (target && !named(objects, target.kind ?? "Deployment", target.name)) {
    errors.push(`scaleTargetRef: no ${target.kind ?? "Deployment"} ${target.name}`);
  }
  if (object.kind === "PodDisruptionBudget"
      && !workloads(objects).some((w) => selects(object.spec.selector?.matchLabels,
                                                 w.object.spec.template.metadata?.labels))) {
    errors.push("selector matches no workload's pods");
  }
  return errors;
}

function serviceErrors(objects, service) {
  const pods = workloads(objects).filter((w) => selects(service.spec.selector,
                                                        w.object.spec.template.metadata?.labels));
  if (pods.length === 0) return ["selector matches no workload's pods"];
  const portNames = new Set(pods.flatMap((w) => podSpecOf(w.object).containers
    .flatMap((c) => (c.ports ?? []).map((p) => p.name))));
  return service.spec.ports.filter((p) => typeof p.targetPort === "string" && !portNames.has(p.targetPort))
    .map((p) => `port ${p.name}: targetPort ${p.targetPort} is no container port of its pods`);
}

function seconds(duration) {
  const match = /^(\d+)(ms|s)?$/.exec(duration ?? "30s");
  return match ? Number(match[1]) / (match[2] === "ms" ? 1000 : 1) : NaN;
}

// Every container: requests and limits, liveness on /healthz and
// readiness on /readyz through a named port it has.  Agents: the drain
// (DROVER_GRACE) ends before the kubelet's SIGKILL.
function podErrors({ object }) {
  const spec = podSpecOf(object);
  if (!spec) return [];
  const errors = [];
  for (const c of spec.containers) {
    const ports = new Set((c.ports ?? []).map((p) => p.name));
    if (!c.resources?.requests || !c.resources?.limits) errors.push(`${c.name}: no requests and limits`);
    for (const [probe, path] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
      const get = c[probe]?.httpGet;
      if (get?.path !== path) errors.push(`${c.name}: ${probe} is not GET ${path}`);
      else if (!ports.has(get.port)) errors.push(`${c.name}: ${probe} port ${get.port} is not a named port`);
    }
    if (c.args?.[0] === "agent") {
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
      const grace = seconds(env.DROVER_GRACE);
      if (!(grace + 5 <= (spec.terminationGracePeriodSeconds ?? 30))) {
        errors.push(`${c.name}: DROVER_GRACE ${env.DROVER_GRACE ?? "30s (default)"} does not end 5 s `
                    + `before terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds ?? 30}`);
      }
    }
  }
  return errors;
}

function kustomizationErrors(objects, files) {
  const kustomization = objects.find((o) => o.object.kind === "Kustomization");
  if (!kustomization) return ["no kustomization.yaml"];
  const listed = new Set(kustomization.object.resources ?? []);
  const text = readFileSync(join(DIR, kustomization.file), "utf8");
  const errors = [...listed].filter((file) => !files.has(file)).map((file) => `resource ${file} does not exist`);
  // A file it does not list must at least be named (an alternative, as hpa.yaml).
  for (const file of files) {
    if (file !== kustomization.file && !listed.has(file) && !text.includes(file)) {
      errors.push(`${file} is neither a resource nor named in ${kustomization.file}`);
    }
  }
  return errors;
}

// ---- running ---------------------------------------------------------------

async function check(objects) {
  const results = [];
  for (const entry of objects) {
    const errors = [...await schemaErrors(entry.object), ...strictErrors(entry.object),
                    ...referenceErrors(objects, entry), ...podErrors(entry)];
    results.push({ name: `${entry.where} ${entry.object.kind} ${entry.object.metadata?.name ?? ""}`, errors });
  }
  const files = new Set(objects.map((o) => o.file));
  results.push({ name: "kustomization names every file", errors: kustomizationErrors(objects, files) });
  return results;
}

// Each break must be caught, for the reason given:
// [what, a piece of the error expected, change a deep copy of the manifests].
const BREAKS = [
  ["unknown field", "unknown field StatefulSet.spec.template.spec.containers[0].imagePullPolcy",
   (objs) => { podSpecOf(find(objs, "StatefulSet")).containers[0].imagePullPolcy = "x"; }],
  ["wrong type", "containerPort must be integer",
   (objs) => { podSpecOf(find(objs, "Deployment")).containers[0].ports[0].containerPort = "http"; }],
  ["missing required field", "must have required property selector",
   (objs) => { delete find(objs, "Deployment").spec.selector; }],
  ["KEDA schema", "minReplicaCount must be integer",
   (objs) => { find(objs, "ScaledObject").spec.minReplicaCount = "one"; }],
  ["dangling Secret", "no Secret no-such-secret", (objs) => {
    podSpecOf(find(objs, "Deployment")).containers[0].env
      .find((e) => e.valueFrom?.secretKeyRef).valueFrom.secretKeyRef.name = "no-such-secret";
  }],
  ["drain longer than grace", "before terminationGracePeriodSeconds 30",
   (objs) => { podSpecOf(find(objs, "Deployment")).terminationGracePeriodSeconds = 30; }],
  ["probe path", "readinessProbe is not GET /readyz",
   (objs) => { podSpecOf(find(objs, "StatefulSet")).containers[0].readinessProbe.httpGet.path = "/"; }],
  ["scale target", "scaleTargetRef: no Deployment agents",
   (objs) => { find(objs, "HorizontalPodAutoscaler").spec.scaleTargetRef.name = "agents"; }],
  ["service port", "targetPort fronted is no container port",
   (objs) => { find(objs, "Service").spec.ports[0].targetPort = "fronted"; }],
];

function find(objects, kind) {
  return objects.find((o) => o.object.kind === kind).object;
}

async function selfTest(objects) {
  let failed = 0;
  for (const [what, expected, breakIt] of BREAKS) {
    const copy = structuredClone(objects);
    breakIt(copy);
    const errors = (await check(copy)).flatMap((r) => r.errors);
    const caught = errors.some((error) => error.includes(expected));
    console.log(`${caught ? "ok  " : "FAIL"} self-test: ${what} ${caught ? "is caught"
                : `went unnoticed (wanted "${expected}", got: ${errors.join("; ") || "nothing"})`}`);
    failed += caught ? 0 : 1;
  }
  return [BREAKS.length - failed, failed];
}

const objects = loadManifests(DIR);
let passed = 0;
let failed = 0;
for (const { name, errors } of await check(objects)) {
  console.log(`${errors.length ? "FAIL" : "ok  "} ${name}`);
  for (const error of errors) console.log(`       ${error}`);
  errors.length ? failed++ : passed++;
}
if (process.argv.includes("--self-test")) {
  const [ok, notOk] = await selfTest(objects);
  passed += ok;
  failed += notOk;
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
