import { afterEach, describe, expect, it } from 'vitest'
import { type AnyActorRef, createActor, createMachine } from 'xstate'
import { isGatewayEvent } from '../../src/gateway/messages.ts'
import { type CqrsHandles, CqrsPattern, createInMemoryJournal, type Journal } from '../../src/index.ts'
import { account } from '../fixtures.ts'

const running: CqrsHandles[] = []
afterEach(async () => {
  for (const handles of running.splice(0)) await handles.stop()
})

async function start(journal: Journal = createInMemoryJournal()) {
  const warnings: { message: string; details: Record<string, unknown> | undefined }[] = []
  const handles = await CqrsPattern.builder({ journal })
    .withAggregate(account)
    .logger({ warn: (message, details) => warnings.push({ message, details }), error: () => {} })
    .build()
    .materialize()
  running.push(handles)
  return { handles, gateway: handles.gateway as AnyActorRef, accounts: handles.repository(account), warnings }
}

describe('isGatewayEvent', () => {
  it('accepts the messages the gateway handles, told by their type', () => {
    const child = createActor(createMachine({}))
    for (const message of [
      { type: 'statesource.command', aggregateType: 'account', id: 'a', command: { type: 'open' } },
      { type: 'statesource.state', aggregateType: 'account', id: 'a', reply: () => {} },
      { type: 'statesource.sweep' },
      { type: 'statesource.intercept.pass', requestId: 'r-1' },
      { type: 'statesource.intercept.reject', requestId: 'r-1', reason: 'no' },
      { type: 'xstate.stop' },
      { type: 'xstate.error.actor.account|a', error: new Error('boom') },
      { type: `xstate.done.actor.${child.id}` },
    ]) {
      expect(isGatewayEvent(message), message.type).toBe(true)
    }
  })

  it('refuses anything else', () => {
    for (const message of [
      undefined,
      null,
      'statesource.command',
      42,
      {},
      { type: 7 },
      { type: 'deposit' },
    ]) {
      expect(isGatewayEvent(message), JSON.stringify(message)).toBe(false)
    }
  })
})

describe('a message the gateway does not handle', () => {
  it('is reported to the logger once per type and ignored; commands are still served', async () => {
    const { gateway, accounts, warnings, handles } = await start()
    gateway.send({ type: 'deposit', amount: 5 } as never)
    gateway.send({ type: 'deposit', amount: 6 } as never)
    gateway.send({ type: 'withdraw' } as never)
    expect(warnings.map((w) => w.details?.type)).toEqual(['deposit', 'withdraw'])
    expect(warnings[0]!.message).toContain('The gateway ignored a message it does not handle: "deposit"')
    expect((await accounts.send('u-1', { type: 'open', owner: 'Ada' })).version).toBe(1)
    expect(handles.stats.commands).toBe(1)
  })

  it('is not reported when it is XState telling that an aggregate reached its final state', async () => {
    const { accounts, warnings } = await start()
    await accounts.send('f-1', { type: 'open', owner: 'Ada' })
    await accounts.send('f-1', { type: 'close' })
    await new Promise((resolve) => setImmediate(resolve))
    expect(warnings).toEqual([])
  })
})

describe('stopping the gateway', () => {
  it('leaves no aggregate counted as live or recovering, and refuses what waited for a recovery', async () => {
    const inner = createInMemoryJournal()
    let release: () => void = () => {}
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const journal: Journal = {
      append: (requests) => inner.append(requests),
      replay: (pid, options) => inner.replay(pid, options),
      highestSeqNr: (pid) => inner.highestSeqNr(pid),
      deleteTo: (pid, to) => inner.deleteTo(pid, to),
      readForRecovery: async (pid, options) => {
        if (pid === 'account|slow') await held
        return inner.readForRecovery(pid, options)
      },
    }
    const { handles, accounts } = await start(journal)
    await accounts.send('fast', { type: 'open', owner: 'Ada' })
    const waiting = accounts.send('slow', { type: 'open', owner: 'Bob' })
    expect(handles.stats).toMatchObject({ live: 1, recovering: 1 })
    handles.gateway.stop()
    await expect(waiting).rejects.toMatchObject({ code: 'GATEWAY_STOPPED' })
    expect(handles.stats).toMatchObject({ live: 0, recovering: 0 })
    release()
  })
})
