// workerd's resident memory, read from /proc: for the body-limit test and benchmark,
// which start their own Miniflare (workerd runs as a descendant of this Node process).
import fs from "node:fs";

function children(pid) {
  const out = [];
  let tasks = [];
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(/\s+/)) if (c) out.push(Number(c));
    } catch {
      // The thread ended while we looked.
    }
  }
  return out;
}

/** Pids of the workerd processes below `root` (this process by default). */
export function workerdPids(root = process.pid) {
  const found = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift();
    for (const c of children(pid)) {
      queue.push(c);
      try {
        if (fs.readFileSync(`/proc/${c}/comm`, "utf8").trim() === "workerd") found.push(c);
      } catch {
        // Gone already.
      }
    }
  }
  return found;
}

/** VmRSS of `pid` in bytes (0 once it is gone). */
export function rssBytes(pid) {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs `work()` while sampling the summed RSS of `pids` every 20 ms; returns its result
 * with the baseline and the peak growth in bytes.
 */
export async function measureGrowth(pids, work) {
  const rss = () => pids.reduce((sum, pid) => sum + rssBytes(pid), 0);
  const baseline = rss();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, rss())), 20);
  try {
    const result = await work();
    peak = Math.max(peak, rss());
    return { result, baseline, growth: peak - baseline };
  } finally {
    clearInterval(timer);
  }
}
