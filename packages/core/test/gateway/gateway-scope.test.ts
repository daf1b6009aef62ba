// The gateway reaches past XState's public API in two places (gateway-scope.ts). These tests fail when an
// XState release removes or changes what they rely on, instead of the gateway silently degrading.
import { afterEach, describe, expect, it } from 'vitest'
import { type AnyActorRef, createActor, createMachine, type InspectionEvent, setup, spawnChild } from 'xstate'
import { hasEmitListeners } from '../../src/gateway/gateway-scope.ts'
import { CqrsPattern, createInMemoryJournal, createRepository, silentLogger } from '../../src/index.ts'
import { account } from '../fixtures.ts'

const stops: (() => void)[] = []
afterEach(() => {
  for (const stop of stops.splice(0)) stop()
})

function startBank(inspect?: (event: InspectionEvent) => void) {
  const topology = CqrsPattern.builder({ journal: createInMemoryJournal(), name: 'bank' })
    .withAggregate(account)
    .logger(silentLogger)
    .build()
  const app = setup({ actors: { gateway: topology.gateway } }).createMachine({
    entry: spawnChild('gateway', { systemId: 'bank', id: 'bank' }),
  })
  const actor = createActor(app, inspect ? { inspect } : {}).start()
  stops.push(() => actor.stop())
  const gateway = actor.system.get('bank') as AnyActorRef
  return { gateway, accounts: createRepository(gateway, account) }
}

describe("the gateway's use of XState internals", () => {
  it('sends domain events to an aggregate actor as the gateway, so inspection names the gateway as their source (system._relay)', async () => {
    const delivered: InspectionEvent[] = []
    const { gateway, accounts } = startBank((event) => {
      if (event.type === '@xstate.event' && (event.actorRef as AnyActorRef).id === 'account|a-1')
        delivered.push(event)
    })
    await accounts.send('a-1', { type: 'open', owner: 'Ada' })
    await accounts.send('a-1', { type: 'deposit', amount: 5 })
    const domainEvents = delivered.filter(
      (e) => e.type === '@xstate.event' && !e.event.type.startsWith('xstate.'),
    )
    expect(domainEvents.map((e) => e.type === '@xstate.event' && e.event.type)).toEqual([
      'opened',
      'deposited',
    ])
    for (const event of domainEvents) {
      expect(event.type === '@xstate.event' && event.sourceRef).toBe(gateway)
    }
  })

  it("tells whether anyone listens to an actor's emitted events (the actor's eventListeners)", () => {
    const actor = createActor(createMachine({})).start()
    stops.push(() => actor.stop())
    expect(hasEmitListeners(actor)).toBe(false)
    actor.on('*', () => {})
    expect(hasEmitListeners(actor)).toBe(true)
  })

  it("builds the gateway's pipeline events for a listener that subscribes after the gateway started", async () => {
    const { gateway, accounts } = startBank()
    expect(hasEmitListeners(gateway)).toBe(false)
    const phases: unknown[] = []
    gateway.on('@statesource.command', (event: { phase?: unknown }) => phases.push(event.phase))
    await accounts.send('a-2', { type: 'open', owner: 'Ada' })
    expect(phases).toEqual(['received', 'persisted'])
  })
})
