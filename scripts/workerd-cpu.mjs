// CPU used so far by the local workerd processes, read from /proc: the Workers CPU limit
// counts CPU, and local workerd reports no per-request figure. Shared by the benchmarks.
import fs from "node:fs";

/** CPU seconds (user + system) of every workerd process on this machine. */
export function workerdCpu() {
  let ticks = 0;
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("workerd")) continue;
      const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime + stime, in USER_HZ (100)
    } catch {
      // The process ended while we looked.
    }
  }
  return ticks / 100;
}
