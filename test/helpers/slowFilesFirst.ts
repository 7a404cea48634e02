import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Files that take minutes while neither their size nor the results cache says so: vitest starts
 * larger files first on a fresh clone and longer ones first after a run, but the install tests are
 * skipped in CI's first pass (IPAM_SKIP_INSTALL_TESTS), so the cache records them as instant, and the
 * bench smoke test is a small file. Started last, one of them would keep a worker busy alone at the end.
 */
const SLOW_FILES = ["test/install/packageInstall.test.ts", "test/install/repositoryClone.test.ts", "test/bench/bench.test.ts"];

const rank = (spec: TestSpecification) => {
  const index = SLOW_FILES.findIndex((file) => spec.moduleId.endsWith(file));
  return index === -1 ? SLOW_FILES.length : index;
};

/** vitest's order, except that within each project the files above start first. */
export class SlowFilesFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    // The base order keeps each project's files together (projects run in turn): reorder within each run of one project.
    const runs: TestSpecification[][] = [];
    for (const spec of ordered) {
      const last = runs.at(-1);
      if (last !== undefined && last[0]!.project === spec.project) last.push(spec);
      else runs.push([spec]);
    }
    return runs.flatMap((run) => run.sort((a, b) => rank(a) - rank(b)));
  }
}
