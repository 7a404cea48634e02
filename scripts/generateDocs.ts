import { readFileSync, writeFileSync } from "node:fs";
import { RESOURCE_DOC, withResourceTables } from "./resourceDocs.js";

// `npm run docs`, from the repository root: rewrites the generated part of the resource doc.
const before = readFileSync(RESOURCE_DOC, "utf8");
const after = withResourceTables(before);
if (after !== before) writeFileSync(RESOURCE_DOC, after);
console.log(after === before ? `${RESOURCE_DOC} is up to date` : `${RESOURCE_DOC} rewritten from the resource contracts`);
