/**
 * One benchmark case in its own process: `node --import tsx src/child.ts <case> '<options as JSON>'`.
 * Prints the case's result as one JSON line prefixed with `RESULT ` on stdout.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { runEmmettCommands } from './cases/emmett-case.ts'
import { runJournalAppend } from './cases/journal-case.ts'
import { runMemory } from './cases/memory-case.ts'
import { runPostgresCase } from './cases/postgres-case.ts'
import { runRawAppend } from './cases/raw-case.ts'
import { runReadSide } from './cases/read-side-case.ts'
import { runRecovery } from './cases/recovery-case.ts'
import { runStatesourceCommands } from './cases/statesource-case.ts'
import { RESULT_PREFIX } from './child-protocol.ts'

const cases = {
  emmett: (o: any, dir: string) => runEmmettCommands({ ...o, file: path.join(dir, 'emmett.db') }),
  statesource: (o: any, dir: string) =>
    runStatesourceCommands({ ...o, file: path.join(dir, 'statesource.db') }),
  raw: async (o: any, dir: string) => runRawAppend({ ...o, file: path.join(dir, 'raw.db') }),
  journal: (o: any, dir: string) => runJournalAppend({ ...o, dir }),
  recovery: (o: any, dir: string) => runRecovery({ ...o, dir }),
  memory: (o: any, dir: string) => runMemory({ ...o, dir }),
  'read-side': (o: any, dir: string) => runReadSide({ ...o, dir }),
  postgres: (o: any) => runPostgresCase(o),
} as const

/** The names of the cases a child process can run. */
export type CaseName = keyof typeof cases

async function main(): Promise<void> {
  const [name, json] = process.argv.slice(2)
  const run = cases[name as CaseName]
  if (!run) throw new Error(`Unknown benchmark case "${name}". Known: ${Object.keys(cases).join(', ')}.`)
  const options = JSON.parse(json ?? '{}') as Record<string, unknown>
  const dir = mkdtempSync(
    path.join(typeof options.dir === 'string' ? options.dir : os.tmpdir(), `statesource-bench-${name}-`),
  )
  try {
    const result = await run(options, dir)
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
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
