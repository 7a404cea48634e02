import { isIP } from "node:net";
import { InvalidArgumentError } from "commander";

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
  /** Only this machine can connect: no token needed. */
  readonly loopback: boolean;
}

export const DEFAULT_LISTEN: ListenAddress = { host: "127.0.0.1", port: 8080, loopback: true };

/**
 * `--listen HOST:PORT` (an IPv6 host in brackets: `[::1]:8080`; port 0 picks a free one). Only
 * 127.0.0.0/8, ::1 and `localhost` count as loopback: any other name may resolve elsewhere.
 */
export function parseListen(value: string): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (match === null) throw new InvalidArgumentError("must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080");
  const host = (match[1] ?? match[2])!;
  const port = Number(match[3]);
  if (port > 65_535) throw new InvalidArgumentError("port must be at most 65535");
  if (match[1] !== undefined && isIP(host) !== 6) throw new InvalidArgumentError("brackets hold an IPv6 address");
  return { host, port, loopback: isLoopback(host) };
}

function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.split(".")[0] === "127";
  return isIP(host) === 6 && /^(0{0,4}:){2,7}0{0,3}1$|^::1$/.test(host);
}

/** The URL to print: brackets around an IPv6 host. */
export function urlOf(host: string, port: number): string {
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}/`;
}
