// A checked-in kustomize for machines without kubectl: renders a
// kustomization directory the way `kubectl kustomize DIR` does, for the subset
// of kustomize that deploy/k8s uses, and refuses anything outside it (so it
// can never silently render something different). Where kubectl is present,
// tests/deploy/render_test compares the two renderings object for object.
//
//   node kustomize.mjs DIR [--json]    multi-document YAML (or one JSON array) on stdout
//
// Supported: resources (files and directories), namespace, configMapGenerator
// (envs, files, literals; behavior create/replace/merge; name hashes disabled),
// generatorOptions.disableNameSuffixHash, images (name/newName/newTag/digest),
// patches (strategic-merge patch files or inline patches naming their object).

import fs from "node:fs";
import path from "node:path";
import { parseAllDocuments, stringify } from "yaml";

const KUSTOMIZATION_FILES = ["kustomization.yaml", "kustomization.yml", "Kustomization"];
const SUPPORTED_KEYS = new Set([
  "apiVersion", "kind", "resources", "namespace", "configMapGenerator", "generatorOptions", "images", "patches",
]);
// Kinds that live outside namespaces (the namespace transformer skips them).
const CLUSTER_SCOPED = new Set([
  "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume", "StorageClass",
  "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
]);
// kustomize's output order (its legacy ordering): these kinds first, in this
// order, everything else after, then by name.
const KIND_ORDER = [
  "Namespace", "ResourceQuota", "StorageClass", "CustomResourceDefinition", "ServiceAccount", "PodSecurityPolicy",
  "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "ConfigMap", "Secret", "Endpoints", "Service",
  "LimitRange", "PriorityClass", "PersistentVolume", "PersistentVolumeClaim", "Deployment", "StatefulSet",
  "CronJob", "PodDisruptionBudget",
];
const KIND_ORDER_LAST = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];

export class KustomizeError extends Error {}

function fail(where, message) {
  throw new KustomizeError(`${where}: ${message}`);
}

function readYamlDocuments(file) {
  const docs = parseAllDocuments(fs.readFileSync(file, "utf8"));
  const objects = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) fail(file, doc.errors[0].message);
    const value = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) fail(file, "a document is not a mapping");
    objects.push(value);
  }
  return objects;
}

function kustomizationFile(dir) {
  for (const name of KUSTOMIZATION_FILES) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return file;
  }
  return fail(dir, "no kustomization.yaml");
}

function identity(o) {
  return `${o.kind}/${o.metadata?.name}`;
}

// --- configMapGenerator ---------------------------------------------------

function parseEnvFile(file) {
  const data = {};
  for (const raw of fs.readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) fail(file, `"${line}" is not KEY=VALUE`);
    data[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return data;
}

function generateConfigMap(dir, gen, options, where) {
  for (const key of Object.keys(gen)) {
    if (!["name", "envs", "files", "literals", "behavior", "options"].includes(key)) {
      fail(where, `configMapGenerator.${key} is not supported by this renderer`);
    }
  }
  const opts = { ...options, ...(gen.options ?? {}) };
  if (opts.disableNameSuffixHash !== true) {
    fail(where, `configMapGenerator ${gen.name}: set disableNameSuffixHash (name hashes are not rendered here)`);
  }
  const data = {};
  for (const env of gen.envs ?? []) Object.assign(data, parseEnvFile(path.join(dir, env)));
  for (const spec of gen.files ?? []) {
    const eq = spec.indexOf("=");
    const key = eq > 0 ? spec.slice(0, eq) : path.basename(spec);
    data[key] = fs.readFileSync(path.join(dir, eq > 0 ? spec.slice(eq + 1) : spec), "utf8");
  }
  for (const literal of gen.literals ?? []) {
    const eq = literal.indexOf("=");
    if (eq <= 0) fail(where, `literal "${literal}" is not KEY=VALUE`);
    data[literal.slice(0, eq)] = literal.slice(eq + 1);
  }
  const map = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: gen.name } };
  if (opts.labels) map.metadata.labels = { ...opts.labels };
  if (opts.annotations) map.metadata.annotations = { ...opts.annotations };
  if (Object.keys(data).length > 0) map.data = data;
  return map;
}

function addGenerated(resources, map, behavior, where) {
  const index = resources.findIndex((o) => identity(o) === identity(map));
  if (behavior === "create" || behavior === undefined) {
    if (index >= 0) fail(where, `ConfigMap ${map.metadata.name} already exists (use behavior: replace or merge)`);
    resources.push(map);
  } else if (behavior === "replace" || behavior === "merge") {
    if (index < 0) fail(where, `ConfigMap ${map.metadata.name} to ${behavior} does not exist`);
    const old = resources[index];
    if (behavior === "merge") map.data = { ...(old.data ?? {}), ...(map.data ?? {}) };
    map.metadata = { ...old.metadata, ...map.metadata };
    resources[index] = map;
  } else {
    fail(where, `unknown behavior "${behavior}"`);
  }
}

// --- strategic merge patch ------------------------------------------------

// The list fields deploy/k8s patches, with the key their items merge on (the
// OpenAPI x-kubernetes-patch-merge-key); other lists are replaced whole.
function mergeKey(field, parentPath) {
  switch (field) {
    case "containers":
    case "initContainers":
    case "ephemeralContainers":
    case "env":
    case "volumes":
    case "imagePullSecrets":
      return "name";
    case "volumeMounts":
      return "mountPath";
    case "ports":
      return parentPath.endsWith("/containers/*") || parentPath.endsWith("/initContainers/*") ? "containerPort" : "port";
    default:
      return null;
  }
}

function isMap(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function mergeList(base, patch, key, fieldPath) {
  if (patch.some((item) => isMap(item) && item.$patch !== undefined && item.$patch !== "delete")) {
    fail(fieldPath, "only $patch: delete is supported in lists");
  }
  const result = base.map((item) => structuredClone(item));
  const added = [];  // items the base lacks: kubectl kustomize puts them first, in the patch's order
  for (const item of patch) {
    if (!isMap(item) || item[key] === undefined) fail(fieldPath, `every item needs its merge key "${key}"`);
    const at = result.findIndex((b) => isMap(b) && b[key] === item[key]);
    if (item.$patch === "delete") {
      if (at >= 0) result.splice(at, 1);
    } else if (at >= 0) {
      result[at] = strategicMerge(result[at], item, `${fieldPath}/*`);
    } else {
      added.push(structuredClone(item));
    }
  }
  return [...added, ...result];
}

export function strategicMerge(base, patch, fieldPath = "") {
  if (!isMap(base) || !isMap(patch)) return structuredClone(patch);
  if (patch.$patch !== undefined) fail(fieldPath, "$patch directives on maps are not supported");
  const result = structuredClone(base);
  for (const [field, value] of Object.entries(patch)) {
    const childPath = `${fieldPath}/${field}`;
    if (value === null) {
      delete result[field];
    } else if (Array.isArray(value) && Array.isArray(result[field]) && mergeKey(field, fieldPath)) {
      result[field] = mergeList(result[field], value, mergeKey(field, fieldPath), childPath);
    } else if (isMap(value) && isMap(result[field])) {
      result[field] = strategicMerge(result[field], value, childPath);
    } else {
      result[field] = structuredClone(value);
    }
  }
  return result;
}

function applyPatches(resources, dir, patches, where) {
  for (const entry of patches) {
    if (entry.target !== undefined) fail(where, "patches with target: are not supported by this renderer");
    const docs = entry.path !== undefined ? readYamlDocuments(path.join(dir, entry.path)) : null;
    const inline = entry.patch !== undefined ? parseAllDocuments(entry.patch).map((d) => d.toJS()) : null;
    for (const patch of docs ?? inline ?? fail(where, "a patch needs path: or patch:")) {
      if (!patch.kind || !patch.metadata?.name) fail(where, "a patch must name its object's kind and metadata.name");
      const index = resources.findIndex((o) => identity(o) === identity(patch) &&
          (patch.apiVersion === undefined || o.apiVersion === patch.apiVersion));
      if (index < 0) fail(where, `patch for ${identity(patch)}: no such object`);
      resources[index] = strategicMerge(resources[index], patch);
    }
  }
}

// --- images ---------------------------------------------------------------

function* podSpecs(o) {
  const spec = o.spec ?? {};
  if (spec.template?.spec) yield spec.template.spec;
  if (spec.jobTemplate?.spec?.template?.spec) yield spec.jobTemplate.spec.template.spec;
  if (o.kind === "Pod") yield spec;
}

function splitImage(image) {
  const at = image.indexOf("@");
  if (at >= 0) return { name: image.slice(0, at), tag: null, digest: image.slice(at + 1) };
  const colon = image.lastIndexOf(":");
  if (colon > image.lastIndexOf("/")) return { name: image.slice(0, colon), tag: image.slice(colon + 1), digest: null };
  return { name: image, tag: null, digest: null };
}

function applyImages(resources, images) {
  for (const o of resources) {
    for (const podSpec of podSpecs(o)) {
      for (const c of [...(podSpec.containers ?? []), ...(podSpec.initContainers ?? [])]) {
        if (typeof c.image !== "string") continue;
        const image = splitImage(c.image);
        const rule = images.find((r) => r.name === image.name);
        if (!rule) continue;
        let result = rule.newName ?? image.name;
        if (rule.digest) result += `@${rule.digest}`;
        else if (rule.newTag !== undefined) result += `:${rule.newTag}`;
        else if (image.digest) result += `@${image.digest}`;
        else if (image.tag) result += `:${image.tag}`;
        c.image = result;
      }
    }
  }
}

// --- the kustomization ----------------------------------------------------

export function render(dir) {
  const file = kustomizationFile(dir);
  const [k] = readYamlDocuments(file);
  for (const key of Object.keys(k)) {
    if (!SUPPORTED_KEYS.has(key)) fail(file, `"${key}" is not supported by this renderer (use kubectl kustomize)`);
  }
  const resources = [];
  for (const entry of k.resources ?? []) {
    const target = path.join(dir, entry);
    if (!fs.existsSync(target)) fail(file, `resource ${entry} does not exist`);
    const objects = fs.statSync(target).isDirectory() ? render(target) : readYamlDocuments(target);
    for (const o of objects) {
      if (resources.some((r) => identity(r) === identity(o))) fail(file, `${identity(o)} is defined twice`);
      resources.push(o);
    }
  }
  for (const gen of k.configMapGenerator ?? []) {
    addGenerated(resources, generateConfigMap(dir, gen, k.generatorOptions ?? {}, file), gen.behavior, file);
  }
  applyPatches(resources, dir, k.patches ?? [], file);
  applyImages(resources, k.images ?? []);
  if (k.namespace) {
    for (const o of resources) {
      if (!CLUSTER_SCOPED.has(o.kind)) o.metadata = { ...o.metadata, namespace: k.namespace };
    }
  }
  return resources;
}

function rank(kind) {
  const first = KIND_ORDER.indexOf(kind);
  if (first >= 0) return first;
  const last = KIND_ORDER_LAST.indexOf(kind);
  return last >= 0 ? KIND_ORDER.length + 1 + last : KIND_ORDER.length;
}

export function sorted(resources) {
  return [...resources].sort((a, b) => rank(a.kind) - rank(b.kind) || identity(a).localeCompare(identity(b)));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const dir = args.find((a) => !a.startsWith("--"));
  if (!dir) {
    console.error("usage: node kustomize.mjs DIR [--json]");
    process.exit(2);
  }
  try {
    const objects = sorted(render(dir));
    if (args.includes("--json")) process.stdout.write(JSON.stringify(objects, null, 1) + "\n");
    else process.stdout.write(objects.map((o) => stringify(o, { lineWidth: 0 })).join("---\n"));
  } catch (e) {
    if (!(e instanceof KustomizeError)) throw e;
    console.error(`kustomize: ${e.message}`);
    process.exit(1);
  }
}
