import { readdirSync, readFileSync } from 'node:fs'

/** CPU time of this process's threads at one moment, in microseconds, by thread id (Linux only). */
export type ThreadCpu = ReadonlyMap<number, number>

/** Clock ticks per second of `/proc/<pid>/task/<tid>/stat` (`getconf CLK_TCK`, 100 on Linux). */
const TICK_US = 10_000

/**
 * Reads the user + system CPU time of every thread of this process from `/proc/self/task`; an empty map where
 * there is no `/proc` (then {@link cpuBetween} falls back to `process.cpuUsage`).
 *
 * @example
 * ```ts
 * const before = readThreadCpu()
 * const cpu = cpuBetween(before, readThreadCpu())
 * ```
 */
export function readThreadCpu(): ThreadCpu {
  const threads = new Map<number, number>()
  let tids: string[]
  try {
    tids = readdirSync('/proc/self/task')
  } catch {
    return threads
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      // Fields after the command name (which may hold spaces) start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      threads.set(Number(tid), (Number(fields[11]) + Number(fields[12])) * TICK_US)
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return threads
}

/** CPU used between two readings: the main (event-loop) thread, the busiest other thread, all others. */
export interface CpuSplit {
  readonly mainUs: number
  /** The busiest thread besides the main one: statesource's journal writer thread where there is one. */
  readonly busiestOtherUs: number
  /** Every other thread together (the busiest one, V8's GC and compiler helpers, libuv's pool). */
  readonly otherUs: number
}

/**
 * Splits the CPU used between two {@link readThreadCpu} readings by thread.
 *
 * @example
 * ```ts
 * const { mainUs, busiestOtherUs } = cpuBetween(before, readThreadCpu())
 * ```
 */
export function cpuBetween(before: ThreadCpu, after: ThreadCpu, fallbackTotalUs = 0): CpuSplit {
  if (after.size === 0) return { mainUs: fallbackTotalUs, busiestOtherUs: 0, otherUs: 0 }
  let mainUs = 0
  let otherUs = 0
  let busiestOtherUs = 0
  for (const [tid, us] of after) {
    const used = us - (before.get(tid) ?? 0)
    if (tid === process.pid) mainUs = used
    else {
      otherUs += used
      busiestOtherUs = Math.max(busiestOtherUs, used)
    }
  }
  return { mainUs, busiestOtherUs, otherUs }
}
