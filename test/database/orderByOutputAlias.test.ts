import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

// PostgreSQL resolves a bare name in ORDER BY to an OUTPUT column first, so
// `SELECT ordinal::text AS ordinal ... ORDER BY ordinal` sorts the text ('1000000000' <
// '999999999', '10.60.10.0/24' < '10.60.2.0/24') and reads every row in range instead of one index
// probe. Eight store queries did (fixed in 0df7492, test/children/addressOrder.test.ts shows what it
// broke). This scan keeps a new query from doing it again: within one SELECT (same parenthesis
// depth), an ORDER BY item that is a bare name also given to a text-valued output
// (`x::text AS name`, `host(x) AS name`) is refused; order by the table's column (`a.ordinal`).

const root = join(import.meta.dirname, "..", "..");

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(ext))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The SQL of each tagged template in a TypeScript file (sql`…`, sql.type(…)`…`, sql.unsafe`…`). */
function sqlTemplates(source: string): string[] {
  return [...source.matchAll(/\bsql(?:\.type\([^`]*?\)|\.unsafe)?`([^`]*)`/g)].map((match) => match[1]!);
}

/** A text-valued output and its name, in a level's own text (a call's arguments are blanked: `host( )`). */
const TEXT_ALIAS = /(?:::text|\bhost\s*|\btext\s*)\s+AS\s+"?(\w+)"?/gi;

/** ORDER BY items, in the SELECT they sort, that name a text-valued output alias of that SELECT. */
export function textAliasOrderings(query: string): string[] {
  const found: string[] = [];
  // Split the text into its parenthesis levels: each level's own text, nested levels removed.
  const levels: string[] = [];
  const stack: string[] = [""];
  for (const char of query) {
    if (char === "(") stack.push("");
    else if (char === ")") levels.push(stack.pop() ?? ""), (stack[stack.length - 1] += " ");
    else stack[stack.length - 1] += char;
  }
  levels.push(...stack);
  for (const level of levels) {
    // Each SELECT at this level with the ORDER BY that follows it (UNION branches are their own).
    for (const select of level.split(/\bSELECT\b/i).slice(1)) {
      const aliases = new Set([...select.matchAll(TEXT_ALIAS)].map((m) => m[1]!.toLowerCase()));
      const orderBy = /\bORDER\s+BY\b([\s\S]*?)(?:\bLIMIT\b|\bOFFSET\b|\bFOR\b|;|$)/i.exec(select)?.[1];
      if (orderBy === undefined || aliases.size === 0) continue;
      for (const item of orderBy.split(",")) {
        const name = /^\s*"?(\w+)"?(?:\s+(?:ASC|DESC|NULLS\s+\w+))*\s*$/i.exec(item)?.[1]?.toLowerCase();
        if (name !== undefined && aliases.has(name)) found.push(`ORDER BY ${name} (a text output)`);
      }
    }
  }
  return found;
}

describe("ORDER BY never sorts a text output alias", () => {
  it("the scan finds the mistake it is for, and leaves qualified and nested orderings alone", () => {
    expect(textAliasOrderings("SELECT ordinal::text AS ordinal FROM t WHERE x ORDER BY ordinal DESC LIMIT 1")).toHaveLength(1);
    expect(textAliasOrderings("SELECT first_ordinal::text AS first_ordinal, prefix_length FROM t ORDER BY prefix_length DESC, first_ordinal LIMIT 1")).toHaveLength(1);
    expect(textAliasOrderings("SELECT host(address) AS address FROM t ORDER BY address")).toHaveLength(1);
    expect(textAliasOrderings("SELECT a.ordinal::text AS ordinal FROM t a ORDER BY a.ordinal LIMIT 20")).toEqual([]);
    expect(textAliasOrderings("SELECT x.ordinal::text AS ordinal FROM (SELECT ordinal FROM t ORDER BY ordinal LIMIT 5) x ORDER BY x.ordinal")).toEqual([]);
    expect(textAliasOrderings("SELECT count(*)::text AS n FROM t ORDER BY 1")).toEqual([]);
  });

  it("in no query of the store, its SQL functions or the bench", () => {
    const problems: string[] = [];
    const tsFiles = [...filesUnder(join(root, "provider", "store"), ".ts"), ...filesUnder(join(root, "bench"), ".ts")];
    for (const file of tsFiles) {
      for (const query of sqlTemplates(readFileSync(file, "utf8"))) {
        for (const problem of textAliasOrderings(query)) problems.push(`${relative(root, file)}: ${problem}`);
      }
    }
    for (const file of filesUnder(join(root, "provider", "store", "schema", "migrations"), ".sql")) {
      for (const problem of textAliasOrderings(readFileSync(file, "utf8"))) problems.push(`${relative(root, file)}: ${problem}`);
    }
    expect(tsFiles.length).toBeGreaterThan(50);
    expect(problems).toEqual([]);
  });
});
