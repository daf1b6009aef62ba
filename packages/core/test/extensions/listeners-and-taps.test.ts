import { filter, firstValueFrom, map, Subject, take, toArray } from 'rxjs'
import { describe, expect, it } from 'vitest'
import { type AnyActorRef, assign, setup } from 'xstate'
import {
  CqrsPattern,
  createInMemoryJournal,
  type EventEnvelope,
  type Logger,
  type TappedCommand,
  type TapReport,
} from '../../src/index.ts'
import { account } from '../fixtures.ts'

function collectingLogger() {
  const warnings: string[] = []
  const errors: string[] = []
  const logger: Logger = { warn: (m) => void warnings.push(m), error: (m) => void errors.push(m) }
  return { logger, warnings, errors }
}

describe('listeners', () => {
  it('runs in order for each persisted event, before the reply', async () => {
    const order: string[] = []
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(account)
      .onEvent({ name: 'a', onEvent: (_e, env) => void order.push(`a${env.seqNr}`) })
      .onEvent({ name: 'b', onEvent: (_e, env) => void order.push(`b${env.seqNr}`) })
      .build()
      .materialize()
    const accounts = handles.repository(account)
    await accounts.send('x', { type: 'open', owner: 'A' })
    order.length = 0
    const reply = accounts.send('x', { type: 'twice', amount: 1 }).then(() => order.push('reply'))
    await reply
    expect(order).toEqual(['a2', 'b2', 'a3', 'b3', 'reply'])
    await handles.stop()
  })

  it('reports a throwing listener and still succeeds, with the other hooks running', async () => {
    const { logger, warnings } = collectingLogger()
    const after: string[] = []
    const tapped: string[] = []
    const failures: Record<string, unknown>[] = []
    const topology = CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(account)
      .logger(logger)
      .onEvent({
        name: 'broken',
        onEvent: () => {
          throw new Error('listener down')
        },
      })
      .onEvent({ name: 'after', onEvent: (e) => void after.push(e.type) })
      .onEvent({ name: 'async-broken', onEvent: async () => Promise.reject(new Error('async down')) })
      .withTap({ name: 'tap', events: (e) => void tapped.push(e.type) })
      .build()
    const handles = await topology.materialize()
    handles.gateway.on('@statesource.listener-failed', (e: Record<string, unknown>) => void failures.push(e))
    const result = await handles.repository(account).send(
      'x',
      { type: 'open', owner: 'A' },
      {
        metadata: { correlationId: 'c-1' },
      },
    )
    expect(result.version).toBe(1)
    await topology.taps.flush()
    expect(after).toEqual(['opened'])
    expect(tapped).toEqual(['opened'])
    expect(warnings).toContain(
      'Listener "broken" threw on event 1 of "account|x": listener down. The command still succeeded: its events are durable.',
    )
    expect(warnings).toContain(
      'Listener "async-broken" threw on event 1 of "account|x": async down. The command still succeeded: its events are durable.',
    )
    expect(failures.map((f) => [f.listener, f.seqNr, f.error, f.correlationId])).toEqual([
      ['broken', 1, 'listener down', 'c-1'],
      ['async-broken', 1, 'async down', 'c-1'],
    ])
    await handles.stop()
  })
})

describe('taps', () => {
  it('isolates a throwing tap: the command succeeds and the other taps and listeners still run', async () => {
    const { logger, warnings } = collectingLogger()
    const reports: TapReport[] = []
    const good: number[] = []
    const heard: number[] = []
    const topology = CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(account)
      .logger(logger)
      .onEvent((_e, env) => void heard.push(env.seqNr))
      .withTap({
        name: 'broken',
        events: () => {
          throw new Error('tap down')
        },
        onReport: (r) => void reports.push(r),
      })
      .withTap({ name: 'good', events: (e) => void good.push(e.seqNr) })
      .build()
    const handles = await topology.materialize()
    const accounts = handles.repository(account)
    await accounts.send('x', { type: 'open', owner: 'A' })
    await accounts.send('x', { type: 'deposit', amount: 5 })
    await topology.taps.flush()
    expect(good).toEqual([1, 2])
    expect(heard).toEqual([1, 2])
    expect(reports.map((r) => [r.tap, r.kind, r.error?.message])).toEqual([
      ['broken', 'delivery-failed', 'tap down'],
      ['broken', 'delivery-failed', 'tap down'],
    ])
    expect(warnings.filter((w) => w === 'Tap "broken" failed to take an item: tap down')).toHaveLength(2)
    expect(handles.tapStatus()).toEqual([
      { name: 'broken', delivered: 0, dropped: 0, errors: 2, buffered: 0, failed: false },
      { name: 'good', delivered: 2, dropped: 0, errors: 0, buffered: 0, failed: false },
    ])
    await handles.stop()
  })

  /** A tap target that holds the first item until released, so the buffer fills deterministically. */
  function gatedTarget() {
    const received: number[] = []
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let firstArrived!: () => void
    const arrived = new Promise<void>((r) => (firstArrived = r))
    const target = async (e: EventEnvelope) => {
      received.push(e.seqNr)
      firstArrived()
      await gate
    }
    return { target, received, arrived, release }
  }

  it("drops the oldest items when full under 'drop-oldest', never blocking a command", async () => {
    const { logger, warnings } = collectingLogger()
    const gated = gatedTarget()
    const reports: TapReport[] = []
    const fast: number[] = []
    const topology = CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(account)
      .logger(logger)
      .withTap({
        name: 'slow',
        events: gated.target,
        bufferSize: 2,
        overflow: 'drop-oldest',
        onReport: (r) => void reports.push(r),
      })
      .withTap({ name: 'fast', events: (e) => void fast.push(e.seqNr) })
      .build()
    const handles = await topology.materialize()
    const accounts = handles.repository(account)
    await accounts.send('x', { type: 'open', owner: 'A' }) // the tap holds this one
    await gated.arrived
    for (const amount of [1, 2, 3, 4]) await accounts.send('x', { type: 'deposit', amount })
    expect(topology.taps.status().find((s) => s.name === 'slow')).toMatchObject({ dropped: 2, buffered: 2 })
    gated.release()
    await topology.taps.flush()
    expect(gated.received).toEqual([1, 4, 5]) // the one it held, then the two newest
    expect(reports.map((r) => [r.kind, (r.value as EventEnvelope).seqNr])).toEqual([
      ['dropped', 2],
      ['dropped', 3],
    ])
    expect(warnings.filter((w) => w.startsWith('Tap "slow" is full'))).toHaveLength(1)
    expect(fast).toEqual([1, 2, 3, 4, 5])
    expect(handles.tapStatus().find((s) => s.name === 'slow')).toEqual({
      name: 'slow',
      delivered: 3,
      dropped: 2,
      errors: 0,
      buffered: 0,
      failed: false,
    })
    await handles.stop()
  })

  it("stops the tap for good when full under 'fail', leaving other taps and commands alone", async () => {
    const { logger, errors } = collectingLogger()
    const gated = gatedTarget()
    const reports: TapReport[] = []
    const fast: number[] = []
    const topology = CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(account)
      .logger(logger)
      .withTap({
        name: 'strict',
        events: gated.target,
        bufferSize: 2,
        overflow: 'fail',
        onReport: (r) => void reports.push(r),
      })
      .withTap({ name: 'fast', events: (e) => void fast.push(e.seqNr) })
      .build()
    const handles = await topology.materialize()
    const accounts = handles.repository(account)
    await accounts.send('x', { type: 'open', owner: 'A' })
    await gated.arrived
    for (const amount of [1, 2, 3, 4]) {
      expect((await accounts.send('x', { type: 'deposit', amount })).version).toBe(amount + 1)
    }
    gated.release()
    await topology.taps.flush()
    expect(gated.received).toHaveLength(1) // only the item it held when it overflowed
    expect(reports.map((r) => r.kind)).toEqual(['stopped'])
    expect(errors).toEqual([
      "Tap \"strict\" overflowed its buffer of 2 events and was stopped (overflow policy 'fail'). Raise bufferSize, make the target faster, or use overflow 'drop-oldest'.",
    ])
    expect(handles.tapStatus().find((s) => s.name === 'strict')).toMatchObject({ failed: true, buffered: 0 })
    expect(fast).toEqual([1, 2, 3, 4, 5])
    await handles.stop()
  })

  it('delivers accepted commands to command taps, and rejected ones only when asked', async () => {
    const accepted: string[] = []
    const all: string[] = []
    const topology = CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(account)
      .withTap({ name: 'accepted', commands: (c) => void accepted.push(`${c.command.type}:${c.outcome}`) })
      .withTap({
        name: 'all',
        commands: (c) => void all.push(`${c.command.type}:${c.outcome}`),
        includeRejected: true,
      })
      .build()
    const handles = await topology.materialize()
    const accounts = handles.repository(account)
    await accounts.send('x', { type: 'open', owner: 'A' })
    await accounts.send('x', { type: 'withdraw', amount: 100 }).catch(() => {})
    await topology.taps.flush()
    expect(accepted).toEqual(['open:persisted'])
    expect(all).toEqual(['open:persisted', 'withdraw:rejected'])
    await handles.stop()
  })

  it('delivers to an RxJS Subject and to actor logic spawned in the gateway system', async () => {
    const subject = new Subject<EventEnvelope>()
    const fromSubject = firstValueFrom(subject.pipe(take(2), toArray()))
    const collector = setup({
      types: {
        context: {} as { seen: string[] },
        events: {} as
          | { type: 'statesource.event'; value: EventEnvelope }
          | { type: 'statesource.command'; value: TappedCommand },
      },
    }).createMachine({
      id: 'collector',
      context: { seen: [] },
      on: {
        'statesource.event': {
          actions: assign({ seen: ({ context, event }) => [...context.seen, event.value.type] }),
        },
        'statesource.command': {
          actions: assign({
            seen: ({ context, event }) => [...context.seen, `cmd:${event.value.command.type}`],
          }),
        },
      },
    })
    const actors = new Map<string, AnyActorRef>()
    const topology = CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(account)
      .withTap({ name: 'subject', events: subject })
      .withTap({ name: 'actor', events: collector, commands: collector })
      .build()
    const handles = await topology.materialize({
      inspect: (e) => {
        if (e.type === '@xstate.actor') actors.set((e.actorRef as AnyActorRef).id, e.actorRef as AnyActorRef)
      },
    })
    const accounts = handles.repository(account)
    await accounts.send('x', { type: 'open', owner: 'A' })
    await accounts.send('x', { type: 'deposit', amount: 3 })
    await topology.taps.flush()
    expect((await fromSubject).map((e) => e.type)).toEqual(['opened', 'deposited'])
    const actor = actors.get('statesource.tap.actor.1')
    expect(actor?.system).toBe(handles.gateway.system)
    // Each stream keeps its order; the two streams of a tap are buffered separately.
    const seen: string[] = actor?.getSnapshot().context.seen
    expect(seen.filter((s) => !s.startsWith('cmd:'))).toEqual(['opened', 'deposited'])
    expect(seen.filter((s) => s.startsWith('cmd:'))).toEqual(['cmd:open', 'cmd:deposit'])
    await handles.stop()
    expect(actor?.getSnapshot().status).toBe('stopped')
  })

  it('exposes events$ as an Observable source to bridge into an RxJS pipeline', async () => {
    const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
      .withAggregate(account)
      .build()
      .materialize()
    const deposits = firstValueFrom(
      handles.events$.pipe(
        filter((e) => e.type === 'deposited'),
        map((e) => (e.payload as { amount: number }).amount),
        take(2),
        toArray(),
      ),
    )
    const accounts = handles.repository(account)
    await accounts.send('x', { type: 'open', owner: 'A' })
    await accounts.send('x', { type: 'deposit', amount: 5 })
    await accounts.send('x', { type: 'deposit', amount: 7 })
    expect(await deposits).toEqual([5, 7])
    await handles.stop()
  })

  it('refuses a tap without a target or with a bad buffer size', () => {
    const builder = () => CqrsPattern.builder({ journal: createInMemoryJournal() }).withAggregate(account)
    expect(() => builder().withTap({ name: 'empty' }).build()).toThrow(
      'Tap "empty" has neither events nor commands; give it at least one target.',
    )
    expect(() =>
      builder()
        .withTap({ name: 'zero', events: () => {}, bufferSize: 0 })
        .build(),
    ).toThrow('Tap "zero" bufferSize must be an integer of at least 1, got 0.')
  })
})
