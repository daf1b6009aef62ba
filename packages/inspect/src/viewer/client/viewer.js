// The lifecycle viewer's page: lists every stream (a virtual list, loaded in pages), draws one aggregate's
// chart with Mermaid (served locally) beside its timeline, and steps through its journal, loading events
// in pages from the viewer's JSON API. No inline scripts or styles, nothing from another origin.
const $ = (id) => document.getElementById(id)
const MAX_CACHED_PAGES = 50
const STREAM_ROW = 26
const EVENT_ROW = 24
const number = new Intl.NumberFormat('en')

const view = {
  type: null,
  pid: null,
  aggregate: null,
  pages: new Map(),
  position: 0,
  renderToken: 0,
  listToken: 0,
  requests: 0,
  zoom: 1,
  natural: null,
  fullContext: false,
  list: { total: 0, pages: new Map(), pageSize: 200 },
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

function el(tag, className, content) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (content !== undefined) node.textContent = content
  return node
}

/** `{ checkout: { payment: 'failed' } }` as `checkout.payment.failed`; parallel leaves comma separated. */
function statePath(value) {
  const paths = []
  const walk = (v, prefix) => {
    if (typeof v === 'string') paths.push(prefix + v)
    else if (v && typeof v === 'object') for (const [k, sub] of Object.entries(v)) walk(sub, `${prefix}${k}.`)
  }
  walk(value, '')
  return paths.join(', ')
}

// A list that renders only the rows in view, so 100,000 streams or events cost the same as 20.
function virtualList(container, rowHeight, renderRow) {
  const spacer = el('div', 'spacer')
  container.append(spacer)
  let count = 0
  const rows = new Map()
  let frame
  function update() {
    frame = undefined
    const first = Math.max(0, Math.floor(container.scrollTop / rowHeight) - 10)
    const last = Math.min(
      count - 1,
      Math.ceil((container.scrollTop + container.clientHeight) / rowHeight) + 10,
    )
    for (const [i, row] of rows) {
      if (i < first || i > last) {
        row.remove()
        rows.delete(i)
      }
    }
    for (let i = first; i <= last; i++) {
      if (rows.has(i)) continue
      const row = renderRow(i)
      row.classList.add('item')
      row.style.top = `${i * rowHeight}px`
      row.dataset.index = String(i)
      rows.set(i, row)
      container.append(row)
    }
  }
  container.addEventListener('scroll', () => {
    if (frame === undefined) frame = requestAnimationFrame(update)
  })
  return {
    setCount(n) {
      count = n
      spacer.style.height = `${n * rowHeight}px`
      this.refresh()
    },
    refresh() {
      for (const row of rows.values()) row.remove()
      rows.clear()
      update()
    },
    scrollTo(index) {
      const top = index * rowHeight
      if (top < container.scrollTop || top + rowHeight > container.scrollTop + container.clientHeight) {
        container.scrollTop = Math.max(0, top - container.clientHeight / 2)
      }
      update()
    },
  }
}

// ---- The stream list -------------------------------------------------------------------------------

const streamList = virtualList($('streams'), STREAM_ROW, (i) => {
  const page = view.list.pages.get(Math.floor(i / view.list.pageSize))
  const stream = page?.[i % view.list.pageSize]
  if (!stream) {
    void loadStreamPage(Math.floor(i / view.list.pageSize))
    return el('div', 'loading', '…')
  }
  const row = el('div', stream.persistenceId === view.pid ? 'selected' : '', stream.persistenceId)
  row.dataset.pid = stream.persistenceId
  row.setAttribute('role', 'option')
  row.onclick = () => navigate(stream.persistenceId)
  return row
})

function streamQuery(extra = {}) {
  const params = new URLSearchParams({ q: $('search').value, ...extra })
  if (view.type) params.set('type', view.type)
  return params
}

async function loadStreamPage(index) {
  const list = view.list
  if (list.pages.has(index) || list.loading?.has(index)) return
  list.loading ??= new Set()
  list.loading.add(index)
  try {
    const data = await getJson(
      `/api/streams?${streamQuery({ offset: index * list.pageSize, limit: list.pageSize })}`,
    )
    // The search or the type filter changed meanwhile: this page belongs to a list no longer shown.
    if (list !== view.list) return
    list.pages.set(index, data.streams)
    streamList.refresh()
  } finally {
    list.loading.delete(index)
  }
}

/** Reloads the list from the top (or around `focus`), with the type buttons and the count. */
async function loadStreams(focus) {
  const extra = focus ? { focus } : {}
  const token = ++view.listToken
  const data = await getJson(`/api/streams?${streamQuery(extra)}`)
  // A later search already answered: keep its list.
  if (token !== view.listToken) return data
  view.list = { total: data.total, pages: new Map([[0, data.streams]]), pageSize: data.limit }
  $('title').textContent = data.title
  $('types').replaceChildren(
    ...data.types.map((t) => {
      const b = el(
        'button',
        t.type === view.type ? 'selected' : '',
        `${t.type || '(no type)'} · ${number.format(t.count)}`,
      )
      b.type = 'button'
      b.dataset.type = t.type
      b.onclick = () => {
        view.type = view.type === t.type ? null : t.type
        void loadStreams().catch(fail)
      }
      return b
    }),
  )
  $('count').textContent = `${number.format(data.total)} aggregate${data.total === 1 ? '' : 's'}`
  streamList.setCount(data.total)
  if (data.focusIndex !== undefined) {
    await loadStreamPage(Math.floor(data.focusIndex / view.list.pageSize))
    streamList.scrollTo(data.focusIndex)
  } else $('streams').scrollTop = 0
  return data
}

// ---- One aggregate -----------------------------------------------------------------------------------

const timeline = virtualList($('timeline'), EVENT_ROW, (i) => {
  const seqNr = i + 1
  const page = view.pages.get(pageOf(seqNr))
  const step = page?.settled?.find((s) => s.seqNr === seqNr)
  if (!step) {
    if (!page)
      void stepAt(seqNr)
        .then(() => timeline.refresh())
        .catch(fail)
    return el('div', 'loading', `${seqNr} …`)
  }
  const row = el(
    'div',
    [
      step.check === 'refused' ? 'refused' : '',
      step.check === 'not-checked' ? 'not-checked' : '',
      seqNr === view.position ? 'current' : '',
    ]
      .join(' ')
      .trim(),
  )
  row.dataset.seq = String(seqNr)
  row.setAttribute('role', 'option')
  const at = new Date(step.timestamp)
  const time = el('span', 'time', at.toISOString().slice(11, 19))
  time.title = at.toISOString()
  const after =
    step.check === 'refused'
      ? 'refused'
      : step.check === 'not-checked'
        ? 'not checked'
        : step.state
          ? statePath(step.state.value)
          : ''
  const stateCell = el('span', 'state', after)
  stateCell.title = after
  row.append(el('span', 'seq', String(seqNr)), el('span', 'type', step.type), time, stateCell)
  row.onclick = () => scrubTo(seqNr)
  return row
})

async function openAggregate(pid, position) {
  const aggregate = await getJson(`/api/aggregate?pid=${encodeURIComponent(pid)}`)
  view.pid = pid
  view.aggregate = aggregate
  view.pages = new Map()
  streamList.refresh()
  $('empty').hidden = true
  $('aggregate').hidden = false
  $('pid').textContent = pid
  $('no-chart').hidden = aggregate.chart !== null
  $('chart-pane').hidden = aggregate.chart === null
  const scrubber = $('scrubber')
  scrubber.max = String(aggregate.events)
  const chart = $('chart')
  chart.replaceChildren()
  chart.dataset.ready = 'false'
  view.natural = null
  if (aggregate.chart) {
    const { svg } = await window.mermaid.render(`chart-${Date.now()}`, aggregate.chart.mermaid)
    chart.innerHTML = svg
    const box = chart.querySelector('svg').viewBox.baseVal
    view.natural = { width: box.width, height: box.height }
    fitChart()
  }
  chart.dataset.ready = 'true'
  timeline.setCount(aggregate.events)
  const start = Math.max(0, Math.min(aggregate.events, position ?? aggregate.events))
  scrubber.value = String(start)
  await show(start)
}

function pageOf(seqNr) {
  return Math.floor((seqNr - 1) / view.aggregate.pageSize)
}

async function stepAt(seqNr) {
  const index = pageOf(seqNr)
  let page = view.pages.get(index)
  if (!page) {
    const from = index * view.aggregate.pageSize + 1
    const loading = loadSteps(from, from + view.aggregate.pageSize - 1).then((steps) => {
      page.settled = steps
      return steps
    })
    page = { loading, settled: undefined }
    view.pages.set(index, page)
    if (view.pages.size > MAX_CACHED_PAGES) view.pages.delete(view.pages.keys().next().value)
    loading.catch(() => view.pages.delete(index))
  }
  const steps = await page.loading
  // Deleted events leave gaps: show the last step at or before the position.
  let found
  for (const s of steps) if (s.seqNr <= seqNr) found = s
  return found
}

/** The steps from `from` to `end`, in as many requests as the server needs to keep each under its byte cut. */
async function loadSteps(from, end) {
  const pid = encodeURIComponent(view.pid)
  const steps = []
  for (let at = from; at !== undefined && at <= end; ) {
    const body = await getJson(`/api/steps?pid=${pid}&from=${at}&limit=${end - at + 1}`)
    steps.push(...body.steps)
    at = body.next
  }
  return steps
}

async function show(position) {
  const token = ++view.renderToken
  view.position = position
  const agg = view.aggregate
  const step = position === 0 ? undefined : await stepAt(position)
  const previous = position <= 1 ? undefined : await stepAt(position - 1)
  if (token !== view.renderToken) return
  const state = step ? step.state : agg.initial
  const before = position <= 1 ? agg.initial : previous?.state
  $('position').textContent =
    `event ${number.format(position)} of ${number.format(agg.events)}${step ? ` · ${step.type}` : ' · initial state'}`
  const check = $('check')
  check.className = step?.check === 'refused' || step?.check === 'not-checked' ? step.check : ''
  check.hidden = check.className === ''
  check.textContent =
    step?.check === 'refused'
      ? `Refused: ${step.problem} The state stays as it was.`
      : step?.check === 'not-checked'
        ? `Not checked: event ${step.refusedAt} of this stream was refused, so the state this event met is unknown. The chart shows the state before event ${step.refusedAt}.`
        : ''
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
  $('state').textContent = state
    ? text({ value: state.value, status: state.status, context: state.context })
    : 'No aggregate given: no replay.'
  renderDiff(before, state, step)
  highlight(state ? state.activeStates : [], step?.check === 'accepted' ? (step.transitions ?? []) : [])
  timeline.refresh()
  timeline.scrollTo(Math.max(0, position - 1))
  const hash = `#pid=${encodeURIComponent(view.pid)}&seq=${position}`
  if (location.hash !== hash) history.replaceState(null, '', hash)
  document.body.dataset.position = String(position)
}

// ---- Context diff ------------------------------------------------------------------------------------

function changes(before, after, path = '', out = []) {
  const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)
  if (isObject(before) && isObject(after)) {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const at = path ? `${path}.${key}` : key
      if (!(key in after)) out.push({ kind: 'removed', path: at, before: before[key] })
      else if (!(key in before)) out.push({ kind: 'added', path: at, after: after[key] })
      else changes(before[key], after[key], at, out)
    }
  } else if (JSON.stringify(before) !== JSON.stringify(after)) {
    out.push({ kind: 'changed', path, before, after })
  }
  return out
}

function short(value) {
  const s = JSON.stringify(value) ?? 'undefined'
  return s.length > 120 ? `${s.slice(0, 117)}…` : s
}

function renderDiff(before, state, step) {
  const diff = $('diff')
  const full = view.fullContext || !state
  diff.hidden = full
  $('state').hidden = !full
  $('context-toggle').textContent = full ? 'Changes' : 'Full context'
  $('context-toggle').hidden = !state
  if (!state) return
  if (!step) {
    diff.replaceChildren(el('p', 'none', 'The initial context; step forward to see what each event changes.'))
    return
  }
  if (step.check === 'refused' || step.check === 'not-checked') {
    const why = step.check === 'refused' ? 'was refused' : 'was not checked'
    diff.replaceChildren(el('p', 'none', `Event ${step.seqNr} ${why}: the context stays as it was.`))
    return
  }
  const list = changes(before?.context, state.context)
  if (list.length === 0) {
    diff.replaceChildren(el('p', 'none', `Event ${step.seqNr} changed nothing in the context.`))
    return
  }
  const ul = el('ul')
  for (const c of list) {
    const li = el('li', c.kind)
    li.append(el('code', 'path', c.path || '(context)'), ': ')
    if (c.kind !== 'added') li.append(el('span', 'old', short(c.before)))
    if (c.kind === 'changed') li.append(' → ')
    if (c.kind !== 'removed') li.append(el('span', 'new', short(c.after)))
    ul.append(li)
  }
  diff.replaceChildren(ul)
}

$('context-toggle').onclick = () => {
  view.fullContext = !view.fullContext
  void show(view.position).catch(fail)
}

// ---- Chart: highlight and zoom -----------------------------------------------------------------------

function highlight(activeStates, transitions) {
  const chart = $('chart')
  for (const node of chart.querySelectorAll('.ss-active, .ss-active-parent, .ss-taken')) {
    node.classList.remove('ss-active', 'ss-active-parent', 'ss-taken')
  }
  const ids = view.aggregate?.chart?.stateIds
  chart.dataset.activeStates = activeStates.join(',')
  chart.dataset.transitions = transitions.join(',')
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
  // Mermaid numbers its arrows in the order of the chart's text, which is the order of `chart.edges`.
  for (const index of transitions) {
    for (const node of chart.querySelectorAll(`[data-id="edge${index}"]`)) {
      node.classList.add('ss-taken')
      node.closest('g.edgeLabel')?.classList.add('ss-taken')
    }
  }
  chart.dataset.highlighted = String(chart.querySelectorAll('.ss-active').length)
  chart.dataset.taken = String(chart.querySelectorAll('path.ss-taken').length)
  revealActive()
}

/** Scrolls the chart pane so that the first active leaf state is in view (a tall chart overflows). */
function revealActive() {
  const chart = $('chart')
  const active = chart.querySelector('g.ss-active')
  if (!active) return
  const pane = chart.getBoundingClientRect()
  const box = active.getBoundingClientRect()
  if (box.top < pane.top || box.bottom > pane.bottom) {
    chart.scrollTop += box.top - pane.top - (pane.height - box.height) / 2
  }
  if (box.left < pane.left || box.right > pane.right) {
    chart.scrollLeft += box.left - pane.left - (pane.width - box.width) / 2
  }
}

function setZoom(zoom) {
  if (!view.natural) return
  view.zoom = Math.max(0.25, Math.min(4, zoom))
  const svg = $('chart').querySelector('svg')
  svg.style.width = `${Math.round(view.natural.width * view.zoom)}px`
  svg.style.height = `${Math.round(view.natural.height * view.zoom)}px`
  $('zoom-level').textContent = `${Math.round(view.zoom * 100)}%`
  $('chart').dataset.zoom = String(view.zoom)
}

/** The zoom at which the whole chart fits the pane. */
function fitZoom() {
  const pane = $('chart')
  return Math.min(
    (pane.clientWidth - 16) / view.natural.width,
    (pane.clientHeight - 16) / view.natural.height,
  )
}

/**
 * Fits the chart to the pane, between 80% and 150% of Mermaid's size so labels stay readable; a chart that
 * is larger still scrolls, and the active state is scrolled into view.
 */
function fitChart() {
  if (!view.natural) return
  setZoom(Math.max(0.8, Math.min(1.5, fitZoom())))
}

$('zoom-in').onclick = () => setZoom(view.zoom * 1.25)
$('zoom-out').onclick = () => setZoom(view.zoom / 1.25)
$('zoom-fit').onclick = () => setZoom(fitZoom())
$('chart').addEventListener(
  'wheel',
  (e) => {
    if (!e.ctrlKey) return
    e.preventDefault()
    setZoom(view.zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1))
  },
  { passive: false },
)

// ---- Navigation: scrubber, keys, the URL hash both ways ----------------------------------------------

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
  $('check').hidden = false
  $('check').className = 'refused'
  $('check').textContent = String(error?.message ?? error)
}

/** Opens an aggregate from the list: a new history entry, so Back returns to the previous one. */
function navigate(pid) {
  history.pushState(null, '', `#pid=${encodeURIComponent(pid)}`)
  void applyHash(false).catch(fail)
}

/** Moves the viewer to what the hash says; a deep link also selects the aggregate in the list. */
async function applyHash(reveal) {
  const params = new URLSearchParams(location.hash.slice(1))
  const pid = params.get('pid')
  if (!pid) return
  const seq = params.has('seq') ? Number(params.get('seq')) : undefined
  if (reveal) {
    // The aggregate may be hidden by a filter: show the whole list, scrolled to it.
    $('search').value = ''
    view.type = null
    view.pid = pid
    await loadStreams(pid)
  }
  if (pid !== view.pid || !view.aggregate || view.aggregate.persistenceId !== pid)
    await openAggregate(pid, seq)
  else if (seq !== undefined && seq !== view.position) scrubTo(seq)
}

window.addEventListener('hashchange', () => void applyHash(true).catch(fail))
window.addEventListener('popstate', () => void applyHash(true).catch(fail))

$('scrubber').addEventListener('input', (e) => scrubTo(Number(e.target.value)))
$('prev').onclick = () => scrubTo(view.position - 1)
$('next').onclick = () => scrubTo(view.position + 1)
document.addEventListener('keydown', (e) => {
  if (!view.aggregate || e.target === $('search')) return
  if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') scrubTo(view.position - 1)
  if (e.key === 'ArrowRight' || e.key === 'ArrowDown') scrubTo(view.position + 1)
})
let searchTimer
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer)
  searchTimer = setTimeout(() => void loadStreams().catch(fail), 150)
})

window.statesourceViewer = view
const deepLinked = new URLSearchParams(location.hash.slice(1)).get('pid')
if (deepLinked) await applyHash(true).catch(fail)
else await loadStreams().catch(fail)
document.body.dataset.loaded = 'true'
