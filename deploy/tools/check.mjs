// Offline checks of the kustomize overlays, for CI (no cluster needed):
//   1. render each overlay with the checked-in renderer (kustomize.mjs) and,
//      where kubectl is on the PATH, with `kubectl kustomize` too: both must
//      give the same objects;
//   2. validate every object against the Kubernetes API schemas
//      (kubernetes-models: types, formats, enums, required fields), and
//      refuse any field the API does not define (a misspelt field is
//      otherwise silently dropped by the API server's older clients);
//   3. write each rendering as JSON for tests/deploy/manifests_test.py.
//
//   node check.mjs --out DIR OVERLAY...
//   env KUBECTL=path|none   the kubectl to compare with (default: kubectl on the PATH, if any)

import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { execFileSync } from "node:child_process";

const require = createRequire(import.meta.url);
try {
  require.resolve("yaml");
  require.resolve("kubernetes-models/package.json");
} catch {
  console.error("check.mjs: deploy/tools has no node_modules: run scripts/setup.sh (it runs npm ci in deploy/tools)");
  process.exit(2);
}
const { parseAllDocuments } = await import("yaml");
const { render, sorted, KustomizeError } = await import("./kustomize.mjs");
const MODELS = path.dirname(require.resolve("kubernetes-models/package.json"));
const APIMACHINERY = path.dirname(require.resolve("@kubernetes-models/apimachinery/package.json"));

// --- schema validation ----------------------------------------------------

// kubernetes-models/<group>/<version>/<Kind>, the core group at v1/<Kind>.
function modelPath(o) {
  const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
  return path.join(MODELS, group, version, o.kind);
}

// The properties of the interface a .d.ts declares, with the declaration file
// of each property's object type (null for strings, numbers, enums, ...).
const interfaces = new Map();
function interfaceOf(dts) {
  if (interfaces.has(dts)) return interfaces.get(dts);
  const text = fs.readFileSync(dts, "utf8");
  const imports = new Map();
  for (const m of text.matchAll(/import \{ (\w+) \} from "([^"]+)";/g)) imports.set(m[1], m[2]);
  const body = text.match(/export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)\n\}/);
  let props = null;
  if (body) {
    props = new Map();
    // Property lines sit at four spaces; an inline map type spans lines.
    for (const m of body[1].matchAll(/^ {4}"([^"]+)"\??: ([\s\S]*?);$(?=\n {4}(?:"|\/\*\*)|(?![\s\S]))/gm)) {
      const type = m[2].replace(/\s+/g, " ");
      const ref = type.match(/^(?:Array<(\w+)>|(\w+)|\{ \[key: string\]: (\w+); \})$/);
      const name = ref && (ref[1] ?? ref[2] ?? ref[3]);
      let file = null;
      if (name && imports.has(name)) {
        const from = imports.get(name);
        file = from.startsWith("@kubernetes-models/apimachinery/")
          ? path.join(APIMACHINERY, from.slice("@kubernetes-models/apimachinery/".length) + ".d.ts")
          : path.join(path.dirname(dts), from + ".d.ts");
      }
      props.set(m[1], { file, map: type.startsWith("{ [key: string]") });
    }
  }
  interfaces.set(dts, props);
  return props;
}

// Every field of `value` must be one its type declares.
function unknownFields(value, dts, where, out) {
  if (value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => unknownFields(v, dts, `${where}[${i}]`, out));
    return;
  }
  const props = interfaceOf(dts);
  if (props === null) return;  // a type alias (quantity, int-or-string, ...): no fields to check
  for (const [field, v] of Object.entries(value)) {
    const prop = props.get(field);
    if (prop === undefined) {
      out.push(`${where}.${field}: unknown field`);
    } else if (prop.file) {
      if (prop.map && v && typeof v === "object") {
        for (const [k, item] of Object.entries(v)) unknownFields(item, prop.file, `${where}.${field}.${k}`, out);
      } else {
        unknownFields(v, prop.file, `${where}.${field}`, out);
      }
    }
  }
}

async function validate(o) {
  const where = `${o.kind}/${o.metadata?.name}`;
  if (typeof o.apiVersion !== "string" || typeof o.kind !== "string") return [`${where}: no apiVersion or kind`];
  const base = modelPath(o);
  if (!fs.existsSync(`${base}.mjs`)) return [`${where}: ${o.apiVersion} ${o.kind} is not a Kubernetes API type`];
  const module = await import(`${base}.mjs`);
  const Model = module[o.kind];
  const errors = [];
  try {
    new Model(o).validate();
  } catch (e) {
    errors.push(`${where}: ${e.message}`);
  }
  unknownFields(o, `${base}.d.ts`, where, errors);
  return errors;
}

// --- comparison with kubectl ----------------------------------------------

function canonical(v) {
  return JSON.stringify(v, (_, x) =>
    x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x);
}

function kubectlPath() {
  if (process.env.KUBECTL === "none") return null;
  if (process.env.KUBECTL) return process.env.KUBECTL;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const file = path.join(dir, "kubectl");
    if (dir && fs.existsSync(file)) return file;
  }
  return null;
}

function compareWithKubectl(kubectl, overlay, ours) {
  const text = execFileSync(kubectl, ["kustomize", overlay], { encoding: "utf8" });
  const theirs = parseAllDocuments(text).map((d) => d.toJS()).filter((o) => o);
  const key = (o) => `${o.apiVersion} ${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
  const mine = new Map(ours.map((o) => [key(o), canonical(o)]));
  const errors = [];
  for (const o of theirs) {
    if (!mine.has(key(o))) errors.push(`${key(o)}: rendered by kubectl only`);
    else if (mine.get(key(o)) !== canonical(o)) errors.push(`${key(o)}: differs from kubectl's rendering`);
    mine.delete(key(o));
  }
  for (const k of mine.keys()) errors.push(`${k}: rendered by kustomize.mjs only`);
  return errors;
}

// --- main -----------------------------------------------------------------

const args = process.argv.slice(2);
const outAt = args.indexOf("--out");
const outDir = outAt >= 0 ? args[outAt + 1] : null;
const overlays = args.filter((_, i) => outAt < 0 || (i !== outAt && i !== outAt + 1));
if (overlays.length === 0) {
  console.error("usage: node check.mjs [--out DIR] OVERLAY...");
  process.exit(2);
}
const kubectl = kubectlPath();
let failed = false;
for (const overlay of overlays) {
  const name = path.basename(overlay);
  let objects;
  try {
    objects = sorted(render(overlay));
  } catch (e) {
    if (!(e instanceof KustomizeError)) throw e;
    console.error(`FAIL ${name}: ${e.message}`);
    failed = true;
    continue;
  }
  const errors = [];
  for (const o of objects) errors.push(...(await validate(o)));
  if (kubectl) errors.push(...compareWithKubectl(kubectl, overlay, objects));
  for (const e of errors) console.error(`FAIL ${name}: ${e}`);
  failed ||= errors.length > 0;
  const kinds = objects.map((o) => o.kind);
  console.log(`${name}: ${objects.length} objects (${[...new Set(kinds)].join(", ")}) ` +
      `${errors.length === 0 ? "valid" : `${errors.length} errors`}` +
      `${kubectl ? `, same as ${kubectl} kustomize` : ", kubectl not found: checked-in renderer only"}`);
  if (outDir) {
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(objects, null, 1) + "\n");
  }
}
process.exit(failed ? 1 : 0);
