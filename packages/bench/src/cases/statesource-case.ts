import path from 'node:path'
import { CqrsPattern, createInMemoryJournal, isStatesourceError, silentLogger } from '@statesource/core'
import { openBenchStorage } from '../bench-storage.ts'
import { cart } from '../cart-aggregate.ts'
import { WorkloadConflict } from '../command-driver.ts'
import type { PeerDefinition, PeerSession } from '../peer-definition.ts'

function sender(repository: {
  send: (...args: any[]) => Promise<{ events: readonly unknown[]; version: number }>
}): PeerSession['send'] {
  return async (cartId, command, expectedVersion) => {
    try {
      const reply = await repository.send(
        cartId,
        command,
        expectedVersion === undefined ? undefined : { expectedVersion },
      )
      return { events: reply.events.length, version: reply.version }
    } catch (error) {
      if (isStatesourceError(error, 'CONCURRENCY_CONFLICT'))
        throw new WorkloadConflict((error as unknown as { actual: number }).actual)
      throw error
    }
  }
}

/**
 * statesource end to end on SQLite: `repository.send` → gateway → live XState aggregate → `decide` →
 * group-commit journal (writer thread, WAL) → reply once the transaction committed (and, with `FULL`, synced).
 */
export const statesourcePeer: PeerDefinition = {
  name: 'statesource',
  label: 'statesource (SQLite)',
  durability: (synchronous) =>
    synchronous === 'FULL'
      ? 'reply after synced commit (WAL, FULL)'
      : 'reply after commit, WAL not synced (NORMAL)',
  async open({ dir, synchronous }) {
    const storage = await openBenchStorage(path.join(dir, 'statesource.db'), synchronous)
    const handles = await CqrsPattern.builder({ journal: storage.sqlite.journal })
      .withAggregate(cart)
      .repositoryTimeout(300_000)
      .passivation({ maxLive: 2_000_000 })
      .logger(silentLogger)
      .build()
      .materialize()
    let before = storage.sqlite.journal.stats
    return {
      send: sender(handles.repository(cart)),
      beforeTimedRun: () => {
        before = storage.sqlite.journal.stats
      },
      counters: () => {
        const after = storage.sqlite.journal.stats
        return { transactions: after.transactions - before.transactions, largestBatch: after.largestBatch }
      },
      storedEvents: async () => storage.countEvents(),
      close: async () => {
        await handles.stop()
        await storage.close()
      },
    }
  },
}

/** statesource with its in-memory journal: the framework's own cost, no I/O. */
export const statesourceMemoryPeer: PeerDefinition = {
  name: 'statesource-memory',
  label: 'statesource (in-memory journal)',
  durability: () => 'none (in memory)',
  async open() {
    const journal = createInMemoryJournal()
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(cart)
      .repositoryTimeout(300_000)
      .passivation({ maxLive: 2_000_000 })
      .logger(silentLogger)
      .build()
      .materialize()
    let stored = 0
    const send = sender(handles.repository(cart))
    return {
      send: async (cartId, command, expectedVersion) => {
        const reply = await send(cartId, command, expectedVersion)
        if (!cartId.startsWith('warm-')) stored += reply.events
        return reply
      },
      storedEvents: async () => stored,
      close: () => handles.stop(),
    }
  },
}
