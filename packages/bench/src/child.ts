/**
 * One benchmark case in its own process: `node --import tsx src/child.ts <case> '<options as JSON>'`.
 * Prints the case's result as one JSON line prefixed with `RESULT ` on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runCommandCase } from './cases/command-case.ts'
import { runJournalAppend } from './cases/journal-case.ts'
import { runMemory } from './cases/memory-case.ts'
import { runPostgresCase } from './cases/postgres-case.ts'
import { runRawAppend } from './cases/raw-case.ts'
import { runCatchup, runLagPoller, runLagUnderLoad } from './cases/read-side-case.ts'
import { prepareRecovery, runColdRecovery } from './cases/recovery-case.ts'
import { RESULT_PREFIX } from './child-protocol.ts'

const cases = {
  command: (o: any, dir: string) => runCommandCase(o, dir),
  raw: (o: any, dir: string) => runRawAppend({ ...o, dir }),
  journal: (o: any, dir: string) => runJournalAppend({ ...o, dir }),
  'recovery-prep': (o: any) => prepareRecovery(o),
  'recovery-cold': (o: any) => runColdRecovery(o),
  memory: (o: any, dir: string) => runMemory({ ...o, dir }),
  catchup: (o: any) => runCatchup(o),
  lag: (o: any, dir: string) => runLagUnderLoad({ ...o, dir }),
  'lag-poller': (o: any) => runLagPoller(o),
  postgres: (o: any) => runPostgresCase(o),
} as const

/** The names of the cases a child process can run. */
export type CaseName = keyof typeof cases

/**
 * Runs one case in this process, in a scratch directory of its own (removed afterwards); what a child
 * process prints as its result line. `pnpm bench --quick` calls it directly to spare process start-ups.
 *
 * @example
 * ```ts
 * const runs = await runCaseHere('raw', { synchronous: 'FULL', workload: { commands: 1_000, streams: 50 }, batches: [100] })
 * ```
 */
export async function runCaseHere(name: string, options: Record<string, unknown>): Promise<unknown> {
  const run = cases[name as CaseName]
  if (!run) throw new Error(`Unknown benchmark case "${name}". Known: ${Object.keys(cases).join(', ')}.`)
  const dir = mkdtempSync(
    path.join(typeof options.dir === 'string' ? options.dir : os.tmpdir(), `statesource-bench-${name}-`),
  )
  try {
    return await run(options, dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  const [name, json] = process.argv.slice(2)
  const result = await runCaseHere(name ?? '', JSON.parse(json ?? '{}') as Record<string, unknown>)
  // Wait until the line is handed to the pipe: `process.exit` would cut a large result written to a pipe.
  await new Promise<void>((resolve, reject) =>
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`, (error) =>
      error ? reject(error) : resolve(),
    ),
  )
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
}
