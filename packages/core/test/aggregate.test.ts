import { describe, expect, it } from 'vitest'
import { assign, fromPromise, raise, sendTo, setup, spawnChild } from 'xstate'
import { defineAggregate, isStatesourceError } from '../src/index.ts'
import { given } from '../src/testing/index.ts'
import { account, accountMachine } from './fixtures.ts'

describe('defineAggregate', () => {
  it('decides events that the chart accepts', () => {
    const spec = given(account, [{ type: 'opened', owner: 'Ada' }]).when({ type: 'deposit', amount: 5 })
    expect(spec.events).toEqual([{ type: 'deposited', amount: 5 }])
    expect(spec.state.context.balance).toBe(5)
  })

  it('rejects through decide with the reason', () => {
    const error = given(account, [{ type: 'opened', owner: 'Ada' }])
      .when({ type: 'withdraw', amount: 5 })
      .rejected()
    expect(error.source).toBe('decide')
    expect(error.message).toBe(
      'Command "withdraw" for "account|spec" was rejected by decide: insufficient funds',
    )
  })

  it('rejects an event the current state does not accept, naming the event, the state and the aggregate', () => {
    const error = given(account, []).when({ type: 'deposit', amount: 5 }).rejected()
    expect(error.source).toBe('statechart')
    expect(error.message).toContain(
      'event "deposited" is not accepted by aggregate "account" in state "pending"',
    )
  })

  it('checks chained events one after another', () => {
    const error = given(account, [
      { type: 'opened', owner: 'A' },
      { type: 'deposited', amount: 999_999 },
    ])
      .when({ type: 'twice', amount: 1 })
      .rejected('maxBalance')
    expect(error.source).toBe('invariant')
    expect(error.rejectedBy).toBe('maxBalance')
  })

  it('rejects a guard-refused event', () => {
    const error = given(account, [{ type: 'opened', owner: 'A' }])
      .when({ type: 'forceWithdraw', amount: 1 })
      .rejected()
    expect(error.message).toContain('"withdrawn" is not accepted')
  })

  it('treats a command that decides nothing as a no-op', () => {
    expect(given(account, [{ type: 'opened', owner: 'A' }]).when({ type: 'noop' }).events).toEqual([])
  })

  it('reports an unknown command with the known ones', () => {
    const spec = given(account).when({ type: 'explode' } as never)
    expect(spec.error?.code).toBe('UNKNOWN_COMMAND')
    expect(spec.error?.message).toContain('Known commands: open, deposit')
  })

  it('turns a throwing decide into a rejection', () => {
    const boom = defineAggregate({
      type: 'boom',
      machine: accountMachine,
      commands: {
        explode: () => {
          throw new Error('kaboom')
        },
      },
    })
    expect(given(boom).when({ type: 'explode' }).rejected('kaboom').source).toBe('decide')
  })

  it('refuses machines with after, invoke or spawnChild at definition time', () => {
    const timed = setup({}).createMachine({ initial: 'a', states: { a: { after: { 1000: 'b' } }, b: {} } })
    const invoking = setup({ actors: { p: fromPromise(async () => 1) } }).createMachine({
      initial: 'a',
      states: { a: { invoke: { src: 'p' } } },
    })
    const spawning = setup({ actors: { p: fromPromise(async () => 1) } }).createMachine({
      initial: 'a',
      states: { a: { on: { go: { actions: spawnChild('p') } } } },
    })
    for (const [machine, what] of [
      [timed, 'after'],
      [invoking, 'invoke'],
      [spawning, 'spawnChild'],
    ] as const) {
      try {
        defineAggregate({ type: 'bad', machine, commands: { go: () => [] } })
        expect.unreachable(`${what} should be refused`)
      } catch (error) {
        expect(isStatesourceError(error, 'INVALID_AGGREGATE')).toBe(true)
        expect((error as Error).message).toContain(`(${what})`)
      }
    }
  })

  it('refuses spawnChild and delayed raise/sendTo named in setup({ actions }), not only inline ones', () => {
    const actors = { p: fromPromise(async () => 1) }
    const named = [
      [{ start: spawnChild('p') }, 'spawnChild'],
      [{ later: raise({ type: 'tick' }, { delay: 1000 }) }, 'raise with delay'],
      [{ later: sendTo(({ self }) => self, { type: 'tick' }, { delay: 1000 }) }, 'sendTo with delay'],
    ] as const
    for (const [actions, what] of named) {
      const name = Object.keys(actions)[0]!
      const machine = setup({ actors, actions: actions as never }).createMachine({
        initial: 'a',
        states: { a: { on: { go: { actions: name as never } } } },
      })
      try {
        defineAggregate({ type: 'bad', machine, commands: { go: () => [] } })
        expect.unreachable(`${what} named "${name}" should be refused`)
      } catch (error) {
        expect(isStatesourceError(error, 'INVALID_AGGREGATE')).toBe(true)
        expect((error as Error).message).toContain(`(${what}) in action "${name}"`)
      }
    }
    // An undelayed raise named in setup is fine: it happens within the same fold step.
    const fine = setup({ actions: { now: raise({ type: 'tick' }) } }).createMachine({
      initial: 'a',
      states: { a: { on: { go: { actions: 'now' }, tick: {} } } },
    })
    expect(() => defineAggregate({ type: 'fine', machine: fine, commands: { go: () => [] } })).not.toThrow()
  })

  it('catches a clock read in assign at every run, even when both folds fall in the same millisecond', () => {
    const stamped = defineAggregate({
      type: 'stamped',
      machine: setup({
        types: { context: {} as { at: number; day: string }, events: {} as { type: 'paid' } },
      }).createMachine({
        context: { at: 0, day: '' },
        on: {
          paid: {
            actions: assign({ at: () => Date.now(), day: () => new Date().toISOString().slice(0, 10) }),
          },
        },
      }),
      commands: { pay: () => ({ type: 'paid' }) },
    })
    const realNow = Date.now
    const frozen = realNow()
    Date.now = () => frozen // both folds in the same millisecond: the case a plain double fold misses
    try {
      for (let run = 0; run < 200; run++) {
        expect(() => given(stamped, [{ type: 'paid' }])).toThrow(/not deterministic/)
      }
    } finally {
      Date.now = realNow
    }
    expect(Date.now).toBe(realNow) // given restores the clock it shifted
  })

  it('refuses invalid types and missing commands', () => {
    expect(() =>
      defineAggregate({ type: 'a|b', machine: accountMachine, commands: { x: () => [] } }),
    ).toThrow(/not valid/)
    expect(() => defineAggregate({ type: 'a', machine: accountMachine, commands: {} })).toThrow(
      /at least one command/,
    )
  })

  it('namespaces persistence ids by type so two aggregate types never collide', () => {
    const other = defineAggregate({ type: 'loan', machine: accountMachine, commands: { open: () => [] } })
    expect(account.persistenceId('42')).toBe('account|42')
    expect(other.persistenceId('42')).toBe('loan|42')
  })

  it('detects a non-deterministic machine when folding the history twice', () => {
    const random = setup({
      types: { context: {} as { n: number }, events: {} as { type: 'rolled' } },
    }).createMachine({
      context: { n: 0 },
      on: { rolled: { actions: assign({ n: () => Math.random() }) } },
    })
    const dice = defineAggregate({
      type: 'dice',
      machine: random,
      commands: { roll: () => ({ type: 'rolled' }) },
    })
    expect(() => given(dice, [{ type: 'rolled' }])).toThrow(/not deterministic/)
  })
})
