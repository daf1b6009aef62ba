// #region spawn
import { CqrsPattern, createInMemoryJournal, createRepository } from '@statesource/core'
import { type AnyActorRef, createActor, setup, spawnChild } from 'xstate'
import { order } from './aggregates.ts'

const topology = CqrsPattern.builder({ journal: createInMemoryJournal(), name: 'shop' })
  .withAggregate(order)
  .recoveryPermits(4)
  .passivation({ idleTimeoutMs: 60_000, maxLive: 10_000 })
  .build()

// The application's own system: the gateway is one of its actors.
const app = setup({ actors: { gateway: topology.gateway } }).createMachine({
  entry: spawnChild('gateway', { systemId: 'shop', id: 'shop' }),
})
// #endregion spawn

export async function main(log: (line: string) => void = console.log) {
  // #region use
  const actor = createActor(app).start()
  const orders = createRepository(actor.system.get('shop') as AnyActorRef, order)
  await orders.send('o-1', { type: 'addItem', price: 25 })
  const placed = await orders.send('o-1', { type: 'place', at: Date.now() })
  log(`order|o-1 at version ${placed.version}`) // order|o-1 at version 2

  // Each aggregate is a real child actor of the gateway, visible to inspection and system.get.
  const child = actor.system.get('statesource:order|o-1') as AnyActorRef
  log(JSON.stringify(child.getSnapshot().value)) // {"placed":"awaitingPayment"}
  actor.stop() // stops the gateway and every aggregate actor
  // #endregion use
}
