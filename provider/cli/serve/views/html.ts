import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";

/**
 * Every page is written with hono's `html` tagged template: each interpolated value is escaped
 * (&, <, >, ", ') unless it is itself an `html` result, so user text (owners, descriptions, tags)
 * can only ever be text. `raw` is not used on anything that holds user data.
 */
export { html, raw };
export type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

/** A query string from the non-empty values, for links that keep the current filters. */
export function query(params: Readonly<Record<string, string | number | undefined | null>>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

/** `project/stack/resource` owners (what the Pulumi provider writes) name their stack; others do not. */
export function stackOf(owner: string): string | null {
  const parts = owner.split("/");
  return parts.length >= 3 ? `${parts[0]}/${parts[1]}` : null;
}

export function tagList(tags: Readonly<Record<string, string>>): Html {
  const entries = Object.entries(tags);
  if (entries.length === 0) return html`<span class="muted">-</span>`;
  return html`<ul class="tags">${entries.map(([key, value]) => html`<li><span class="tag-key">${key}</span>=<span class="tag-value">${value}</span></li>`)}</ul>`;
}
