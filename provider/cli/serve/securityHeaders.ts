import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

/**
 * No script at all (pages work with links and GET forms), styles and images from this origin only,
 * no framing, no referrer (URLs hold addresses and owners).
 */
export const securityHeaders: MiddlewareHandler = secureHeaders({
  contentSecurityPolicy: {
    defaultSrc: ["'none'"],
    scriptSrc: ["'none'"],
    styleSrc: ["'self'"],
    imgSrc: ["'self'"],
    formAction: ["'self'"],
    baseUri: ["'none'"],
    frameAncestors: ["'none'"],
  },
  referrerPolicy: "no-referrer",
  crossOriginResourcePolicy: "same-origin",
  xFrameOptions: "DENY",
  // Plain HTTP by default (loopback); HSTS would pin a host name to HTTPS it may not serve.
  strictTransportSecurity: false,
});

/** Read-only by construction: no route changes anything, and any other method is refused before routing. */
export const readOnlyMethods: MiddlewareHandler = async (c, next) => {
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    c.header("Allow", "GET, HEAD");
    return c.text("405 Method Not Allowed: ipam serve is read-only\n", 405);
  }
  await next();
  c.header("Cache-Control", "no-store");
};
