// #region app
import { CqrsPattern, defineAggregate, defineReader, ReaderFilter, reject } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { assign, setup } from 'xstate'

// The lifecycle of a to-do item, as a statechart over domain events.
const todoMachine = setup({
  types: {
    context: {} as { title: string },
    events: {} as { type: 'added'; title: string } | { type: 'completed' } | { type: 'reopened' },
  },
  actions: { setTitle: assign({ title: ({ event }) => (event.type === 'added' ? event.title : '') }) },
}).createMachine({
  id: 'todo',
  initial: 'new',
  context: { title: '' },
  states: {
    new: { on: { added: { target: 'open', actions: 'setTitle' } } },
    open: { on: { completed: 'done' } },
    done: { on: { reopened: 'open' } },
  },
})

const todo = defineAggregate({
  type: 'todo',
  machine: todoMachine,
  commands: {
    add: (cmd: { title: string }) =>
      cmd.title.trim() ? { type: 'added', title: cmd.title } : reject('title is empty'),
    complete: () => ({ type: 'completed' }),
    reopen: () => ({ type: 'reopened' }),
  },
  tags: () => ['todo'],
})

// A projection: how many items are open and done.
const counts = defineReader({
  name: 'todo-counts',
  filter: ReaderFilter.tag('todo'),
  initialState: { open: 0, done: 0 },
  apply: (state, event) => {
    switch (event.type) {
      case 'added':
        return { ...state, open: state.open + 1 }
      case 'completed':
        return { open: state.open - 1, done: state.done + 1 }
      case 'reopened':
        return { open: state.open + 1, done: state.done - 1 }
      default:
        return state
    }
  },
})

export async function run(file: string, log: (line: string) => void = console.log) {
  const sqlite = await openSqlite(file) // an embedded SQLite file: WAL, migrations applied
  const builder = CqrsPattern.builder({ journal: sqlite.journal }).withAggregate(todo)
  const countsView = builder.withReader(counts)
  const handles = await builder.build().materialize()

  const todos = handles.repository(todo)
  await todos.send('t-1', { type: 'add', title: 'Write the docs' })
  await todos.send('t-2', { type: 'add', title: 'Ship it' })
  const last = await todos.send('t-1', { type: 'complete' })

  const state = await countsView.waitForOffset(last.ordering)
  log(`open ${state.open}, done ${state.done}`) // open 1, done 1

  await handles.stop()
  await sqlite.close()
}
// #endregion app

if (import.meta.url === `file://${process.argv[1]}`) await run('todos.db')
