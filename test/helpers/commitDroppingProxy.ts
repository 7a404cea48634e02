import { createServer, connect, type Server, type Socket } from "node:net";

/**
 * A TCP proxy on 127.0.0.1 between the IPAM and PostgreSQL that can lose the server's answer to a
 * COMMIT: armed with `dropNextCommitReply()`, the next connection that sends the COMMIT of a
 * transaction that wrote (INSERT, UPDATE, DELETE or allocate_next since its last COMMIT) has it
 * delivered (the server commits), and once the server answers it, that answer is thrown away and the
 * connection is cut, as a network failure at that instant would. The protocol is read just enough
 * to see a COMMIT statement (extended protocol Parse, or simple Query).
 */
export interface CommitDroppingProxy {
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's. */
  through(url: string): string;
  dropNextCommitReply(): void;
  /** Cut the connection that next sends a statement matching `pattern`, before it reaches the server. */
  cutNextMatching(pattern: RegExp): void;
  /** How many connections were cut that way. */
  cut(): number;
  /**
   * The connection that next sends a statement matching `pattern` stops answering: that statement
   * and everything after it, both ways, is swallowed, and the sockets stay open (a half-open
   * connection, as after a silent network partition).
   */
  silenceNextMatching(pattern: RegExp): void;
  /** How many COMMIT answers were dropped so far. */
  dropped(): number;
  close(): Promise<void>;
}

const COMMIT = Buffer.from("COMMIT\0");
const WRITES = /\b(INSERT|UPDATE|DELETE)\b|allocate_next/i;

export async function startCommitDroppingProxy(upstreamPort: number, upstreamHost = "127.0.0.1"): Promise<CommitDroppingProxy> {
  let armed = false;
  let droppedCount = 0;
  let cutPattern: RegExp | undefined;
  let cutCount = 0;
  let silencePattern: RegExp | undefined;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(upstreamPort, upstreamHost);
    sockets.add(client).add(upstream);
    let cutting = false;
    let wrote = false;
    let silent = false;
    client.on("data", (chunk: Buffer) => {
      if (silencePattern !== undefined && silencePattern.test(chunk.toString("latin1"))) {
        silencePattern = undefined;
        silent = true;
      }
      if (silent) return;
      if (cutPattern !== undefined && cutPattern.test(chunk.toString("latin1"))) {
        cutPattern = undefined;
        cutCount += 1;
        client.destroy();
        upstream.destroy();
        return;
      }
      if (WRITES.test(chunk.toString("latin1"))) wrote = true;
      if (chunk.includes(COMMIT)) {
        if (armed && wrote && !cutting) {
          armed = false;
          cutting = true;
        }
        wrote = false;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (silent) return;
      // A pipelining client (the next-free batcher) sends COMMIT with the statements before it:
      // their answers come first and pass; the one that carries COMMIT's own answer is lost.
      if (!cutting || !chunk.includes(COMMIT)) {
        client.write(chunk);
        return;
      }
      // The server has answered the COMMIT: the change is durable. Its answer never arrives.
      droppedCount += 1;
      client.destroy();
      upstream.destroy();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", end).on("error", end);
    upstream.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    port,
    through: (url) => {
      const u = new URL(url);
      u.hostname = "127.0.0.1";
      u.port = String(port);
      return u.toString();
    },
    dropNextCommitReply: () => {
      armed = true;
    },
    dropped: () => droppedCount,
    cutNextMatching: (pattern) => {
      cutPattern = pattern;
    },
    cut: () => cutCount,
    silenceNextMatching: (pattern) => {
      silencePattern = pattern;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
