import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type CqrsHandles,
  CqrsPattern,
  createInMemoryJournal,
  isStatesourceError,
  type Journal,
  OverloadedError,
  silentLogger,
} from '../src/index.ts'
import { account } from './fixtures.ts'

const running: CqrsHandles[] = []
afterEach(async () => {
  for (const h of running.splice(0)) await h.stop()
})

async function start(
  configure: (b: ReturnType<typeof CqrsPattern.builder>) => unknown = () => {},
  journal: Journal = createInMemoryJournal(),
) {
  const builder = CqrsPattern.builder({ journal }).withAggregate(account).logger(silentLogger)
  configure(builder)
  const topology = builder.build()
  const handles = await topology.materialize()
  running.push(handles)
  return { handles, topology, accounts: handles.repository(account), journal }
}

/** Counts outcomes by code without keeping the promises or errors alive. */
function tally() {
  const counts: Record<string, number> = {}
  const messages = new Set<string>()
  return {
    counts,
    messages,
    track(promise: Promise<unknown>) {
      promise.then(
        () => {
          counts.ok = (counts.ok ?? 0) + 1
        },
        (error: { code?: string; message: string }) => {
          const code = error.code ?? 'other'
          counts[code] = (counts[code] ?? 0) + 1
          if (messages.size < 5) messages.add(error.message)
        },
      )
    },
  }
}

describe('gateway input limits', () => {
  it("refuses a persistence id beyond the journal's limit at intake, before recovering anything", async () => {
    const journal = createInMemoryJournal()
    let reads = 0
    const replay = journal.replay.bind(journal)
    journal.replay = (...args) => {
      reads++
      return replay(...args)
    }
    const { accounts, handles, topology } = await start(() => {}, journal)
    const error = await accounts.send('x'.repeat(2_000), { type: 'open', owner: 'A' }).catch((e) => e)
    expect(isStatesourceError(error, 'INVALID_INPUT')).toBe(true)
    expect(error.message).toMatch(
      /^The persistence id "account\|x{72}…" is 2,008 bytes; the limit is 1,024 \(limits\.maxPersistenceIdBytes\)\. Nothing was written\. .* raise limits\.maxPersistenceIdBytes \(createInMemoryJournal\(\{ limits \}\)\)\.$/,
    )
    expect(reads).toBe(0)
    expect(handles.stats.recovering).toBe(0)
    expect(topology.describe().limits.maxPersistenceIdBytes).toBe(1_024)
  })

  it('takes the limits from the journal, so raising them there raises them at intake too', async () => {
    const { accounts } = await start(
      () => {},
      createInMemoryJournal({ limits: { maxPersistenceIdBytes: 4_096 } }),
    )
    expect((await accounts.send('x'.repeat(2_000), { type: 'open', owner: 'A' })).version).toBe(1)
  })

  it("refuses an event beyond the journal's limits with INVALID_INPUT and keeps serving the aggregate", async () => {
    const { accounts } = await start()
    await accounts.send('a', { type: 'open', owner: 'A' })
    const error = await accounts.send('b', { type: 'open', owner: 'o'.repeat(2_000_000) }).catch((e) => e)
    expect(isStatesourceError(error, 'INVALID_INPUT')).toBe(true)
    expect(error.message).toContain('(limits.maxPayloadBytes)')
    expect((await accounts.send('b', { type: 'open', owner: 'B' })).version).toBe(1)
  })
})

describe('gateway back-pressure', () => {
  it('refuses commands beyond the per-aggregate bound at once with OVERLOADED and serves the others', async () => {
    const { accounts, handles } = await start((b) => b.commandQueue({ maxPerAggregate: 5 }))
    const outcomes = Array.from({ length: 20 }, (_, i) =>
      accounts.send('hot', i === 0 ? { type: 'open', owner: 'A' } : { type: 'deposit', amount: 1 }),
    )
    const settled = await Promise.allSettled(outcomes)
    const refused = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []))
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(5)
    expect(refused).toHaveLength(15)
    expect(refused[0]).toBeInstanceOf(OverloadedError)
    expect(refused[0]).toMatchObject({
      code: 'OVERLOADED',
      persistenceId: 'account|hot',
      bound: 'maxPerAggregate',
      limit: 5,
    })
    expect(refused[0].message).toBe(
      `Command "deposit" for "account|hot" was refused: 5 commands already wait for "account|hot" (commandQueue.maxPerAggregate). Nothing was written. Retry later with backoff, or raise the bound with the builder's commandQueue({ maxPerAggregate }).`,
    )
    expect(handles.stats.overloaded).toBe(15)
    // Once the queue drained, the aggregate takes commands again.
    expect((await accounts.send('hot', { type: 'deposit', amount: 1 })).version).toBe(6)
  })

  it('refuses commands beyond the total bound, naming it, and accepts again once answered', async () => {
    const { accounts } = await start((b) => b.commandQueue({ maxTotal: 3 }))
    const first = ['a', 'b', 'c'].map((id) => accounts.send(id, { type: 'open', owner: id }))
    const error = await accounts.send('d', { type: 'open', owner: 'd' }).catch((e) => e)
    expect(error).toMatchObject({ code: 'OVERLOADED', bound: 'maxTotal', limit: 3 })
    expect(error.message).toContain('the gateway already holds 3 commands (commandQueue.maxTotal)')
    expect((await Promise.all(first)).map((r) => r.version)).toEqual([1, 1, 1])
    expect((await accounts.send('d', { type: 'open', owner: 'd' })).version).toBe(1)
  })

  it('validates and describes the bounds', () => {
    const builder = () => CqrsPattern.builder({ journal: createInMemoryJournal() }).withAggregate(account)
    expect(() => builder().commandQueue({ maxPerAggregate: 0 }).build()).toThrow(
      'commandQueue.maxPerAggregate must be an integer of at least 1, got 0.',
    )
    expect(() => builder().commandQueue({ maxTotal: 1.5 }).build()).toThrow(
      'commandQueue.maxTotal must be an integer of at least 1, got 1.5.',
    )
    expect(builder().build().describe().commandQueue).toEqual({ maxPerAggregate: 1_000, maxTotal: 100_000 })
    expect(builder().commandQueue({ maxTotal: 50 }).build().describe().commandQueue).toEqual({
      maxPerAggregate: 1_000,
      maxTotal: 50,
    })
  })

  it('keeps memory flat under a flood to one aggregate while other aggregates are served (load test)', {
    timeout: 60_000,
  }, async () => {
    v8.setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const heap = () => {
      gc()
      gc()
      return process.memoryUsage().heapUsed
    }
    const { accounts, handles } = await start()
    await accounts.send('hot', { type: 'open', owner: 'A' })
    await accounts.send('warm-up', { type: 'open', owner: 'A' })
    const outcomes = tally()
    const before = heap()
    const flood = (count: number) => {
      for (let i = 0; i < count; i++) outcomes.track(accounts.send('hot', { type: 'deposit', amount: 1 }))
    }
    flood(20_000)
    // Other aggregates are served while the flood waits.
    expect((await accounts.send('cold-1', { type: 'open', owner: 'B' })).version).toBe(1)
    const afterHalf = heap()
    flood(20_000)
    expect((await accounts.send('cold-2', { type: 'open', owner: 'C' })).version).toBe(1)
    const afterAll = heap()
    const growthMiB = (afterAll - before) / 1024 / 1024
    // What the flood holds is the bounded queue (1,000 commands), not 40,000 of them.
    expect(outcomes.counts.OVERLOADED).toBeGreaterThanOrEqual(38_000)
    expect(growthMiB).toBeLessThan(8)
    expect(Math.abs(afterAll - afterHalf) / 1024 / 1024).toBeLessThan(4)
    console.info(
      `flood of 40,000 commands to one aggregate: ${outcomes.counts.OVERLOADED} refused at once; heap ${(before / 1048576).toFixed(1)} MiB before, ${(afterHalf / 1048576).toFixed(1)} MiB after 20,000, ${(afterAll / 1048576).toFixed(1)} MiB after 40,000`,
    )
    await handles.stop()
    expect((outcomes.counts.ok ?? 0) + (outcomes.counts.OVERLOADED ?? 0)).toBe(40_000)
  })
})
