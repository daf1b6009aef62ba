import { describe, expect, it } from 'vitest'
import { type AnyStateMachine, assign, setup } from 'xstate'
import { uuidSequence } from '../../src/internal/ids.ts'
import { MachineRuntime } from '../../src/internal/machine-runtime.ts'

const counter = setup({ types: { events: {} as { type: 'inc' } } }).createMachine({
  context: { n: 0 },
  initial: 'idle',
  states: { idle: { on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } } } },
})

describe('MachineRuntime.initial', () => {
  it('computes the initial snapshot once when the machine shares its static context anyway', () => {
    const runtime = new MachineRuntime(counter)
    const first = runtime.initial()
    expect(runtime.initial()).toBe(first)
    expect(first.context).toBe(counter.config.context)
    // The persisted form is what XState gives, computed once too.
    expect(runtime.persist(first)).toEqual(counter.getPersistedSnapshot(first))
    expect(runtime.persist(first)).toBe(runtime.persist(first))
    // Stepping never touches the shared snapshot.
    const next = runtime.step(first, { type: 'inc' })
    expect(next.context).toEqual({ n: 1 })
    expect(runtime.initial().context).toEqual({ n: 0 })
  })

  const withFactory = setup({ types: { context: {} as { items: string[] } } }).createMachine({
    context: () => ({ items: [] }),
    initial: 'idle',
    states: { idle: {} },
  })
  const withEntryAssign = setup({ types: { context: {} as { items: string[] } } }).createMachine({
    context: { items: [] },
    entry: assign({ items: () => [] }),
    initial: 'idle',
    states: { idle: {} },
  })

  it.each([
    ['a context factory', withFactory as AnyStateMachine],
    ['an entry assign', withEntryAssign as AnyStateMachine],
  ])('computes a fresh initial snapshot per call for %s', (_, machine) => {
    const runtime = new MachineRuntime(machine)
    const first = runtime.initial()
    const second = runtime.initial()
    expect(second).not.toBe(first)
    expect(second.context).not.toBe(first.context)
    expect(second.context).toEqual(first.context)
  })
})

describe('uuidSequence', () => {
  it('makes distinct UUID-shaped ids, and distinct prefixes per sequence', () => {
    const next = uuidSequence()
    const ids = Array.from({ length: 1000 }, () => next())
    expect(new Set(ids).size).toBe(1000)
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(ids[0]!.endsWith('000000000001')).toBe(true)
    expect(uuidSequence()().slice(0, 24)).not.toBe(ids[0]!.slice(0, 24))
  })
})
