// What the read-side suite and the crash processes it starts share: no vitest here, so a child process
// (`node --import tsx`) can import it.
import {
  CqrsPattern,
  defineAggregate,
  type Journal,
  type OffsetStore,
  type Reader,
  type ReadJournal,
  silentLogger,
} from '@statesource/core'
import { assign, setup } from 'xstate'

/** A counter whose `added` events are tagged `count`. */
export const counter = defineAggregate({
  type: 'counter',
  machine: setup({
    types: { context: {} as { total: number }, events: {} as { type: 'added'; by: number } },
  }).createMachine({
    id: 'counter',
    context: { total: 0 },
    on: { added: { actions: assign({ total: ({ context, event }) => context.total + event.by }) } },
  }),
  commands: { add: (cmd: { by: number }) => ({ type: 'added', by: cmd.by }) },
  tags: () => ['count'],
})

/** What the read-side suite needs of an opened statesource database (`openSqlite`, `openPostgres`). */
export interface ReadSideDatabase {
  readonly journal: Journal
  readJournal(config?: { pollIntervalMs?: number }): ReadJournal
  readonly offsetStore: OffsetStore
  close(): Promise<void>
}

/**
 * How the exactly-once projection of a database applies events: `delayMs` slows each apply down (so a process
 * can be killed mid-way), `poison` makes the event at that ordering throw after it wrote to `totals`.
 */
export interface AppliedProjectionOptions {
  delayMs?: number
  poison?: { ordering: number }
}

/**
 * The exactly-once projection named `applied` over the `count` tag, in the database's own tables: one row per
 * applied event in `applied` (keyed by its ordering, so applying an event twice fails on the primary key) and a
 * running total per stream in `totals`. Its state counts the applied events.
 */
export type AppliedProjection<TDatabase> = (
  database: TDatabase,
  options?: AppliedProjectionOptions,
) => Reader<number> | Promise<Reader<number>>

/** The topology every run of the exactly-once tests materializes: the counter and the `applied` projection. */
export async function counterTopology<TDatabase extends ReadSideDatabase>(
  database: TDatabase,
  appliedProjection: AppliedProjection<TDatabase>,
  options: AppliedProjectionOptions = {},
) {
  const builder = CqrsPattern.builder({ journal: database.journal })
    .withAggregate(counter)
    .readJournal(database.readJournal({ pollIntervalMs: 20 }))
    .offsetStore(database.offsetStore)
    .logger(silentLogger)
  const applied = builder.withReader(await appliedProjection(database, options))
  return { builder, applied }
}

/**
 * The body of a crash process: runs the `applied` projection, writes `progress` on stdout once it has applied
 * `progressAt` events (its state is published after each commit, so they are durable), and keeps running until
 * the parent kills it.
 */
export async function runProjectionUntilKilled<TDatabase extends ReadSideDatabase>(
  database: TDatabase,
  appliedProjection: AppliedProjection<TDatabase>,
  options: AppliedProjectionOptions & { progressAt: number },
): Promise<void> {
  const { builder, applied } = await counterTopology(database, appliedProjection, options)
  let told = false
  applied.subscribe((count) => {
    if (count >= options.progressAt && !told) {
      told = true
      process.stdout.write('progress\n')
    }
  })
  await builder.build().materialize()
  setInterval(() => {}, 1_000)
}
