const ENTITIES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" };

/**
 * Text for XML character data and attribute values: the five markup characters as entities, and
 * characters XML 1.0 forbids (most C0 controls, lone surrogates, U+FFFE/U+FFFF) as U+FFFD, so an
 * owner name can neither inject markup nor make the document unparsable.
 */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd")
    .replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}
