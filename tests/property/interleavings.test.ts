import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  CqrsPattern,
  createInMemoryJournal,
  createInMemorySnapshotStore,
  type EventEnvelope,
  type Journal,
  type ReadJournal,
  type SnapshotStore,
  silentLogger,
} from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import fc from 'fast-check'
import { lastValueFrom, toArray } from 'rxjs'
import { afterAll, describe, expect, it } from 'vitest'
import { counter } from '../regression/fixtures.ts'

// Random interleavings of commands over hundreds of aggregate ids, with passivation (maxLive 25) and
// snapshots (every 2 events) on, and restarts in between. After each scenario:
// - every stream is gapless (sequence numbers 1..n),
// - each id's events are in the order its commands were sent (the `step` each command carries),
// - a projection equals the fold of the journal, and so does each aggregate's state.
// fast-check shrinks a failing scenario to a minimal one and prints its seed and path. The seed is random
// per run unless STATESOURCE_PROPERTY_SEED is set; it is printed with the run count either way.

const SEED = Number(process.env.STATESOURCE_PROPERTY_SEED ?? Date.now() % 2 ** 31)
const dir = mkdtempSync(join(tmpdir(), 'statesource-property-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** One step: a burst of commands sent at once (each to id `id`, adding `n`), or a restart. */
type Step =
  | { readonly kind: 'burst'; readonly commands: readonly { id: number; n: number }[] }
  | { readonly kind: 'restart' }

const scenario = fc.array(
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('burst' as const),
        commands: fc.array(fc.record({ id: fc.nat(299), n: fc.integer({ min: -5, max: 5 }) }), {
          minLength: 1,
          maxLength: 60,
        }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
  ),
  { minLength: 1, maxLength: 8 },
)

interface Store {
  journal: Journal
  readJournal: ReadJournal
  snapshotStore: SnapshotStore
  close(): Promise<void>
}

async function run(steps: readonly Step[], store: Store): Promise<void> {
  const start = async () => {
    const builder = CqrsPattern.builder({ journal: store.journal })
      .withAggregate(counter)
      .logger(silentLogger)
      .readJournal(store.readJournal)
      .snapshotStore(store.snapshotStore)
      .snapshotPolicy({ every: 2 })
      .passivation({ maxLive: 25 })
    const totals = builder.withReader({
      name: 'totals',
      initialState: {} as Record<string, number>,
      apply: (state, event, envelope) =>
        event.type === 'added'
          ? { ...state, [envelope.persistenceId]: (state[envelope.persistenceId] ?? 0) + event.n }
          : state,
    })
    return { handles: await builder.build().materialize(), totals }
  }
  let { handles, totals } = await start()
  const sent = new Map<number, number>() // id -> steps sent so far
  let lastOrdering = 0
  try {
    for (const step of steps) {
      if (step.kind === 'restart') {
        await handles.stop()
        ;({ handles, totals } = await start())
        continue
      }
      const counters = handles.repository(counter)
      const results = await Promise.all(
        step.commands.map(({ id, n }) => {
          const seq = (sent.get(id) ?? 0) + 1
          sent.set(id, seq)
          return counters.send(`c-${id}`, { type: 'add', n, step: seq })
        }),
      )
      lastOrdering = Math.max(lastOrdering, ...results.map((r) => r.ordering))
    }
    const all: EventEnvelope[] = await lastValueFrom(store.readJournal.currentAllEvents(0).pipe(toArray()))
    const fold: Record<string, number> = {}
    for (const e of all) fold[e.persistenceId] = (fold[e.persistenceId] ?? 0) + (e.payload as { n: number }).n
    for (const [id, count] of sent) {
      const events = await store.journal.replay(`counter|c-${id}`)
      expect(events.map((e) => e.seqNr)).toEqual(Array.from({ length: count }, (_, i) => i + 1))
      expect(events.map((e) => (e.payload as { step: number }).step)).toEqual(
        Array.from({ length: count }, (_, i) => i + 1),
      )
      expect((await handles.repository(counter).state(`c-${id}`)).context.total).toBe(fold[`counter|c-${id}`])
    }
    expect(await totals.waitForOffset(lastOrdering)).toEqual(fold)
    expect(handles.stats.live).toBeLessThanOrEqual(25)
  } finally {
    await handles.stop()
  }
}

const stores: [string, number, () => Promise<Store>][] = [
  [
    'in-memory',
    100,
    async () => {
      const journal = createInMemoryJournal()
      return {
        journal,
        readJournal: journal.readJournal({ pollIntervalMs: 20 }),
        snapshotStore: createInMemorySnapshotStore(),
        close: async () => {},
      }
    },
  ],
  [
    'SQLite file',
    40,
    async () => {
      const sqlite = await openSqlite(join(dir, `p-${Math.random().toString(16).slice(2)}.db`))
      return {
        journal: sqlite.journal,
        readJournal: sqlite.readJournal({ pollIntervalMs: 20 }),
        snapshotStore: sqlite.snapshotStore,
        close: () => sqlite.close(),
      }
    },
  ],
]

describe('random interleavings of commands (property)', () => {
  for (const [name, numRuns, open] of stores) {
    it(`keeps streams gapless, per-id order and projections equal to the journal's fold: ${name}`, async () => {
      // Printed so a failure (or a surprising pass) can be replayed: STATESOURCE_PROPERTY_SEED=<seed>.
      console.log(`property (${name}): ${numRuns} runs, seed ${SEED}`)
      await fc.assert(
        fc.asyncProperty(scenario, async (steps) => {
          const store = await open()
          try {
            await run(steps, store)
          } finally {
            await store.close()
          }
        }),
        { numRuns, seed: SEED, endOnFailure: false },
      )
    }, 600_000)
  }
})
