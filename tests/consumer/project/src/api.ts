// A user's program over the public API of every package, type-checked strictly (both module resolutions,
// no skipLibCheck) and run with plain node by tests/consumer/packed-packages.test.ts.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type AnyAggregate,
  CqrsPattern,
  createInMemoryJournal,
  createRepository,
  defineReader,
  isStatesourceError,
  ReaderFilter,
  type SendResult,
} from '@statesource/core'
import type { AggregateSpec, JournalUnderTest } from '@statesource/core/testing'
import { checkChart, exportChart } from '@statesource/inspect'
import { openSqlite, type StatesourceSqlite } from '@statesource/sqlite'
import { type AnyActorRef, createActor, setup, spawnChild } from 'xstate'
import { todo } from './aggregates.js'

// One copy of xstate: the one this program imports is the one @statesource/core imports.
const fromHere = createRequire(import.meta.url).resolve('xstate/package.json')
const fromCore = createRequire(import.meta.resolve('@statesource/core')).resolve('xstate/package.json')
const { version } = createRequire(import.meta.url)('xstate/package.json') as { version: string }
console.log(`xstate ${version}, one copy: ${fromHere === fromCore}`)

// The gateway spawned inside the user's own actor system, made with the user's xstate.
const topology = CqrsPattern.builder({ journal: createInMemoryJournal(), name: 'todos' })
  .withAggregate(todo)
  .build()
const app = setup({ actors: { gateway: topology.gateway } }).createMachine({
  entry: spawnChild('gateway', { systemId: 'todos', id: 'todos' }),
})
const actor = createActor(app).start()
const todos = createRepository(actor.system.get('todos') as AnyActorRef, todo)
const sent: SendResult = await todos.send('t-9', { type: 'add', title: 'from my machine' })
const child = actor.system.get('statesource:todo|t-9') as AnyActorRef
console.log(`todo|t-9 at version ${sent.version} in state ${JSON.stringify(child.getSnapshot().value)}`)
try {
  await todos.send('t-9', { type: 'add', title: 'again' })
} catch (error) {
  console.log(`rejected: ${isStatesourceError(error, 'COMMAND_REJECTED')}`)
}
actor.stop()

// The SQLite journal and a reader, and the inspect package's checks.
const dir = mkdtempSync(join(tmpdir(), 'statesource-api-'))
const sqlite: StatesourceSqlite = await openSqlite(join(dir, 'api.db'))
const builder = CqrsPattern.builder({ journal: sqlite.journal })
  .withAggregate(todo)
  .readJournal(sqlite.readJournal())
const titles = builder.withReader(
  defineReader({
    name: 'titles',
    filter: ReaderFilter.tag('todo'),
    initialState: [] as string[],
    apply: (state, event) => (event.type === 'added' ? [...state, event.title] : state),
  }),
)
const handles = await builder.build().materialize()
const last = await handles.repository(todo).send('t-1', { type: 'add', title: 'on SQLite' })
console.log(`titles: ${(await titles.waitForOffset(last.ordering)).join(', ')}`)
await handles.stop()
await sqlite.close()
rmSync(dir, { recursive: true, force: true })

const aggregates: AnyAggregate[] = [todo]
console.log(`chart ok: ${checkChart(todo).ok}, exported: ${exportChart(aggregates[0]!).name}`)

// The testing subpath's types (its runtime needs vitest, which this program does not install).
export type TodoSpec = AggregateSpec<typeof todo>
export type Journals = JournalUnderTest
