import { type CartCommand, WARM_UP, type WorkloadSize, commandAt, warmUpCommandAt } from './cart-workload.ts'

/** What one side of a command benchmark reports. */
export interface CommandRunResult {
  readonly commands: number
  readonly streams: number
  readonly concurrency: number
  readonly ok: number
  readonly errors: number
  /** Up to five distinct error messages, for the report. */
  readonly errorKinds: readonly string[]
  readonly seconds: number
  /** CPU time (user + system, all threads) the process used during the timed run. */
  readonly cpuSeconds: number
  readonly commandsPerSec: number
  readonly eventsPerSec: number
  /** Warm-up commands that failed (reported, not timed). */
  readonly warmUpErrors: number
  /** Events of the timed run found in the store afterwards (counted with a query, not by the driver). */
  readonly storedEvents: number
}

/** Handles one command; resolves with the number of events it recorded. */
export type CommandRunner = (cartId: string, command: CartCommand) => Promise<number>

/**
 * Runs the warm-up commands, then the timed workload, each with `concurrency` workers pulling from one
 * shared queue. Both sides of the comparison go through this same driver. `beforeTimedRun` is called
 * between the two.
 *
 * @example
 * ```ts
 * const run = await driveCommands({ commands: 20_000, streams: 1_000 }, 100, async () => 1)
 * ```
 */
export async function driveCommands(
  size: WorkloadSize,
  concurrency: number,
  run: CommandRunner,
  beforeTimedRun?: () => void,
): Promise<Omit<CommandRunResult, 'storedEvents'>> {
  const warmUp = await drivePool(WARM_UP.commands, concurrency, warmUpCommandAt, run)
  beforeTimedRun?.()
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  const { ok, errors, events, errorKinds } = await drivePool(
    size.commands,
    concurrency,
    (i) => commandAt(i, size),
    run,
  )
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  return {
    commands: size.commands,
    streams: size.streams,
    concurrency,
    ok,
    errors,
    errorKinds,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    commandsPerSec: ok / seconds,
    eventsPerSec: events / seconds,
    warmUpErrors: warmUp.errors,
  }
}

/** Commands `0 .. commands - 1`, handled by `concurrency` workers that each wait for a reply before taking the next. */
async function drivePool(
  commands: number,
  concurrency: number,
  commandOf: (i: number) => { cartId: string; command: CartCommand },
  run: CommandRunner,
): Promise<{ ok: number; errors: number; events: number; errorKinds: string[] }> {
  let next = 0
  let ok = 0
  let errors = 0
  let events = 0
  const errorKinds = new Set<string>()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < commands) {
        const { cartId, command } = commandOf(next++)
        try {
          // Not `events += await ...`: that reads `events` before awaiting and loses concurrent updates.
          const recorded = await run(cartId, command)
          events += recorded
          ok++
        } catch (error) {
          errors++
          if (errorKinds.size < 5) errorKinds.add(String((error as Error)?.message ?? error).slice(0, 160))
        }
      }
    }),
  )
  return { ok, errors, events, errorKinds: [...errorKinds] }
}
