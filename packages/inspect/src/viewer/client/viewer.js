// The lifecycle viewer's page: lists streams, draws one aggregate's chart with Mermaid (served locally)
// and scrubs through its journal, loading events in pages from the viewer's JSON API.
const $ = (id) => document.getElementById(id)
const MAX_CACHED_PAGES = 50

const view = {
  type: null,
  pid: null,
  aggregate: null,
  pages: new Map(),
  position: 0,
  renderToken: 0,
  requests: 0,
}

window.mermaid.initialize({
  startOnLoad: false,
  securityLevel: 'strict',
  theme: 'neutral',
  // At the top level: the flowchart setting alone leaves state names rendered as HTML.
  htmlLabels: false,
  flowchart: { htmlLabels: false },
})

async function getJson(path) {
  view.requests++
  const res = await fetch(path)
  const body = await res.json()
  if (!res.ok) throw new Error(body.error ?? `${res.status} ${res.statusText}`)
  return body
}

function text(value) {
  return JSON.stringify(value, null, 2) ?? 'undefined'
}

async function loadStreams() {
  const params = new URLSearchParams({ q: $('search').value })
  if (view.type) params.set('type', view.type)
  const data = await getJson(`/api/streams?${params}`)
  $('title').textContent = data.title
  const types = $('types')
  types.replaceChildren(
    ...data.types.map((t) => {
      const b = document.createElement('button')
      b.type = 'button'
      b.textContent = `${t.type || '(no type)'} · ${t.count}`
      b.dataset.type = t.type
      if (t.type === view.type) b.classList.add('selected')
      b.onclick = () => {
        view.type = view.type === t.type ? null : t.type
        void loadStreams()
      }
      return b
    }),
  )
  $('count').textContent =
    data.total > data.streams.length
      ? `${data.streams.length} of ${data.total} shown; refine the search`
      : `${data.total} aggregate${data.total === 1 ? '' : 's'}`
  $('streams').replaceChildren(
    ...data.streams.map((s) => {
      const li = document.createElement('li')
      li.textContent = s.persistenceId
      li.dataset.pid = s.persistenceId
      if (s.persistenceId === view.pid) li.classList.add('selected')
      li.onclick = () => openAggregate(s.persistenceId)
      return li
    }),
  )
}

async function openAggregate(pid, position) {
  const aggregate = await getJson(`/api/aggregate?pid=${encodeURIComponent(pid)}`)
  view.pid = pid
  view.aggregate = aggregate
  view.pages = new Map()
  for (const li of $('streams').children) li.classList.toggle('selected', li.dataset.pid === pid)
  $('empty').hidden = true
  $('aggregate').hidden = false
  $('pid').textContent = pid
  $('no-chart').hidden = aggregate.chart !== null
  const scrubber = $('scrubber')
  scrubber.max = String(aggregate.events)
  const chart = $('chart')
  chart.replaceChildren()
  chart.dataset.ready = 'false'
  if (aggregate.chart) {
    const { svg } = await window.mermaid.render(`chart-${Date.now()}`, aggregate.chart.mermaid)
    chart.innerHTML = svg
  }
  chart.dataset.ready = 'true'
  const start = position ?? aggregate.events
  scrubber.value = String(start)
  await show(start)
}

function pageOf(seqNr) {
  return Math.floor((seqNr - 1) / view.aggregate.pageSize)
}

/** The steps from `from` to the end of its page, or the first part of them when the server cut it by bytes. */
function chunkAt(from, end) {
  let chunk = view.pages.get(from)
  if (!chunk) {
    const pid = encodeURIComponent(view.pid)
    chunk = getJson(`/api/steps?pid=${pid}&from=${from}&limit=${end - from + 1}`)
    view.pages.set(from, chunk)
    if (view.pages.size > MAX_CACHED_PAGES) view.pages.delete(view.pages.keys().next().value)
    chunk.catch(() => view.pages.delete(from))
  }
  return chunk
}

async function stepAt(seqNr) {
  const start = pageOf(seqNr) * view.aggregate.pageSize + 1
  const end = start + view.aggregate.pageSize - 1
  // Deleted events leave gaps: show the last step at or before the position.
  let found
  for (let from = start; ; ) {
    const { steps, next } = await chunkAt(from, end)
    for (const s of steps) if (s.seqNr <= seqNr) found = s
    if (next === undefined || next > seqNr) return found
    from = next
  }
}

async function show(position) {
  const token = ++view.renderToken
  view.position = position
  const agg = view.aggregate
  const step = position === 0 ? undefined : await stepAt(position)
  if (token !== view.renderToken) return
  const state = step ? step.state : agg.initial
  $('position').textContent =
    `event ${position} of ${agg.events}${step ? ` · ${step.type}` : ' · initial state'}`
  $('event').textContent = step
    ? text({
        seqNr: step.seqNr,
        type: step.type,
        version: step.version,
        payload: step.payload,
        tags: step.tags,
        ordering: step.ordering,
        at: new Date(step.timestamp).toISOString(),
      })
    : 'Before the first event.'
  $('metadata').textContent = step ? text(step.metadata) : '{}'
  const stateText = state
    ? text({ value: state.value, status: state.status, context: state.context })
    : 'No aggregate given: no replay.'
  $('state').textContent = step?.problem ? `${step.problem}\n\n${stateText}` : stateText
  $('state').classList.toggle('problem', Boolean(step?.problem))
  highlight(state ? state.activeStates : [])
  const hash = `#pid=${encodeURIComponent(view.pid)}&seq=${position}`
  if (location.hash !== hash) history.replaceState(null, '', hash)
}

function highlight(activeStates) {
  const chart = $('chart')
  for (const el of chart.querySelectorAll('.ss-active, .ss-active-parent')) {
    el.classList.remove('ss-active', 'ss-active-parent')
  }
  const ids = view.aggregate?.chart?.stateIds
  chart.dataset.activeStates = activeStates.join(',')
  if (!ids) return
  for (const stateId of activeStates) {
    const mermaidId = ids[stateId]
    if (!mermaidId) continue
    const isParent = activeStates.some((other) => other !== stateId && other.startsWith(`${stateId}.`))
    for (const g of chart.querySelectorAll('g[id]')) {
      if (g.id.endsWith(`-state-${mermaidId}`) || new RegExp(`-state-${mermaidId}-\\d+$`).test(g.id)) {
        g.classList.add(isParent ? 'ss-active-parent' : 'ss-active')
      }
    }
  }
  chart.dataset.highlighted = String(chart.querySelectorAll('.ss-active').length)
}

let pending
function scrubTo(value) {
  const max = Number($('scrubber').max)
  const position = Math.max(0, Math.min(max, value))
  $('scrubber').value = String(position)
  // Coalesce fast drags into one render per frame.
  if (pending !== undefined) cancelAnimationFrame(pending)
  pending = requestAnimationFrame(() => {
    pending = undefined
    void show(position).catch(fail)
  })
}

function fail(error) {
  $('state').textContent = String(error?.message ?? error)
  $('state').classList.add('problem')
}

$('scrubber').addEventListener('input', (e) => scrubTo(Number(e.target.value)))
$('prev').onclick = () => scrubTo(view.position - 1)
$('next').onclick = () => scrubTo(view.position + 1)
document.addEventListener('keydown', (e) => {
  if (!view.aggregate || e.target === $('search')) return
  if (e.key === 'ArrowLeft') scrubTo(view.position - 1)
  if (e.key === 'ArrowRight') scrubTo(view.position + 1)
})
let searchTimer
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer)
  searchTimer = setTimeout(() => void loadStreams().catch(fail), 150)
})

window.statesourceViewer = view
const initial = new URLSearchParams(location.hash.slice(1))
await loadStreams().catch(fail)
if (initial.get('pid')) await openAggregate(initial.get('pid'), Number(initial.get('seq') ?? 0)).catch(fail)
document.body.dataset.loaded = 'true'
