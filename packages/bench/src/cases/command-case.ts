import { existsSync, renameSync } from 'node:fs'
import path from 'node:path'
import type { WorkloadSize } from '../cart-workload.ts'
import {
  type CommandRunResult,
  driveCommands,
  driveOpenLoop,
  type OpenLoopResult,
} from '../command-driver.ts'
import { peerNamed } from '../peers.ts'
import type { SqliteSynchronous } from '../sqlite-settings.ts'

/** Options of {@link runCommandCase}: one peer, one workload, closed loop or (with `perSec`) open loop. */
export interface CommandCaseOptions {
  readonly peer: string
  readonly workload: WorkloadSize
  readonly concurrency: number
  readonly synchronous: SqliteSynchronous
  /** Open loop at this many commands per second instead of a closed loop. */
  readonly perSec?: number
  /** Commands per throughput window (closed loop). */
  readonly windowCommands?: number
  /** Stop handing out commands after this many seconds of the timed run (closed loop). */
  readonly maxSeconds?: number
  /** Move the peer's database file here after the run (the scale run's journal is read again later). */
  readonly keepFileAs?: string
}

/** A closed-loop run with the peer's own counters and the events found in its store. */
export interface CommandCaseResult extends CommandRunResult {
  readonly peer: string
  readonly durability: string
  readonly storedEvents: number
  readonly counters: Record<string, number>
}

/**
 * Runs one peer on one workload in this process: closed loop (`concurrency` in flight) or open loop.
 *
 * @example
 * ```ts
 * const r = await runCommandCase({ peer: 'statesource', workload: { commands: 2_000, streams: 100 }, concurrency: 100, synchronous: 'FULL' }, '/tmp/x')
 * ```
 */
export async function runCommandCase(
  options: CommandCaseOptions,
  dir: string,
): Promise<CommandCaseResult | (OpenLoopResult & { peer: string })> {
  const peer = peerNamed(options.peer)
  const session = await peer.open({ dir, synchronous: options.synchronous, concurrency: options.concurrency })
  try {
    if (options.perSec !== undefined) {
      return { peer: peer.name, ...(await driveOpenLoop(options.workload, options.perSec, session.send)) }
    }
    const run = await driveCommands(options.workload, options.concurrency, session.send, {
      beforeTimedRun: () => session.beforeTimedRun?.(),
      ...(options.windowCommands === undefined ? {} : { windowCommands: options.windowCommands }),
      ...(options.maxSeconds === undefined ? {} : { maxSeconds: options.maxSeconds }),
    })
    return {
      ...run,
      peer: peer.name,
      durability: peer.durability(options.synchronous),
      storedEvents: await session.storedEvents(),
      counters: session.counters?.() ?? {},
    }
  } finally {
    await session.close()
    if (options.keepFileAs) {
      // With its write-ahead log, if a connection left one behind: the newest events may still be only there.
      const file = path.join(dir, `${peer.name}.db`)
      renameSync(file, options.keepFileAs)
      for (const suffix of ['-wal', '-shm']) {
        if (existsSync(file + suffix)) renameSync(file + suffix, options.keepFileAs + suffix)
      }
    }
  }
}
