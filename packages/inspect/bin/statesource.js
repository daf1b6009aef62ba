#!/usr/bin/env node
// Launcher: registers tsx (a dependency of this package) so that the CLI's TypeScript sources and the
// user's --aggregates module load without a build step, then runs the CLI.
import { register } from 'tsx/esm/api'

register()
const { runCli } = await import('../src/cli/cli.ts')
process.exitCode = await runCli(process.argv.slice(2), { out: console.log, err: console.error })
