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

async function run(file: string) {
  const sqlite = await openSqlite(file) // an embedded SQLite file: WAL, migrations applied
  const builder = CqrsPattern.builder({ journal: sqlite.journal }).withAggregate(todo)
  const countsView = builder.withReader(counts)
  const handles = await builder.build().materialize()

  // Each command carries an id, so running the program again writes nothing twice: the journal already
  // holds these commands and each send returns its first result, marked `duplicate`.
  const todos = handles.repository(todo)
  await todos.send('t-1', { type: 'add', title: 'Write the docs' }, { commandId: 'add-t-1' })
  await todos.send('t-2', { type: 'add', title: 'Ship it' }, { commandId: 'add-t-2' })
  const last = await todos.send('t-1', { type: 'complete' }, { commandId: 'complete-t-1' })

  const state = await countsView.waitForOffset(last.ordering)
  console.log(`open ${state.open}, done ${state.done}, duplicate ${last.duplicate}`)
  // first run: open 1, done 1, duplicate false
  // next runs: open 1, done 1, duplicate true

  await handles.stop()
  await sqlite.close()
}

await run('todos.db')
// #endregion app
