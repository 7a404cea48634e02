import { redact } from "./redact.js";

const MAX_DEPTH = 4;
const MAX_MESSAGE_LENGTH = 500;

/**
 * What an IpamError keeps of the failure beneath it. Driver errors carry SQL text, bound values and
 * row contents, and Node's URL errors keep the whole connection URL as `input`; util.inspect and
 * structured loggers print a cause even when it is not enumerable. So a cause is rebuilt from its
 * class name, its redacted message, its code (SQLSTATE or errno name), the constraint it names and
 * its stack frames, through at most four levels: enough to classify and debug it, nothing more.
 */
export class UnderlyingError extends Error {
  readonly code: string | undefined;
  readonly constraint: string | undefined;

  constructor(name: string, message: string, details: { code?: string; constraint?: string; frames?: string; cause?: Error }) {
    super(message);
    this.name = name;
    this.code = details.code;
    this.constraint = details.constraint;
    this.stack = details.frames ? `${name}: ${message}\n${details.frames}` : `${name}: ${message}`;
    if (details.cause !== undefined) Object.defineProperty(this, "cause", { value: details.cause, enumerable: false, writable: false });
  }
}

const DATA_EXCEPTION_MESSAGE = "a data exception (its message, which quotes the value, is withheld)";

/**
 * SQLSTATE class 22 (data exception): PostgreSQL's message quotes the bound value it could not
 * take (`date/time field value out of range: "0000-01-01"`), which may be anything a caller sent.
 */
export function isDataException(code: string | undefined): boolean {
  return code !== undefined && /^22[0-9A-Z]{3}$/.test(code);
}

/** The safe form of `cause` (undefined for none). Never throws, whatever `cause` is. */
export function underlyingError(cause: unknown, depth = 0): Error | undefined {
  if (cause === undefined || cause === null || depth >= MAX_DEPTH) return undefined;
  if (cause instanceof UnderlyingError) return cause;
  try {
    if (typeof cause !== "object" && typeof cause !== "function") {
      return new UnderlyingError("Error", redact(String(cause)).slice(0, MAX_MESSAGE_LENGTH), {});
    }
    const source = cause as { name?: unknown; message?: unknown; code?: unknown; constraint?: unknown; stack?: unknown; cause?: unknown };
    const text = (value: unknown) => (typeof value === "string" ? value : undefined);
    const frames = text(source.stack)
      ?.split("\n")
      .filter((line) => /^\s+at /.test(line))
      .join("\n");
    const nested = underlyingError(source.cause, depth + 1);
    const message = isDataException(text(source.code)) ? DATA_EXCEPTION_MESSAGE : redact(text(source.message) ?? "").slice(0, MAX_MESSAGE_LENGTH);
    return new UnderlyingError(text(source.name) ?? "Error", message, {
      ...(text(source.code) === undefined ? {} : { code: text(source.code) }),
      ...(text(source.constraint) === undefined ? {} : { constraint: text(source.constraint) }),
      ...(frames ? { frames } : {}),
      ...(nested === undefined ? {} : { cause: nested }),
    });
  } catch {
    return new UnderlyingError("Error", "an underlying error that could not be described", {});
  }
}
