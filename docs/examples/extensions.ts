import {
  CqrsPattern,
  createInMemoryJournal,
  type EventEnvelope,
  type InterceptorContext,
  type InterceptRequest,
  interceptPass,
  interceptReject,
  isStatesourceError,
  reject,
  silentLogger,
  validateWith,
} from '@statesource/core'
import { bufferCount, filter, firstValueFrom, map, Subject, take, toArray } from 'rxjs'
import { sendTo, setup } from 'xstate'
import { z } from 'zod'
import { order } from './aggregates.ts'

export async function main(log: (line: string) => void = console.log) {
  // #region validation
  // Any Standard Schema library works (Zod, Valibot, ArkType, ...): one schema per command type.
  const validation = validateWith(
    { addItem: z.object({ type: z.literal('addItem'), price: z.number().positive() }) },
    { name: 'schemas' },
  )
  // #endregion validation

  // #region authorization
  // An async rule that depends on the aggregate's state: only the cart's owner may pay.
  const ownerOnly = {
    name: 'owner-only',
    aggregates: ['order'],
    async intercept({ command, metadata, state }: InterceptorContext) {
      if (command.type !== 'pay') return undefined
      const owner = await lookUpOwner(state.context) // a database or a permission service
      return metadata.userId === owner
        ? undefined
        : reject(`user "${metadata.userId}" may not pay this order`)
    },
  }
  // #endregion authorization

  // #region actor-interceptor
  // Interceptors can also be actor logic: spawned once in the gateway's system, visible in inspection.
  const businessHours = setup({ types: { events: {} as InterceptRequest } }).createMachine({
    id: 'business-hours',
    on: {
      'statesource.intercept': {
        actions: sendTo(
          ({ event }) => event.replyTo,
          ({ event }) =>
            event.context.metadata.closed === true
              ? interceptReject(event, 'the shop is closed')
              : interceptPass(event, { checkedAt: 'business-hours' }),
        ),
      },
    },
  })
  // #endregion actor-interceptor

  // #region wiring
  const outbox = new Subject<EventEnvelope>()
  const handles = await CqrsPattern.builder({ journal: createInMemoryJournal() })
    .withAggregate(order)
    .logger(silentLogger)
    .onCommand(validation) // interceptors run in this order, before decide
    .onCommand(ownerOnly)
    .onCommand({ name: 'business-hours', logic: businessHours, timeoutMs: 1_000 })
    .onEvent((event, envelope) => log(`listener: ${envelope.seqNr} ${event.type}`)) // after commit, before the reply
    .withTap({ name: 'outbox', events: outbox, bufferSize: 1_000, overflow: 'fail' }) // async, bounded
    .build()
    .materialize()
  // #endregion wiring

  // #region bridge
  // A tap is an Observable source: bridge it into any RxJS pipeline (a queue, a webhook, another system).
  const batches = firstValueFrom(
    handles.events$.pipe(
      filter((e) => e.persistenceId.startsWith('order|')),
      map((e) => `${e.type}#${e.seqNr}`),
      bufferCount(2),
      take(1),
      toArray(),
    ),
  )
  // #endregion bridge
  const fromOutbox = firstValueFrom(outbox.pipe(take(2), toArray()))

  const orders = handles.repository(order)
  const as = (userId: string, extra: Record<string, unknown> = {}) => ({ metadata: { userId, ...extra } })
  await orders.send('o-1', { type: 'addItem', price: 10 }, as('ada'))
  await orders.send('o-1', { type: 'place', at: 1_700_000_000_000 }, as('ada'))
  const attempts = [
    () => orders.send('o-1', { type: 'addItem', price: -5 }, as('ada')),
    () => orders.send('o-1', { type: 'pay' }, as('bob')),
    () => orders.send('o-1', { type: 'pay' }, as('ada', { closed: true })),
  ]
  for (const attempt of attempts) {
    try {
      await attempt()
    } catch (error) {
      if (isStatesourceError(error, 'COMMAND_REJECTED')) log(error.message)
    }
  }
  await orders.send('o-1', { type: 'pay' }, as('ada'))
  log(`bridge: ${JSON.stringify(await batches)}`)
  log(`outbox: ${(await fromOutbox).map((e) => e.metadata.checkedAt).join(',')}`)
  await handles.stop()
}

async function lookUpOwner(_context: unknown): Promise<string> {
  return 'ada'
}
