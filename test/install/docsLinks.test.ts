import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/** README is the front door (short, in a fixed order); every page under docs/ is reachable from it; no relative link is dead. */
const root = resolve(import.meta.dirname, "..", "..");
const pages = ["README.md", ...readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];

/** Markdown without code: a `[x](y)` inside a code block or span is not a link. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, "").replace(/`[^`\n]*`/g, "");
}

/** Relative link targets of a page (images included); web and mail links are not checked here. */
function relativeLinks(markdown: string): string[] {
  return [...prose(markdown).matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => match[1]!).filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const slug = heading!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

describe("README and docs/", () => {
  it("README stays under 15,000 characters, with its sections in the front-door order", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    expect(readme.length).toBeLessThanOrEqual(15_000);
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map((match) => match[1]);
    expect(headings).toEqual(["Two commands", "Install", "Pulumi quickstart", "CLI tour", "More"]);
    expect(readme.indexOf("![")).toBeLessThan(readme.indexOf("## Two commands")); // the demo's picture, up front
  });

  it("README shows the map the demo draws, committed as an SVG", () => {
    const svg = readFileSync(join(root, "docs", "demo-map.svg"), "utf8");
    expect(svg).toMatch(/^<svg [\s\S]*10\.42\.0\.0\/24[\s\S]*stack-8[\s\S]*<\/svg>\n$/);
    expect(relativeLinks(readFileSync(join(root, "README.md"), "utf8"))).toContain("docs/demo-map.svg");
  });

  it("links every page under docs/ from README", () => {
    const linked = new Set(relativeLinks(readFileSync(join(root, "README.md"), "utf8")).map((target) => target.split("#")[0]));
    expect(pages.filter((page) => page !== "README.md" && !linked.has(page))).toEqual([]);
  });

  it.each(pages)("%s: every relative link resolves (file, and heading when it names one)", (page) => {
    const dead: string[] = [];
    const text = readFileSync(join(root, page), "utf8");
    for (const target of relativeLinks(text)) {
      const [path, anchor] = target.split("#") as [string, string | undefined];
      const file = path === "" ? join(root, page) : resolve(dirname(join(root, page)), decodeURIComponent(path));
      if (!existsSync(file)) dead.push(`${target} (no ${relative(root, file)})`);
      else if (anchor !== undefined && anchor !== "" && file.endsWith(".md") && !anchors(readFileSync(file, "utf8")).has(anchor)) dead.push(`${target} (no heading #${anchor})`);
    }
    expect(dead).toEqual([]);
  });

  it("the link checker sees a dead link and a missing heading (negative control)", () => {
    expect(relativeLinks("see [a](nowhere.md) and `[b](code.md)` and ![c](pic.svg) and [d](https://x.org)")).toEqual(["nowhere.md", "pic.svg"]);
    expect(anchors("# Child subnets (carving from a parent)\n## Two commands\n## Two commands\n")).toEqual(new Set(["child-subnets-carving-from-a-parent", "two-commands", "two-commands-1"]));
  });
});
