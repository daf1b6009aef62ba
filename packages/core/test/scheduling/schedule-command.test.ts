import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  CqrsPattern,
  createInMemoryJournal,
  type Logger,
  type ScheduledCommandInfo,
  scheduleCommand,
} from '../../src/index.ts'
import { account } from '../fixtures.ts'

// Only timers and the clock are faked: the gateway's setImmediate hand-offs keep running for real.
beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }))
afterEach(() => void vi.useRealTimers())

async function start() {
  const journal = createInMemoryJournal()
  const handles = await CqrsPattern.builder({ journal }).withAggregate(account).build().materialize()
  const accounts = handles.repository(account)
  await accounts.send('a', { type: 'open', owner: 'Ada' })
  return { journal, handles, accounts }
}

describe('scheduleCommand', () => {
  it('sends the command once its delay has passed, with its id as command id', async () => {
    const { journal, handles, accounts } = await start()
    const handle = scheduleCommand(
      accounts,
      'a',
      { type: 'deposit', amount: 5 },
      { delay: 1_000 },
      { commandId: 'pay-1' },
    )
    expect(handle.id).toBe('pay-1')
    expect(handle.status).toBe('pending')
    await vi.advanceTimersByTimeAsync(999)
    expect(await journal.highestSeqNr('account|a')).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    const outcome = await handle.done
    expect(outcome.status).toBe('sent')
    expect(handle.status).toBe('sent')
    const events = await journal.replay('account|a')
    expect(events.map((e) => [e.type, e.metadata.commandId])).toEqual([
      ['opened', undefined],
      ['deposited', 'pay-1'],
    ])
    expect(handle.cancel()).toBe(false) // too late
    await handles.stop()
  })

  it('does nothing when cancelled before it fires', async () => {
    const { journal, handles, accounts } = await start()
    const handle = scheduleCommand(
      accounts,
      'a',
      { type: 'deposit', amount: 5 },
      { at: new Date(Date.now() + 500) },
    )
    await vi.advanceTimersByTimeAsync(100)
    expect(handle.cancel()).toBe(true)
    expect(handle.cancel()).toBe(false)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(await handle.done).toEqual({ status: 'cancelled' })
    expect(await journal.highestSeqNr('account|a')).toBe(1)
    await handles.stop()
  })

  it('reports a failure at warn level and through onError, and resolves done with it', async () => {
    const { handles, accounts } = await start()
    const warnings: string[] = []
    const logger: Logger = { warn: (m) => void warnings.push(m), error: () => {} }
    const failures: [string, ScheduledCommandInfo][] = []
    const handle = scheduleCommand(
      accounts,
      'a',
      { type: 'withdraw', amount: 100 },
      { delay: 10 },
      { logger, commandId: 'w-1', onError: (error, info) => void failures.push([error.message, info]) },
    )
    await vi.advanceTimersByTimeAsync(10)
    const outcome = await handle.done
    expect(outcome.status).toBe('failed')
    const reason = 'Command "withdraw" for "account|a" was rejected by decide: insufficient funds'
    expect(warnings).toEqual([
      `Scheduled command "withdraw" for "account" "a" (schedule "w-1") failed: ${reason}`,
    ])
    expect(failures).toEqual([
      [
        reason,
        {
          id: 'w-1',
          aggregateType: 'account',
          aggregateId: 'a',
          command: { type: 'withdraw', amount: 100 },
          dueAt: handle.dueAt,
        },
      ],
    ])
    await handles.stop()
  })

  it('waits out delays longer than setTimeout allows instead of firing at once', async () => {
    const { journal, handles, accounts } = await start()
    const thirtyDays = 30 * 24 * 3_600_000
    const handle = scheduleCommand(accounts, 'a', { type: 'deposit', amount: 1 }, { delay: thirtyDays })
    await vi.advanceTimersByTimeAsync(2 ** 31)
    expect(handle.status).toBe('pending')
    expect(await journal.highestSeqNr('account|a')).toBe(1)
    await vi.advanceTimersByTimeAsync(thirtyDays - 2 ** 31)
    expect((await handle.done).status).toBe('sent')
    await handles.stop()
  })

  it('fires a moment in the past at once, and refuses bad input with typed errors', async () => {
    const { handles, accounts } = await start()
    const past = scheduleCommand(accounts, 'a', { type: 'deposit', amount: 1 }, { at: Date.now() - 60_000 })
    await vi.advanceTimersByTimeAsync(0)
    expect((await past.done).status).toBe('sent')
    expect(() => scheduleCommand(accounts, 'a', { type: 'deposit', amount: 1 }, { delay: -1 })).toThrow(
      'A schedule delay must be a finite number of milliseconds of at least 0, got -1.',
    )
    expect(() => scheduleCommand(accounts, 'a', { type: 'deposit', amount: 1 }, {} as never)).toThrow(
      'A schedule needs { delay: milliseconds } or { at: Date | epochMs }.',
    )
    expect(() =>
      scheduleCommand(accounts, 'a', { type: 'deposit', amount: 1 }, { at: new Date('nonsense') }),
    ).toThrow(/valid Date or epoch milliseconds/)
    expect(() => scheduleCommand(accounts, '', { type: 'deposit', amount: 1 }, { delay: 1 })).toThrow(
      'The aggregate id must be a non-empty string, got "".',
    )
    await handles.stop()
  })
})
