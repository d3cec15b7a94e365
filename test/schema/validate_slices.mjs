// Validates ResourceSlices against the upstream OpenAPI schema of
// resource.k8s.io/v1 (npm kubernetes-models 5.1.0, generated from Kubernetes
// 1.34). Usage: node validate_slices.mjs slices.json   (a JSON array)
// Prints one line per slice; exits 1 if any is invalid.
import { readFileSync } from "node:fs";
import { ResourceSlice } from "kubernetes-models/resource.k8s.io/v1/ResourceSlice";

const file = process.argv[2];
if (!file) {
  console.error("usage: node validate_slices.mjs <slices.json>");
  process.exit(2);
}
const slices = JSON.parse(readFileSync(file, "utf8"));
if (!Array.isArray(slices) || slices.length === 0) {
  console.error(`${file}: expected a non-empty JSON array of ResourceSlices`);
  process.exit(2);
}
let failures = 0;
slices.forEach((obj, i) => {
  const name = obj?.metadata?.name ?? obj?.metadata?.generateName ?? `#${i}`;
  try {
    new ResourceSlice(obj).validate();
    console.log(`ok      ${i} ${name} devices=${obj.spec?.devices?.length ?? 0} ` +
                `counterSets=${obj.spec?.sharedCounters?.length ?? 0}`);
  } catch (e) {
    failures++;
    console.log(`INVALID ${i} ${name}: ${e.message}`);
  }
});
console.log(`${slices.length - failures}/${slices.length} ResourceSlices valid`);
process.exit(failures === 0 ? 0 : 1);
