import {
  type CartCommand,
  WARM_UP_COMMANDS,
  type WorkloadSize,
  commandAt,
  warmUpCommandAt,
} from './cart-workload.ts'

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
  /** Events of the timed run found in the store afterwards (counted with a query, not by the driver). */
  readonly storedEvents: number
}

/** Handles one command; resolves with the number of events it recorded. */
export type CommandRunner = (cartId: string, command: CartCommand) => Promise<number>

/**
 * Runs the warm-up commands one by one, then the timed workload with `concurrency` workers pulling from
 * one shared queue. Both sides of the comparison go through this same driver. `beforeTimedRun` is called
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
  for (let i = 0; i < WARM_UP_COMMANDS; i++) {
    const { cartId, command } = warmUpCommandAt(i)
    await run(cartId, command)
  }
  beforeTimedRun?.()
  let next = 0
  let ok = 0
  let errors = 0
  let events = 0
  const errorKinds = new Set<string>()
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < size.commands) {
        const { cartId, command } = commandAt(next++, size)
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
  const seconds = (performance.now() - started) / 1000
  const cpu = process.cpuUsage(cpuBefore)
  return {
    commands: size.commands,
    streams: size.streams,
    concurrency,
    ok,
    errors,
    errorKinds: [...errorKinds],
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    commandsPerSec: ok / seconds,
    eventsPerSec: events / seconds,
  }
}
