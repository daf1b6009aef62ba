import path from 'node:path'
import { parseArgs } from 'node:util'
import { runDemo } from './app.ts'

// `pnpm demo` runs this from packages/demo; INIT_CWD is where the user typed the command, so a relative
// --db path (and the default file) lands where they expect it.
const cwd = process.env.INIT_CWD ?? process.cwd()

const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

const usage = `Usage: pnpm demo [--db <path>] [--postgres [url]] [--orders <n>] [--concurrency <n>] [--payment-window <ms>] [--reset] [--quiet]

  --db <path>            SQLite file (default ./statesource-demo.db); a second run continues from it
  --postgres [url]       run on PostgreSQL instead, in the schema statesource_demo (url default: $STATESOURCE_PG_URL,
                         $DATABASE_URL or ${DEFAULT_PG_URL}); a second run continues from it
  --orders <n>           new orders to place (default 2000, about 25,000 commands)
  --concurrency <n>      orders in flight at once (default 100)
  --payment-window <ms>  real time before an unpaid order is cancelled by its scheduled command (default 2000)
  --reset                delete the database first and start over
  --quiet                print nothing`

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(`${flag} must be a whole number of at least 1, got "${value}".\n\n${usage}\n`)
    process.exit(2)
  }
  return n
}

// `pnpm demo -- --reset` (the npm habit) hands the script a leading `--`; the flags after it are meant all the same.
const argv = process.argv.slice(2)
if (argv[0] === '--') argv.shift()

// --postgres takes an optional URL, which parseArgs cannot express: take it (and its value) out first.
let postgresUrl: string | undefined
const pgFlag = argv.findIndex((arg) => arg === '--postgres' || arg.startsWith('--postgres='))
if (pgFlag >= 0) {
  const flag = argv[pgFlag]!
  const value = flag.includes('=') ? flag.slice(flag.indexOf('=') + 1) : argv[pgFlag + 1]
  const given = value !== undefined && !value.startsWith('--')
  postgresUrl = given ? value : (process.env.STATESOURCE_PG_URL ?? process.env.DATABASE_URL ?? DEFAULT_PG_URL)
  argv.splice(pgFlag, given && !flag.includes('=') ? 2 : 1)
}

let values: ReturnType<typeof parse>['values']
function parse() {
  return parseArgs({
    args: argv,
    options: {
      db: { type: 'string', default: 'statesource-demo.db' },
      orders: { type: 'string' },
      concurrency: { type: 'string' },
      'payment-window': { type: 'string' },
      reset: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
}
try {
  values = parse().values
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n\n${usage}\n`)
  process.exit(2)
}
if (values.help) {
  process.stdout.write(`${usage}\n`)
  process.exit(0)
}

const orders = integer(values.orders, '--orders')
const concurrency = integer(values.concurrency, '--concurrency')
const paymentWindowMs = integer(values['payment-window'], '--payment-window')
const summary = await runDemo({
  dbPath: path.resolve(cwd, values.db),
  cwd,
  reset: values.reset,
  quiet: values.quiet,
  ...(postgresUrl !== undefined ? { postgresUrl } : {}),
  ...(orders !== undefined ? { orders } : {}),
  ...(concurrency !== undefined ? { concurrency } : {}),
  ...(paymentWindowMs !== undefined ? { paymentWindowMs } : {}),
})
if (summary.commands.unexpected.length > 0) process.exitCode = 1
