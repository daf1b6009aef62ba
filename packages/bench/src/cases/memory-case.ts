import path from 'node:path'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { CqrsPattern, silentLogger } from '@statesource/core'
import { openBenchStorage } from '../bench-storage.ts'
import { probedCart } from '../cart-aggregate.ts'
import { commandAt } from '../cart-workload.ts'
import type { SqliteSynchronous } from '../sqlite-settings.ts'

/** Options of {@link runMemory}. */
export interface MemoryOptions {
  readonly dir: string
  readonly synchronous: SqliteSynchronous
  /** Live aggregates. Default 100,000. */
  readonly aggregates: number
  readonly concurrency: number
}

/** What {@link runMemory} measured. */
export interface MemoryResult {
  readonly aggregates: number
  /** Heap with every aggregate live, minus heap with all of them passivated, per aggregate (after full GCs). */
  readonly heapPerLiveAggregateBytes: number
  /** Total heap used with every aggregate live. */
  readonly heapUsedMb: number
  /** Cross-check: heap with every aggregate live minus heap before the first command, per aggregate. */
  readonly heapGrowthPerAggregateBytes: number
  /** Resident set growth from before the first command, per aggregate (the heap does not give memory back). */
  readonly rssPerLiveAggregateBytes: number
}

function fullGc(): void {
  let gc = (globalThis as { gc?: () => void }).gc
  if (!gc) {
    // Without `node --expose-gc` (quick mode runs this case in the runner's process): expose it now.
    v8.setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc') as () => void
  }
  for (let i = 0; i < 4; i++) gc()
}

/**
 * Heap per live aggregate: `aggregates` carts each receive one `AddProductItem` (one event) and stay live;
 * the heap after full GCs, minus the heap once all of them are passivated, divided by their number. What
 * passivation keeps (the journal's caches, counters) is not counted; the live actor, its snapshot, the
 * gateway's entity record and its bookkeeping are.
 *
 * @example
 * ```ts
 * // node --expose-gc
 * const m = await runMemory({ dir: '/tmp/x', synchronous: 'FULL', aggregates: 5_000, concurrency: 100 })
 * ```
 */
export async function runMemory(options: MemoryOptions): Promise<MemoryResult> {
  const storage = await openBenchStorage(path.join(options.dir, 'memory.db'), options.synchronous)
  const handles = await CqrsPattern.builder({ journal: storage.sqlite.journal })
    .withAggregate(probedCart)
    .repositoryTimeout(300_000)
    .passivation({ maxLive: options.aggregates * 2 })
    .logger(silentLogger)
    .build()
    .materialize()
  try {
    const carts = handles.repository(probedCart)
    const size = { commands: options.aggregates * 2, streams: options.aggregates }
    const ids: string[] = []
    let next = 0
    fullGc()
    const before = process.memoryUsage()
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (next < options.aggregates) {
          const { cartId, command } = commandAt(next++, size)
          ids.push(cartId)
          await carts.send(cartId, command)
        }
      }),
    )
    fullGc()
    const live = process.memoryUsage()
    if (handles.stats.live !== options.aggregates) {
      throw new Error(`${handles.stats.live} aggregates are live, expected ${options.aggregates}.`)
    }
    for (const id of ids) handles.runtime.passivateNow(probedCart.persistenceId(id))
    if (handles.stats.live !== 0)
      throw new Error(`${handles.stats.live} aggregates are still live after passivation.`)
    fullGc()
    const passivated = process.memoryUsage()
    return {
      aggregates: options.aggregates,
      heapPerLiveAggregateBytes: (live.heapUsed - passivated.heapUsed) / options.aggregates,
      heapUsedMb: live.heapUsed / 1_048_576,
      heapGrowthPerAggregateBytes: (live.heapUsed - before.heapUsed) / options.aggregates,
      rssPerLiveAggregateBytes: (live.rss - before.rss) / options.aggregates,
    }
  } finally {
    await handles.stop()
    await storage.close()
  }
}
