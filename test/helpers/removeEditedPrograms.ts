import { afterAll } from "vitest";
import { removeEditedPrograms } from "../../harness/engine/program.js";

// Every test file (vitest.config.ts setupFiles): the programs a file edited (editedProgram) go when it ends.
afterAll(removeEditedPrograms);
