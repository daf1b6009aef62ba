import { CqrsPattern, silentLogger } from '@statesource/core'
import { openBenchStorage } from '../bench-storage.ts'
import { cart } from '../cart-aggregate.ts'
import type { WorkloadSize } from '../cart-workload.ts'
import { type CommandRunResult, driveCommands } from '../command-driver.ts'
import type { SqliteSynchronous } from '../sqlite-settings.ts'

/** Options of {@link runStatesourceCommands}. */
export interface StatesourceRunOptions extends WorkloadSize {
  /** The SQLite file (created). */
  readonly file: string
  readonly concurrency: number
  readonly synchronous: SqliteSynchronous
}

/** What the statesource side reports besides the command figures: how the journal batched the writes. */
export interface StatesourceRunResult extends CommandRunResult {
  readonly transactions: number
  readonly largestBatch: number
}

/**
 * Runs the cart workload through statesource end to end: `repository.send` → gateway → live XState
 * aggregate → `decide` → group-commit SQLite journal → reply once the transaction committed.
 *
 * @example
 * ```ts
 * const result = await runStatesourceCommands({ file: '/tmp/s.db', commands: 2_000, streams: 100, concurrency: 100, synchronous: 'FULL' })
 * ```
 */
export async function runStatesourceCommands(options: StatesourceRunOptions): Promise<StatesourceRunResult> {
  const storage = await openBenchStorage(options.file, options.synchronous)
  const handles = await CqrsPattern.builder({ journal: storage.sqlite.journal })
    .withAggregate(cart)
    .repositoryTimeout(120_000)
    .logger(silentLogger)
    .build()
    .materialize()
  try {
    const carts = handles.repository(cart)
    let before = storage.sqlite.journal.stats
    const run = await driveCommands(
      options,
      options.concurrency,
      async (cartId, command) => (await carts.send(cartId, command)).events.length,
      () => {
        before = storage.sqlite.journal.stats
      },
    )
    const after = storage.sqlite.journal.stats
    return {
      ...run,
      storedEvents: storage.countEvents(),
      transactions: after.transactions - before.transactions,
      largestBatch: after.largestBatch,
    }
  } finally {
    await handles.stop()
    await storage.close()
  }
}
