// Durable scheduling across process restarts, written once and run by each database package on its own database.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import type { Journal, ScheduleStore } from '@statesource/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

const root = path.resolve(import.meta.dirname, '../../..')

/** What a database package hands the scheduling suite for each test. */
export interface SchedulingUnderTest {
  /** Opens the test's database; every call opens the same one. */
  open(): Promise<{ journal: Journal; scheduleStore: ScheduleStore; close(): Promise<void> }>
  /**
   * The app's process: a script that opens this database and calls `runSchedulingProcess`, started as
   * `node --import tsx <script> ...args <mode>`.
   */
  process: { script: string; args: string[] }
  /** Called after each test. */
  dispose?: () => Promise<void> | void
}

/**
 * Durable schedules across restarts of the app's process, a crash between the send and the settle included. Call
 * it inside a vitest file with a factory that gives a fresh, empty database per test.
 */
export function describeSchedulingSuite(
  name: string,
  create: () => Promise<SchedulingUnderTest> | SchedulingUnderTest,
): void {
  describe(`durable scheduling: ${name}`, () => {
    let subject: SchedulingUnderTest
    beforeEach(async () => {
      subject = await create()
    })
    afterEach(async () => {
      await subject.dispose?.()
    })

    /** Runs one process of the app and returns its exit code and JSON line. */
    function run(mode: 'schedule' | 'start', env: Record<string, string> = {}) {
      const { script, args } = subject.process
      const result = spawnSync(process.execPath, ['--import', 'tsx', script, ...args, mode], {
        cwd: root,
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 60_000,
      })
      const line = result.stdout.trim().split('\n').filter(Boolean).at(-1)
      return { status: result.status, stderr: result.stderr, output: line ? JSON.parse(line) : undefined }
    }

    async function inspect() {
      const database = await subject.open()
      try {
        const events = await database.journal.replay('wallet|w-1')
        return {
          credits: events.filter((e) => e.type === 'credited').length,
          overdue: (await database.scheduleStore.get('overdue'))?.status,
        }
      } finally {
        await database.close()
      }
    }

    it('survives process restarts and fires exactly once, even after a crash mid-fire', async () => {
      // Process 1 schedules an overdue command and one due in an hour, then exits before any timer runs.
      const first = run('schedule')
      expect(first.stderr).toBe('')
      expect(first).toMatchObject({ status: 0, output: { scheduled: ['overdue', 'later'] } })

      // Process 2 fires the overdue one at start-up and dies after the send, before marking it fired.
      const crashed = run('start', { CRASH_AFTER_SEND: '1' })
      expect(crashed.status).toBe(3)
      expect(await inspect()).toEqual({ credits: 1, overdue: 'pending' }) // written, but not marked fired

      // Process 3 finds it still pending, fires it again (same command id: a duplicate, nothing written).
      const third = run('start')
      expect(third.stderr).toBe('')
      expect(third).toMatchObject({
        status: 0,
        output: { started: { rearmed: 1, fired: 1 }, overdue: 'fired' },
      })

      // Process 4 has nothing overdue left; the later one is armed again.
      const fourth = run('start')
      expect(fourth).toMatchObject({
        status: 0,
        output: { started: { rearmed: 1, fired: 0 }, overdue: 'fired' },
      })

      const database = await subject.open()
      try {
        const events = await database.journal.replay('wallet|w-1')
        expect(events.map((e) => [e.type, e.payload, e.metadata.commandId ?? null])).toEqual([
          ['opened', {}, null],
          ['credited', { amount: 10 }, 'overdue'],
        ])
        expect((await database.scheduleStore.pending()).map((s) => [s.id, s.command])).toEqual([
          ['later', { type: 'credit', amount: 99 }],
        ])
      } finally {
        await database.close()
      }
    }, 180_000)
  })
}
