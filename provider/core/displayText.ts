/**
 * Characters that act on a terminal or on how text reads instead of showing: C0 controls and DEL
 * (ESC starts escape sequences that move the cursor, clear the screen, retitle the window or hide
 * text), C1 controls (U+009B is a one-character CSI on many terminals), the line and paragraph
 * separators, and the bidirectional marks, embeddings, overrides and isolates (U+061C, U+200E/F,
 * U+202A-202E, U+2066-2069), which reorder what the operator reads ("Trojan Source").
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same minus C0, which JSON.stringify escapes inside strings and uses (newline) between them. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/**
 * Text that came from users (owners, descriptions, tags, keys, namespaces) made safe to print:
 * each character above becomes a visible `\uXXXX`, so a stored value can neither drive the
 * terminal nor reorder a line. Every error message goes through it (IpamError), and so does
 * every stored value the CLI prints. Newlines are escaped too: one value stays on one line.
 */
export function displayText(text: string): string {
  return text.replace(UNSAFE, escape);
}

/**
 * JSON for a terminal: JSON.stringify escapes only U+0000-001F, so the rest of the characters
 * above are written as `\uXXXX` escapes too. Still valid JSON that parses to the same values
 * (these characters can only occur inside strings).
 */
export function displayJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(UNSAFE_IN_JSON, escape);
}
