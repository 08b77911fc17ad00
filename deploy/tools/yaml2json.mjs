// Prints a YAML file (one document) as JSON: for tests without a YAML parser.
//   node yaml2json.mjs FILE
import fs from "node:fs";
import { parse } from "yaml";

if (process.argv.length !== 3) {
  console.error("usage: node yaml2json.mjs FILE");
  process.exit(2);
}
process.stdout.write(JSON.stringify(parse(fs.readFileSync(process.argv[2], "utf8"))) + "\n");
