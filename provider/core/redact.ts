/**
 * Cut anything that looks like a URL (it may carry credentials) or a key=value password out of
 * text that came from a driver, before it goes into an error message.
 */
export function redact(text: string): string {
  return text
    .replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]*/gi, "<redacted-url>")
    .replace(/password\s*[=:]\s*\S+/gi, "password=<redacted>");
}
