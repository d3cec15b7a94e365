// Validates Kubernetes objects against the upstream OpenAPI schema (npm
// kubernetes-models 5.1.0, generated from Kubernetes 1.34), strictly:
//
//   1. the package's own validator: types, required fields, enums, formats;
//   2. unknown fields, which that validator lets through: every key of the
//      object is looked up in the model's TypeScript declarations (.d.ts),
//      the same generated definitions, so a misspelled field
//      (mountPropogation) fails instead of being dropped by the API server.
//
// Usage: node validate_objects.mjs objects.json [values.yaml.json schema.json]
//   objects.json: [{"source": "...", "object": {...}}, ...]
// With the values files: also checks the chart's values.yaml against its
// values.schema.json with ajv (draft-07, as helm does) and that the schema
// refuses a misspelled key and a bad enum value.
// Prints one line per object; exits 1 if any check fails.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const nodeModules = join(here, "node_modules");
const modelsDir = join(nodeModules, "kubernetes-models");

// --- Strict field check from the .d.ts declarations. ---

const interfaces = new Map(); // file -> {props: Map(name -> type), any: bool} | null (alias)

function resolveImport(fromFile, spec) {
  let base;
  if (spec.startsWith(".")) base = resolve(dirname(fromFile), spec);
  else base = join(nodeModules, spec);
  base = base.replace(/\.js$/, "");
  return base + ".d.ts";
}

function parseDts(file) {
  if (interfaces.has(file)) return interfaces.get(file);
  const text = readFileSync(file, "utf8").replace(/\/\*\*[\s\S]*?\*\//g, "");
  const imports = new Map();
  for (const m of text.matchAll(/import \{ ([^}]+) \} from "([^"]+)";/g)) {
    for (const name of m[1].split(",").map((s) => s.trim())) {
      imports.set(name, resolveImport(file, m[2]));
    }
  }
  const block = text.match(/export interface I\w+(?: extends TypeMeta)? \{([\s\S]*?)\n\}/);
  let result = null;
  if (block) {
    const props = new Map();
    const re = /"([^"]+)"\??:\s*(\{\s*\[key: string\]:\s*([^;]+);\s*\}|[^;]+);/g;
    for (const m of block[1].matchAll(re)) {
      props.set(m[1], m[3] !== undefined ? { map: m[3].trim() } : { type: m[2].trim() });
    }
    result = { props, imports, any: props.size === 0 };
  }
  interfaces.set(file, result);
  return result;
}

// Checks `value` against `type` (a TypeScript type from a declaration).
function checkType(value, type, ctx, path, problems) {
  if (value === null || value === undefined) return;
  let m;
  if ((m = type.match(/^Array<(.+)>$/))) {
    if (Array.isArray(value)) value.forEach((v, i) => checkType(v, m[1], ctx, `${path}[${i}]`, problems));
    return;
  }
  if ((m = type.match(/^(I\w+)$/)) && ctx.imports.has(m[1])) {
    checkObject(value, parseDts(ctx.imports.get(m[1])), path, problems);
  }
  // Primitives, literal unions and IFoo["kind"]: the package validator checks them.
}

function checkObject(value, decl, path, problems) {
  if (decl === null || decl.any || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const prop = decl.props.get(key);
    if (!prop) {
      problems.push(`${path}.${key}: unknown field`);
      continue;
    }
    if (prop.map) {
      if (v && typeof v === "object") {
        for (const [k, item] of Object.entries(v)) checkType(item, prop.map, decl, `${path}.${key}[${k}]`, problems);
      }
    } else {
      checkType(v, prop.type, decl, `${path}.${key}`, problems);
    }
  }
}

function modelPath(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : [null, apiVersion];
  return group ? join(group, version, kind) : join(version, kind);
}

async function validate(obj) {
  const { apiVersion, kind } = obj ?? {};
  if (typeof apiVersion !== "string" || typeof kind !== "string") return ["no apiVersion/kind"];
  const rel = modelPath(apiVersion, kind);
  const dts = join(modelsDir, rel + ".d.ts");
  if (!existsSync(dts)) return [`no upstream schema for ${apiVersion} ${kind}`];
  const mod = await import(`kubernetes-models/${rel}`);
  const problems = [];
  try {
    new mod[kind](obj).validate();
  } catch (e) {
    problems.push(e.message);
  }
  checkObject(obj, parseDts(dts), "", problems);
  return problems;
}

// --- values.yaml against values.schema.json. ---

function checkValues(valuesFile, schemaFile) {
  const require = createRequire(join(nodeModules, "x.js"));
  const Ajv = require("ajv");
  const ajv = new Ajv({ allErrors: true, strict: false });
  const schema = JSON.parse(readFileSync(schemaFile, "utf8"));
  const validateValues = ajv.compile(schema);
  const values = JSON.parse(readFileSync(valuesFile, "utf8"));
  let failures = 0;
  const expect = (what, data, ok) => {
    const got = validateValues(data);
    const pass = got === ok;
    if (!pass) failures++;
    console.log(`${pass ? "ok     " : "FAILED "} values.schema.json ${ok ? "accepts" : "refuses"} ${what}` +
      (got || ok === got ? "" : `: ${ajv.errorsText(validateValues.errors)}`));
  };
  expect("the default values.yaml", values, true);
  const clone = () => JSON.parse(JSON.stringify(values));
  const typo = clone();
  typo.agent.publishPartitionableDevice = true;
  expect("a misspelled key (agent.publishPartitionableDevice)", typo, false);
  const badEnum = clone();
  badEnum.agent.logFormat = "xml";
  expect("agent.logFormat: xml", badEnum, false);
  const badType = clone();
  badType.metrics.port = "9183";
  expect("metrics.port as a string", badType, false);
  const surge = clone();
  surge.updateStrategy = { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } };
  surge.metrics.enabled = false;
  surge.tolerations = [{ operator: "Exists" }];
  expect("a surge update with tolerations", surge, true);
  return failures;
}

// The strict check must notice a misspelled field anywhere: mutate copies of
// real objects and expect each to be refused (so a parser that silently
// understood nothing could not pass).
async function selfTest(entries) {
  const find = (kind) => entries.find((e) => e.object?.kind === kind)?.object;
  const cases = [
    ["DaemonSet", "a misspelled volumeMount field", (o) => {
      o.spec.template.spec.containers[0].volumeMounts[0].mountPropogation = "HostToContainer";
    }],
    ["DaemonSet", "an unknown env field", (o) => { o.spec.template.spec.containers[0].env[0].valueFromm = {}; }],
    ["DeviceClass", "a misspelled CEL selector field", (o) => { o.spec.selectors[0].cel.expresion = "true"; }],
    ["ValidatingAdmissionPolicy", "an unknown validation field", (o) => { o.spec.validations[0].msg = "x"; }],
    ["ResourceClaimTemplate", "an unknown request field", (o) => { o.spec.spec.devices.requests[0].exactly.deviceClass = "x"; }],
  ];
  let failures = 0;
  for (const [kind, what, mutate] of cases) {
    const original = find(kind);
    if (!original) {
      console.log(`FAILED  self-test: no ${kind} to mutate`);
      failures++;
      continue;
    }
    const copy = JSON.parse(JSON.stringify(original));
    mutate(copy);
    const problems = await validate(copy);
    const ok = problems.some((p) => p.includes("unknown field"));
    if (!ok) failures++;
    console.log(`${ok ? "ok     " : "FAILED "} self-test: ${kind} with ${what} is refused`);
  }
  return failures;
}

// --- main ---

const [objectsFile, valuesFile, schemaFile] = process.argv.slice(2);
if (!objectsFile) {
  console.error("usage: node validate_objects.mjs objects.json [values.json values.schema.json]");
  process.exit(2);
}
const entries = JSON.parse(readFileSync(objectsFile, "utf8"));
if (!Array.isArray(entries) || entries.length === 0) {
  console.error(`${objectsFile}: expected a non-empty array of {source, object}`);
  process.exit(2);
}
let failures = await selfTest(entries);
for (const { source, object } of entries) {
  const problems = await validate(object);
  const name = `${object?.kind}/${object?.metadata?.name}`;
  if (problems.length === 0) {
    console.log(`ok      ${source}: ${name}`);
  } else {
    failures++;
    console.log(`INVALID ${source}: ${name}:\n  ${problems.join("\n  ")}`);
  }
}
console.log(`${entries.length - failures}/${entries.length} objects valid against kubernetes-models 5.1.0`);
if (valuesFile && schemaFile) failures += checkValues(valuesFile, schemaFile);
process.exit(failures === 0 ? 0 : 1);
