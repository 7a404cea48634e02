import { Hono } from "hono";
import { IpamError, InvalidInputError, NotFoundError } from "../../core/errors.js";
import { redact } from "../../store/index.js";
import { accessGate } from "./accessToken.js";
import { registerAllocationRoutes } from "./routes/allocationRoutes.js";
import { registerFullestRoutes } from "./routes/fullestRoutes.js";
import { registerHistoryRoutes } from "./routes/historyRoutes.js";
import { registerMetricsRoute } from "./routes/metricsRoute.js";
import { registerSearchRoutes } from "./routes/searchRoutes.js";
import { registerSubnetRoutes } from "./routes/subnetRoutes.js";
import { registerTreeRoutes } from "./routes/treeRoutes.js";
import { readOnlyMethods, securityHeaders } from "./securityHeaders.js";
import type { ServeData } from "./serveData.js";
import { errorPage } from "./views/errorPage.js";
import { STYLE_SHEET } from "./views/styleSheet.js";

export interface ServeAppOptions {
  /** Required on every request when set (bearer header or the one-time link's cookie). */
  readonly token?: string;
  /** Where unexpected errors are logged (redacted); never the response. */
  readonly log?: (line: string) => void;
}

/**
 * The read-only web view: security headers and the method guard before anything else, then the
 * token gate, then the routes. Errors become pages (or JSON under /api) without internals.
 */
export function serveApp(data: ServeData, options: ServeAppOptions = {}): { app: Hono; signInPath: string | null } {
  const app = new Hono();
  app.use(securityHeaders, readOnlyMethods);
  const gate = options.token === undefined ? null : accessGate(options.token);
  if (gate !== null) app.use(gate.middleware);
  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/static/style.css", (c) => c.body(STYLE_SHEET, 200, { "Content-Type": "text/css; charset=utf-8" }));
  registerTreeRoutes(app, data);
  registerFullestRoutes(app, data);
  registerSubnetRoutes(app, data);
  registerAllocationRoutes(app, data);
  registerHistoryRoutes(app, data);
  registerSearchRoutes(app, data);
  registerMetricsRoute(app, data);
  app.notFound(async (c) =>
    c.req.path.startsWith("/api/") ? c.json({ error: { code: "NOT_FOUND", message: "no such endpoint" } }, 404) : c.html(await errorPage(404, "There is no page at this address."), 404),
  );
  app.onError(async (error, c) => {
    const { status, body } = errorResponse(c.req.path, error, options.log);
    return typeof body === "string" ? c.html(await errorPage(status, body, issuesOf(error)), status) : c.json(body, status);
  });
  return { app, signInPath: gate?.signInPath ?? null };
}

type Status = 400 | 404 | 500 | 503;

function issuesOf(error: unknown): { field: string; reason: string }[] {
  return error instanceof InvalidInputError ? [...error.issues] : [];
}

/**
 * The core's errors say what was wrong and are safe to show; anything else is logged, redacted, and
 * shown as a generic 500. For a page the body is the message; for /api, the JSON error.
 */
function errorResponse(path: string, error: unknown, log: ((line: string) => void) | undefined): { status: Status; body: string | object } {
  const api = path.startsWith("/api/");
  let status: Status = 500;
  let code = "INTERNAL";
  let message = "Something went wrong reading the database; the server log has the details.";
  let issues: { field: string; reason: string }[] = [];
  if (error instanceof IpamError) {
    code = error.code;
    if (error instanceof InvalidInputError) {
      status = 400;
      issues = [...error.issues];
      message = "That request is not valid:";
    } else if (error instanceof NotFoundError) {
      status = 404;
      message = error.message;
    } else if ((error as { retryable?: boolean }).retryable === true) {
      status = 503;
      message = `The database did not answer in time (${error.code}); try again.`;
    }
  }
  if (status === 500 || status === 503) log?.(`ipam serve: ${path}: ${redact(error instanceof Error ? `${(error as { code?: string }).code ?? error.name}: ${error.message}` : String(error)).slice(0, 500)}`);
  return { status, body: api ? { error: { code, message, ...(issues.length > 0 ? { issues } : {}) } } : message };
}
