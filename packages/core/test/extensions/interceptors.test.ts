import { describe, expect, it } from 'vitest'
import { type AnyActorRef, assign, sendTo, setup } from 'xstate'
import {
  type CommandRejectedError,
  CqrsPattern,
  createInMemoryJournal,
  defineAggregate,
  type EventEnvelope,
  type InterceptRequest,
  interceptPass,
  interceptReject,
  isStatesourceError,
  type Logger,
  reject,
  type StandardSchemaLike,
  validateWith,
} from '../../src/index.ts'
import { account } from '../fixtures.ts'

const counterMachine = setup({
  types: { context: {} as { total: number }, events: {} as { type: 'counted'; n: number } },
}).createMachine({
  id: 'counter',
  context: { total: 0 },
  on: { counted: { actions: assign({ total: ({ context, event }) => context.total + event.n }) } },
})

/** `yes(n)` emits `counted(n)`; `no` is stopped by an interceptor in the tests below. */
const counter = defineAggregate({
  type: 'counter',
  machine: counterMachine,
  commands: {
    yes: (cmd: { n: number }) => ({ type: 'counted', n: cmd.n }),
    no: () => ({ type: 'counted', n: 0 }),
  },
})

function collectingLogger() {
  const warnings: string[] = []
  const errors: string[] = []
  const logger: Logger = { warn: (m) => void warnings.push(m), error: (m) => void errors.push(m) }
  return { logger, warnings, errors }
}

describe('interceptors', () => {
  it('runs the interceptor on every command, and the listener and tap only on the one it let through', async () => {
    const journal = createInMemoryJournal()
    let intercepted = 0
    const heard: string[] = []
    const tapped: EventEnvelope[] = []
    const tappedCommands: string[] = []
    const topology = CqrsPattern.builder({ journal })
      .withAggregate(counter)
      .onCommand({
        name: 'no-nos',
        intercept: ({ command }) => {
          intercepted++
          return command.type === 'no' ? reject('"no" is not allowed') : undefined
        },
      })
      .onEvent((event) => void heard.push(event.type))
      .withTap({
        name: 'all',
        events: (e) => void tapped.push(e),
        commands: (c) => void tappedCommands.push(c.command.type),
      })
      .build()
    const handles = await topology.materialize()
    const counters = handles.repository(counter)

    expect((await counters.send('c-1', { type: 'yes', n: 7 })).version).toBe(1)
    const error = (await counters.send('c-1', { type: 'no' }).catch((e) => e)) as CommandRejectedError
    expect(isStatesourceError(error, 'COMMAND_REJECTED')).toBe(true)
    expect(error.source).toBe('interceptor')
    expect(error.rejectedBy).toBe('no-nos')
    expect(error.message).toBe(
      'Command "no" for "counter|c-1" was rejected by interceptor "no-nos": "no" is not allowed',
    )

    await topology.taps.flush()
    expect(intercepted).toBe(2)
    expect(heard).toEqual(['counted'])
    expect(tapped.map((e) => [e.type, e.payload])).toEqual([['counted', { n: 7 }]])
    expect(tappedCommands).toEqual(['yes']) // taps do not fire for a rejected command
    expect(await journal.highestSeqNr('counter|c-1')).toBe(1)
    await handles.stop()
  })

  it('lets an async interceptor reject by the aggregate state, writing nothing', async () => {
    const journal = createInMemoryJournal()
    const heard: string[] = []
    const tapped: string[] = []
    const topology = CqrsPattern.builder({ journal })
      .withAggregate(account)
      .onCommand({
        name: 'owner-only',
        async intercept({ command, metadata, state }) {
          await new Promise((resolve) => setImmediate(resolve)) // e.g. a permission lookup
          if (command.type === 'open') return undefined
          return metadata.userId === state.context.owner
            ? undefined
            : reject(`user "${metadata.userId}" does not own this account`)
        },
      })
      .onEvent((e) => void heard.push(e.type))
      .withTap({ name: 't', events: (e) => void tapped.push(e.type) })
      .build()
    const handles = await topology.materialize()
    const accounts = handles.repository(account)
    await accounts.send('a-1', { type: 'open', owner: 'ada' })
    await expect(
      accounts.send('a-1', { type: 'deposit', amount: 5 }, { metadata: { userId: 'bob' } }),
    ).rejects.toMatchObject({
      code: 'COMMAND_REJECTED',
      source: 'interceptor',
      rejectedBy: 'owner-only',
      reason: 'user "bob" does not own this account',
    })
    const ok = await accounts.send('a-1', { type: 'deposit', amount: 5 }, { metadata: { userId: 'ada' } })
    expect(ok.version).toBe(2)
    await topology.taps.flush()
    expect((await journal.replay('account|a-1')).map((e) => e.type)).toEqual(['opened', 'deposited'])
    expect(heard).toEqual(['opened', 'deposited'])
    expect(tapped).toEqual(['opened', 'deposited'])
    await handles.stop()
  })

  it('turns a throwing interceptor into a rejection and keeps serving', async () => {
    const journal = createInMemoryJournal()
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(counter)
      .onCommand(function explode({ command }) {
        if ((command as { n?: number }).n === 13) throw new Error('unlucky')
      })
      .build()
      .materialize()
    const counters = handles.repository(counter)
    await expect(counters.send('c', { type: 'yes', n: 13 })).rejects.toMatchObject({
      code: 'COMMAND_REJECTED',
      rejectedBy: 'explode',
      message: 'Command "yes" for "counter|c" was rejected by interceptor "explode": it failed: unlucky',
    })
    expect((await counters.send('c', { type: 'yes', n: 1 })).version).toBe(1)
    await handles.stop()
  })

  it('runs in registration order and merges metadata, but never rewrites the command id', async () => {
    const journal = createInMemoryJournal()
    const seen: unknown[] = []
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(counter)
      .onCommand({ name: 'first', intercept: () => ({ metadata: { tenant: 't-1', commandId: 'hijack' } }) })
      .onCommand({
        name: 'second',
        intercept: ({ metadata }) => {
          seen.push(metadata.tenant)
          return { metadata: { checkedBy: 'second' } }
        },
      })
      .build()
      .materialize()
    const result = await handles.repository(counter).send('c', { type: 'yes', n: 1 }, { commandId: 'cmd-1' })
    expect(seen).toEqual(['t-1'])
    expect(result.events[0]!.metadata).toMatchObject({
      tenant: 't-1',
      checkedBy: 'second',
      commandId: 'cmd-1',
    })
    const again = await handles.repository(counter).send('c', { type: 'yes', n: 1 }, { commandId: 'cmd-1' })
    expect(again.duplicate).toBe(true)
    await handles.stop()
  })

  it('validates commands with any Standard Schema library through validateWith', async () => {
    const positiveAmount: StandardSchemaLike = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) =>
          typeof (value as { n?: unknown }).n === 'number' && (value as { n: number }).n > 0
            ? { value }
            : { issues: [{ message: 'must be a positive number', path: ['n'] }] },
      },
    }
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(counter)
      .onCommand(validateWith({ yes: positiveAmount }, { name: 'schemas' }))
      .build()
      .materialize()
    const counters = handles.repository(counter)
    await expect(counters.send('c', { type: 'yes', n: -1 })).rejects.toMatchObject({
      rejectedBy: 'schemas',
      reason: 'n: must be a positive number',
      details: { issues: [{ message: 'must be a positive number', path: ['n'] }] },
    })
    expect((await counters.send('c', { type: 'yes', n: 2 })).version).toBe(1)
    expect((await counters.send('c', { type: 'no' })).version).toBe(2) // no schema: passes by default
    await handles.stop()
  })
})

const guardMachine = setup({
  types: { context: {} as { asked: number }, events: {} as InterceptRequest },
}).createMachine({
  id: 'guard',
  context: { asked: 0 },
  on: {
    'statesource.intercept': [
      {
        guard: ({ event }) => (event.context.command as { n?: number }).n === 0,
        actions: [
          assign({ asked: ({ context }) => context.asked + 1 }),
          sendTo(
            ({ event }) => event.replyTo,
            ({ event }) => interceptReject(event, 'zero is not a count', { n: 0 }),
          ),
        ],
      },
      {
        actions: [
          assign({ asked: ({ context }) => context.asked + 1 }),
          sendTo(
            ({ event }) => event.replyTo,
            ({ event }) => interceptPass(event, { guardedAt: event.context.version }),
          ),
        ],
      },
    ],
  },
})

describe('interceptors given as actor logic', () => {
  it('spawns the logic in the gateway system, asks it per command and honours its answer', async () => {
    const journal = createInMemoryJournal()
    const actors = new Map<string, AnyActorRef>()
    const handles = await CqrsPattern.builder({ journal })
      .withAggregate(counter)
      .onCommand(guardMachine)
      .build()
      .materialize({
        inspect: (e) => {
          if (e.type === '@xstate.actor')
            actors.set((e.actorRef as AnyActorRef).id, e.actorRef as AnyActorRef)
        },
      })
    const counters = handles.repository(counter)
    const ok = await counters.send('c', { type: 'yes', n: 3 })
    expect(ok.events[0]!.metadata.guardedAt).toBe(0)
    await expect(counters.send('c', { type: 'yes', n: 0 })).rejects.toMatchObject({
      code: 'COMMAND_REJECTED',
      rejectedBy: 'guard',
      reason: 'zero is not a count',
      details: { n: 0 },
    })
    const guard = actors.get('statesource.interceptor.guard')
    expect(guard).toBeDefined()
    expect(guard!.system).toBe(handles.gateway.system)
    expect(guard!.getSnapshot().context.asked).toBe(2)
    expect(await journal.highestSeqNr('counter|c')).toBe(1)
    await handles.stop()
    expect(guard!.getSnapshot().status).toBe('stopped')
  })

  it('rejects when the actor does not answer in time, and restarts an actor that fails', async () => {
    const silent = setup({}).createMachine({ id: 'silent' })
    let crash = true
    const fragile = setup({ types: { events: {} as InterceptRequest } }).createMachine({
      id: 'fragile',
      on: {
        'statesource.intercept': {
          actions: [
            () => {
              if (crash) throw new Error('boom')
            },
            sendTo(
              ({ event }) => event.replyTo,
              ({ event }) => interceptPass(event),
            ),
          ],
        },
      },
    })
    const { logger, errors } = collectingLogger()
    const slow = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(counter)
      .logger(logger)
      .onCommand({ name: 'silent', logic: silent, timeoutMs: 30 })
      .build()
      .materialize()
    await expect(slow.repository(counter).send('c', { type: 'yes', n: 1 })).rejects.toMatchObject({
      rejectedBy: 'silent',
      reason: 'it failed: its actor did not answer within 30 ms (interceptor timeoutMs)',
    })
    await slow.stop()

    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(counter)
      .logger(logger)
      .onCommand({ name: 'fragile', logic: fragile, timeoutMs: 5_000 })
      .build()
      .materialize()
    const counters = handles.repository(counter)
    await expect(counters.send('c', { type: 'yes', n: 1 })).rejects.toMatchObject({
      rejectedBy: 'fragile',
      reason: 'it failed: its actor failed: boom',
    })
    expect(errors.some((m) => m.startsWith('Interceptor "fragile" failed: boom'))).toBe(true)
    crash = false
    expect((await counters.send('c', { type: 'yes', n: 1 })).version).toBe(1)
    await handles.stop()
  })
})

describe('inspection of the command pipeline', () => {
  it('emits received, intercepted, persisted and rejected with one correlation id per command', async () => {
    const pipeline: { phase: string; correlationId: unknown; rejectedBy?: unknown }[] = []
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(counter)
      .onCommand({
        name: 'no-nos',
        intercept: ({ command }) => (command.type === 'no' ? reject('no') : undefined),
      })
      .build()
      .materialize()
    handles.gateway.on(
      '@statesource.command',
      (event: { phase: string; correlationId: unknown; rejectedBy?: unknown }) => {
        pipeline.push({
          phase: event.phase,
          correlationId: event.correlationId,
          ...(event.rejectedBy ? { rejectedBy: event.rejectedBy } : {}),
        })
      },
    )
    const counters = handles.repository(counter)
    const result = await counters.send('c', { type: 'yes', n: 1 })
    await counters.send('c', { type: 'no' }, { metadata: { correlationId: 'corr-given' } }).catch(() => {})

    const generated = result.events[0]!.metadata.correlationId
    expect(typeof generated).toBe('string')
    expect(pipeline).toEqual([
      { phase: 'received', correlationId: generated },
      { phase: 'intercepted', correlationId: generated },
      { phase: 'persisted', correlationId: generated },
      { phase: 'received', correlationId: 'corr-given' },
      { phase: 'rejected', correlationId: 'corr-given', rejectedBy: 'no-nos' },
    ])
    await handles.stop()
  })
})
