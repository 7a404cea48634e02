/**
 * The environment initdb, pg_ctl and postgres run with: what they need to find their locale and
 * time zone, and nothing else. They used to inherit the starting process's whole environment, so a
 * root shell's AWS_SECRET_ACCESS_KEY or PULUMI_ACCESS_TOKEN sat in the postmaster's
 * /proc/PID/environ, readable by its account and by any superuser of a cluster running as that
 * account (issue 22 item 2); PG* variables (PGPORT, PGOPTIONS, PGDATA, ...) could also steer the
 * programs themselves. Messages are in English (LC_MESSAGES=C) so the server log reads the same
 * everywhere.
 */
export function serverEnvironment(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = { PATH: "/usr/local/bin:/usr/bin:/bin" };
  for (const [name, value] of Object.entries(from)) {
    if (value === undefined) continue;
    if (name === "LANG" || name === "LANGUAGE" || name === "TZ" || name.startsWith("LC_")) env[name] = value;
  }
  return { ...env, LC_MESSAGES: "C" };
}
