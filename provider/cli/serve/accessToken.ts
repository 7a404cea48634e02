import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { getCookie, setCookie } from "hono/cookie";

export const TOKEN_VARIABLE = "IPAM_SERVE_TOKEN";
export const SESSION_COOKIE = "ipam_session";
/** Long enough that guessing is hopeless even without rate limits. */
export const MIN_TOKEN_LENGTH = 16;

/** Hashing first gives both sides one length, so the comparison takes the same time whatever was sent. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export interface AccessGate {
  readonly middleware: MiddlewareHandler;
  /** Path of the one-time sign-in link (valid once): opens a browser session without typing the token. */
  readonly signInPath: string;
}

/**
 * Every request must carry the token as `Authorization: Bearer TOKEN`, or the session cookie that the
 * one-time link sets. The cookie holds a random session secret, never the token, and the link's code
 * is spent on first use, so a link seen later (history, a proxy log) opens nothing.
 */
export function accessGate(token: string): AccessGate {
  const session = randomBytes(32).toString("base64url");
  let signInCode: string | null = randomBytes(24).toString("base64url");
  const signInPath = `/sign-in/${signInCode}`;
  const middleware: MiddlewareHandler = async (c, next) => {
    const path = new URL(c.req.url).pathname;
    if (signInCode !== null && path.startsWith("/sign-in/") && sameSecret(path.slice("/sign-in/".length), signInCode)) {
      signInCode = null;
      setCookie(c, SESSION_COOKIE, session, { httpOnly: true, sameSite: "Strict", path: "/" });
      return c.redirect("/", 303);
    }
    const header = c.req.header("authorization");
    const bearer = header !== undefined && /^Bearer /i.test(header) ? header.slice(7).trim() : undefined;
    const cookie = getCookie(c, SESSION_COOKIE);
    if ((bearer !== undefined && sameSecret(bearer, token)) || (cookie !== undefined && sameSecret(cookie, session))) return next();
    c.header("WWW-Authenticate", 'Bearer realm="ipam"');
    return c.text("401 Unauthorized: send the token as `Authorization: Bearer TOKEN`, or open the one-time sign-in link `ipam serve` printed.\n", 401);
  };
  return { middleware, signInPath };
}
