import { readFile } from "node:fs/promises";

/** Linux reports utime/stime in USER_HZ, which the kernel fixes at 100 for user space on every architecture. */
const USER_HZ = 100;

/**
 * Peak resident set size of a running process in MiB (VmHWM from /proc/<pid>/status), NaN where
 * there is no /proc (not Linux) so the report shows n/a instead of a made-up figure.
 */
export async function peakRssMiB(pid: number): Promise<number> {
  const status = await readProc(`/proc/${pid}/status`);
  const kiB = status === undefined ? undefined : /^VmHWM:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  return kiB === undefined ? Number.NaN : Number(kiB) / 1024;
}

/** CPU time (user + system) a running process has used so far, in ms; NaN without /proc. */
export async function cpuMs(pid: number): Promise<number> {
  const stat = await readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return Number.NaN;
  // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state field (field 3).
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

async function readProc(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}
