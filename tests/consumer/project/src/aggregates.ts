// The user's aggregates module: `statesource check --aggregates src/aggregates.ts todos.db` loads it (as
// TypeScript, through tsx) and replays the database getting-started's app.ts wrote. Same chart as there.
import { defineAggregate, reject } from '@statesource/core'
import { assign, setup } from 'xstate'

export const todo = defineAggregate({
  type: 'todo',
  machine: setup({
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
  }),
  commands: {
    add: (cmd: { title: string }) =>
      cmd.title.trim() ? { type: 'added', title: cmd.title } : reject('title is empty'),
    complete: () => ({ type: 'completed' }),
    reopen: () => ({ type: 'reopened' }),
  },
  tags: () => ['todo'],
})
