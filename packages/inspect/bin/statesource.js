#!/usr/bin/env node
// Launcher of the `statesource` CLI. tsx (a dependency of this package) is registered so that a user's
// `--aggregates` module may be TypeScript. An installed package runs its built dist/; in the statesource
// repository (where src/ sits next to this file and dist/ may not be built) the CLI runs from its TypeScript
// sources, and @statesource/* imports resolve to the other packages' sources through the
// "@statesource/source" export condition, which a resolve hook adds.
import { existsSync } from 'node:fs'
import { register } from 'node:module'
import { register as registerTsx } from 'tsx/esm/api'

const fromSource = existsSync(new URL('../src/cli/cli.ts', import.meta.url))
if (fromSource) {
  const addCondition = `export function resolve(specifier, context, next) {
    return next(specifier, { ...context, conditions: [...context.conditions, '@statesource/source'] })
  }`
  register(`data:text/javascript,${encodeURIComponent(addCondition)}`)
}
registerTsx()
const { runCli } = await import(fromSource ? '../src/cli/cli.ts' : '../dist/cli/cli.js')
process.exitCode = await runCli(process.argv.slice(2), { out: console.log, err: console.error })
