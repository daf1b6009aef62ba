import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openPostgres } from '../src/index.ts'
import { openFresh, pgUrl } from './pg-test-server.ts'

const root = path.resolve(import.meta.dirname, '../../..')
const child = path.join(import.meta.dirname, 'fixtures/scheduling-child.ts')

/** Runs one "process" of the app on the schema and returns its exit code and JSON line. */
function run(schema: string, mode: 'schedule' | 'start', env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', child, pgUrl(), schema, mode], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  })
  const line = result.stdout.trim().split('\n').filter(Boolean).at(-1)
  return { status: result.status, stderr: result.stderr, output: line ? JSON.parse(line) : undefined }
}

async function inspect(schema: string) {
  const pg = await openPostgres(pgUrl(), { schema, listen: false })
  try {
    const events = await pg.journal.replay('wallet|w-1')
    return {
      credits: events.filter((e) => e.type === 'credited').length,
      overdue: (await pg.scheduleStore.get('overdue'))?.status,
    }
  } finally {
    await pg.close()
  }
}

it('a durable schedule in PostgreSQL survives process restarts and fires exactly once, even after a crash mid-fire', async () => {
  const { pg, schema, dispose } = await openFresh({ listen: false })
  try {
    const first = run(schema, 'schedule')
    expect(first.stderr).toBe('')
    expect(first).toMatchObject({ status: 0, output: { scheduled: ['overdue', 'later'] } })

    const crashed = run(schema, 'start', { CRASH_AFTER_SEND: '1' })
    expect(crashed.status).toBe(3)
    expect(await inspect(schema)).toEqual({ credits: 1, overdue: 'pending' })

    const third = run(schema, 'start')
    expect(third.stderr).toBe('')
    expect(third).toMatchObject({
      status: 0,
      output: { started: { rearmed: 1, fired: 1 }, overdue: 'fired' },
    })

    const fourth = run(schema, 'start')
    expect(fourth).toMatchObject({
      status: 0,
      output: { started: { rearmed: 1, fired: 0 }, overdue: 'fired' },
    })

    const events = await pg.journal.replay('wallet|w-1')
    expect(events.map((e) => [e.type, e.payload, e.metadata.commandId ?? null])).toEqual([
      ['opened', {}, null],
      ['credited', { amount: 10 }, 'overdue'],
    ])
    expect((await pg.scheduleStore.pending()).map((s) => [s.id, s.command])).toEqual([
      ['later', { type: 'credit', amount: 99 }],
    ])
  } finally {
    await dispose()
  }
}, 180_000)
