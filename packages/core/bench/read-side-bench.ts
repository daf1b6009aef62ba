import { assign, setup } from 'xstate'
import {
  CqrsPattern,
  createInMemoryJournal,
  defineAggregate,
  defineReader,
  type Journal,
  type NewEvent,
  type ReadJournal,
  silentLogger,
} from '../src/index.ts'

/** Options of {@link runCatchupBench}. */
export interface CatchupBenchOptions {
  /** Events stored before the reader starts. Default 1,000,000. */
  readonly events?: number
  /** Events per stream when seeding. Default 1,000. */
  readonly eventsPerStream?: number
  /** Live events appended one by one after catch-up, each timed until the projection publishes it. Default 1,000. */
  readonly liveSamples?: number
  /** Read-journal page size for the in-memory journal. Default 1,000. */
  readonly pageSize?: number
  /** Another storage (e.g. SQLite): the journal and its read journal. Default: an in-memory journal. */
  readonly storage?: () => Promise<{
    journal: Journal
    readJournal: ReadJournal
    close?: () => Promise<void>
  }>
}

/** What {@link runCatchupBench} measured. */
export interface CatchupBenchResult {
  readonly catchup_events_per_s: number
  readonly live_lag_p50_ms: number
  readonly live_lag_p99_ms: number
}

const counter = defineAggregate({
  type: 'bench',
  machine: setup({
    types: { context: {} as { n: number }, events: {} as { type: 'added'; by: number } },
  }).createMachine({
    id: 'bench',
    context: { n: 0 },
    on: { added: { actions: assign({ n: ({ context, event }) => context.n + event.by }) } },
  }),
  commands: { add: (cmd: { by: number }) => ({ type: 'added', by: cmd.by }) },
})

/**
 * Measures one reader with a simple fold (a sum): catch-up speed over `events` stored events, then the live
 * lag from `append` to the projection's publish.
 *
 * @example
 * ```ts
 * const result = await runCatchupBench({ events: 100_000, liveSamples: 200 })
 * console.log(result.catchup_events_per_s, result.live_lag_p99_ms)
 * ```
 */
export async function runCatchupBench(options: CatchupBenchOptions = {}): Promise<CatchupBenchResult> {
  const total = options.events ?? 1_000_000
  const perStream = options.eventsPerStream ?? 1_000
  const samples = options.liveSamples ?? 1_000
  let storage: { journal: Journal; readJournal: ReadJournal; close?: () => Promise<void> }
  if (options.storage) storage = await options.storage()
  else {
    const journal = createInMemoryJournal()
    storage = {
      journal,
      readJournal: journal.readJournal({ pageSize: options.pageSize ?? 1_000, pollIntervalMs: 1_000 }),
    }
  }
  const { journal, readJournal } = storage

  const event: NewEvent = { type: 'added', version: 1, payload: { by: 1 }, tags: [], metadata: {} }
  for (let stream = 0, written = 0; written < total; stream++) {
    const count = Math.min(perStream, total - written)
    await journal.append([
      {
        persistenceId: counter.persistenceId(`s-${stream}`),
        expectedSeqNr: 0,
        events: new Array<NewEvent>(count).fill(event),
      },
    ])
    written += count
  }
  const head = await readJournal.highestOrdering()

  const builder = CqrsPattern.builder({ journal })
    .withAggregate(counter)
    .readJournal(readJournal)
    .logger(silentLogger)
  const sum = builder.withReader(
    defineReader({ name: 'sum', initialState: 0, apply: (n: number, e) => n + (e.by as number) }),
  )
  const started = performance.now()
  const handles = await builder.build().materialize()
  await sum.waitForOffset(head, { timeout: 600_000 })
  const catchupMs = performance.now() - started
  if (sum.state !== total) throw new Error(`The bench reader folded ${sum.state} events, expected ${total}.`)

  const lags: number[] = []
  let target = Number.POSITIVE_INFINITY
  let sentAt = 0
  let done: (() => void) | undefined
  const subscription = sum.subscribe(() => {
    if (sum.offset >= target && done) {
      lags.push(performance.now() - sentAt)
      const resolve = done
      done = undefined
      resolve()
    }
  })
  for (let i = 0; i < samples; i++) {
    const reached = new Promise<void>((resolve) => {
      done = resolve
    })
    sentAt = performance.now()
    const [outcome] = await journal.append([
      { persistenceId: counter.persistenceId('live'), expectedSeqNr: i, events: [event] },
    ])
    if (!outcome?.ok) throw new Error('The bench could not append a live event.')
    target = outcome.envelopes[0]!.ordering
    if (sum.offset >= target && done) {
      lags.push(performance.now() - sentAt)
      done = undefined
    } else await reached
  }
  subscription.unsubscribe()
  await handles.stop()
  await storage.close?.()

  lags.sort((a, b) => a - b)
  const quantile = (q: number) => lags[Math.min(lags.length - 1, Math.floor(q * lags.length))] ?? 0
  return {
    catchup_events_per_s: Math.round(total / (catchupMs / 1_000)),
    live_lag_p50_ms: round(quantile(0.5)),
    live_lag_p99_ms: round(quantile(0.99)),
  }
}

function round(ms: number): number {
  return Math.round(ms * 1_000) / 1_000
}

// `node --import tsx packages/core/bench/read-side-bench.ts` prints the figures.
if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await runCatchupBench())
}
