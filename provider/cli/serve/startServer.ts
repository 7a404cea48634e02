import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import type { Hono } from "hono";
import { urlOf, type ListenAddress } from "./listenAddress.js";

/** Slow or idle clients cannot hold a connection open for long (headers within 10 s, a request within 30 s). */
const TIMEOUTS = { headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 };

/**
 * Listen and resolve once the socket is bound, with the URL (its real port when 0 was asked).
 * @throws the listen error (address in use, not permitted)
 */
export function startServer(app: Hono, listen: ListenAddress): Promise<{ url: string; close(): Promise<void> }> {
  return new Promise((resolve, reject) => {
    let server: ServerType;
    const onError = (error: Error) => reject(error);
    server = serve({ fetch: app.fetch, hostname: listen.host, port: listen.port, serverOptions: TIMEOUTS }, (info: AddressInfo) => {
      server.off("error", onError);
      resolve({
        url: urlOf(listen.host, info.port),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          }),
      });
    });
    server.once("error", onError);
  });
}
