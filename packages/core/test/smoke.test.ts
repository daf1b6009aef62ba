import { expect, it } from 'vitest'
import { CqrsPattern, createInMemoryJournal } from '../src/index.ts'
import { account } from './fixtures.ts'

it('smoke', async () => {
  const journal = createInMemoryJournal()
  const handles = await CqrsPattern.builder({ journal }).withAggregate(account).build().materialize()
  const accounts = handles.repository(account)
  const r1 = await accounts.send('a-1', { type: 'open', owner: 'Ada' })
  expect(r1.version).toBe(1)
  const r2 = await accounts.send('a-1', { type: 'deposit', amount: 10 })
  expect(r2.version).toBe(2)
  await expect(accounts.send('a-1', { type: 'withdraw', amount: 100 })).rejects.toMatchObject({ code: 'COMMAND_REJECTED' })
  await expect(accounts.send('a-1', { type: 'forceWithdraw', amount: 100 })).rejects.toThrow(/not accepted/)
  expect(handles.runtime.liveState('account|a-1')?.context).toEqual({ owner: 'Ada', balance: 10 })
  await handles.stop()
})
