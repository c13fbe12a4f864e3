// The area table (`/api/v1/picture`), sortable, with trends and presence beside need; and one
// area's picture (`/api/v1/areas/{code}/picture`) with its charts and latest observations.

import * as api from './api.js'
import * as filters from './filters.js'
import { barChart, hourOfWeek, monthlyTrend } from './charts.js'
import { h, fill, failure, loading, tableWrap, td } from './dom.js'
import { t, label, formatNumber, formatShare, formatChange, formatTime, formatRange } from './i18n.js'
import { photoStrip } from './photos.js'

/** The table's columns: key, heading, the value to sort by, and how a cell reads. */
const COLUMNS = [
  { key: 'area', title: 'col_area', sort: (r) => (r.name || r.area || '').toLowerCase() },
  { key: 'observations', title: 'col_observations', sort: (r) => r.observations, numeric: true },
  { key: 'previous', title: 'col_previous', sort: (r) => r.change_previous_pct, numeric: true },
  { key: 'last_year', title: 'col_last_year', sort: (r) => r.change_last_year_pct, numeric: true },
  { key: 'safety', title: 'col_safety', sort: (r) => r.mean_perceived_safety, numeric: true },
  { key: 'after_dark', title: 'col_after_dark', sort: (r) => r.share_after_dark, numeric: true },
  { key: 'hours', title: 'col_hours', sort: (r) => r.presence?.hours, numeric: true },
  { key: 'contacts', title: 'col_contacts', sort: (r) => r.presence?.contacts, numeric: true },
  { key: 'need', title: 'col_need', sort: (r) => r.need_per_presence, numeric: true },
  { key: 'state', title: 'col_state', sort: (r) => r.state ?? '' },
]

let sorting = { key: 'observations', descending: true }

function count(n, suppressed) {
  return n === null || n === undefined ? (suppressed ? t('suppressed') : t('none')) : formatNumber(n)
}

function trend(pct, before, window = null) {
  if (pct === null || pct === undefined) return h('span', { class: 'muted', text: t('none') })
  const arrow = pct > 0 ? '▲' : pct < 0 ? '▼' : '•'
  const title = [before === null || before === undefined ? null : formatNumber(before), window ? formatRange(window.from, window.to) : null].filter(Boolean).join(' · ')
  return h('span', { class: 'trend', title }, h('span', { 'aria-hidden': 'true', class: 'arrow', text: `${arrow} ` }), formatChange(pct))
}

/** What the figures cover and what they are compared with, with dates: a caption for a table or a page. */
export function windows(picture, whole = false) {
  const c = picture.comparisons
  if (!c) return null
  const lines = [
    picture.partial ? (whole ? t('window_now', { range: formatRange(picture.from, picture.to) }) : t('window_running', { range: formatRange(picture.from, new Date().toISOString()) })) : t('window_now', { range: formatRange(picture.from, picture.to) }),
    t('window_previous', { range: formatRange(c.previous.from, c.previous.to) }),
    c.last_year ? t('window_last_year', { range: formatRange(c.last_year.from, c.last_year.to) }) : t('window_no_last_year'),
    picture.partial && whole ? t('window_whole') : null,
  ].filter(Boolean)
  return h('p', { class: 'hint windows' }, lines.join(' '))
}

function stateBadge(state) {
  if (!state) return h('span', { class: 'muted', text: t('none') })
  return h('span', { class: `state state-${state}`, text: t(`state_${state}`) })
}

function cells(row, { suppressed, comparisons }) {
  return {
    observations: count(row.observations, suppressed),
    previous: trend(row.change_previous_pct, row.previous_period, comparisons?.previous),
    last_year: trend(row.change_last_year_pct, row.same_period_last_year, comparisons?.last_year),
    safety: row.mean_perceived_safety === null || row.mean_perceived_safety === undefined ? t('none') : formatNumber(row.mean_perceived_safety, 1),
    after_dark: formatShare(row.share_after_dark),
    hours: row.presence?.hours === null || row.presence?.hours === undefined ? count(null, suppressed) : formatNumber(row.presence.hours, 1),
    contacts: count(row.presence?.contacts, suppressed),
    need: row.need_per_presence === null || row.need_per_presence === undefined ? t('none') : formatNumber(row.need_per_presence, 2),
    state: stateBadge(row.state),
  }
}

function compare(a, b) {
  const column = COLUMNS.find((c) => c.key === sorting.key) ?? COLUMNS[0]
  const x = column.sort(a)
  const y = column.sort(b)
  // Missing figures go last whichever way the table is sorted.
  if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1
  if (y === null || y === undefined) return -1
  const order = typeof x === 'string' ? x.localeCompare(y) : x - y
  return sorting.descending ? -order : order
}

function areaTable(picture, onSort) {
  const rows = [...picture.areas].sort(compare)
  const suppressed = picture.suppression_k !== null && picture.suppression_k !== undefined
  const comparisons = picture.comparisons
  // No column for last year when it would repeat the previous period.
  const columns = COLUMNS.filter((column) => column.key !== 'last_year' || comparisons?.last_year)
  const windowOf = { previous: comparisons?.previous, last_year: comparisons?.last_year }
  const head = h('tr', {}, columns.map((column) => {
    const active = sorting.key === column.key
    const th = h('th', { scope: 'col', class: column.numeric ? 'num' : null, 'aria-sort': active ? (sorting.descending ? 'descending' : 'ascending') : null },
      h('button', {
        type: 'button', class: 'sort',
        onclick: () => {
          sorting = { key: column.key, descending: active ? !sorting.descending : column.numeric }
          onSort()
        },
      }, t(column.title), h('span', { class: 'sort-mark', 'aria-hidden': 'true', text: active ? (sorting.descending ? ' ▼' : ' ▲') : ' ↕' })),
      windowOf[column.key] ? h('span', { class: 'window', text: formatRange(windowOf[column.key].from, windowOf[column.key].to) }) : null)
    return th
  }))
  const body = h('tbody', {}, rows.map((row) => {
    const values = cells(row, { suppressed, comparisons })
    return h('tr', {},
      h('th', { scope: 'row' }, h('a', { href: `#area/${encodeURIComponent(row.area)}`, text: row.name || row.area }), row.name && row.name !== row.area ? h('span', { class: 'code', text: ` ${row.area}` }) : null),
      columns.slice(1).map((column) => td(t(column.title), values[column.key], { class: column.numeric ? 'num' : null })))
  }))
  const foot = picture.outside_areas
    ? h('tfoot', {}, h('tr', {},
      h('th', { scope: 'row', text: t('outside_areas') }),
      columns.slice(1).map((column) => td(t(column.title), cells(picture.outside_areas, { suppressed, comparisons })[column.key], { class: column.numeric ? 'num' : null }))))
    : null
  const table = h('table', { class: 'data areas-table' }, h('caption', { class: 'visually-hidden', text: t('areas_caption') }), h('thead', {}, head), body, foot)
  return tableWrap(t('areas_title'), table)
}

export async function renderAreas(main, ctx) {
  const content = h('div', {}, loading())
  // Only the load started last may draw: answers to quickly changed filters come in any order.
  let sequence = 0
  const load = async () => {
    const mine = ++sequence
    content.replaceChildren(loading())
    try {
      const picture = await api.get(`/api/v1/picture${filters.query()}`)
      if (mine !== sequence) return
      const draw = () => {
        const focused = document.activeElement?.closest?.('th')?.cellIndex
        fill(content,
          picture.areas.length ? h('p', { class: 'hint phone-only', text: t('swipe_table') }) : null,
          picture.areas.length ? windows(picture, ctx.session()?.me?.role === 'partner') : null,
          picture.areas.length ? areaTable(picture, draw) : h('p', { class: 'card hint', text: t('no_areas') }),
          h('p', { class: 'hint', text: t('state_help') }),
          picture.suppression_k ? h('p', { class: 'hint', text: t('suppressed_note', { k: picture.suppression_k }) }) : null)
        // Sorting redraws the table: keep the keyboard on the same heading.
        if (focused !== undefined) content.querySelectorAll('thead th')[focused]?.querySelector('button')?.focus()
      }
      draw()
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      if (mine !== sequence) return
      content.replaceChildren(failure(error, load))
    }
  }
  main.replaceChildren(h('section', { class: 'view' },
    h('h1', { text: t('areas_title') }),
    h('p', { class: 'hint', text: t('areas_caption') }),
    filters.filterBar(ctx.categories, () => ctx.guard(load())),
    content))
  await load()
}

function keyFigure(title, value, detail = null) {
  return h('div', { class: 'figure' }, h('dt', { text: title }), h('dd', {}, h('span', { class: 'figure-value', text: value }), detail ? h('span', { class: 'figure-detail' }, detail) : null))
}

/** A change against an earlier period, when there is one to show, with the period's dates. */
function change(pct, window) {
  const dates = window ? h('span', { class: 'window', text: formatRange(window.from, window.to) }) : null
  return [pct === null || pct === undefined ? null : trend(pct), dates]
}

function latestTable(items, ctx) {
  if (!items?.length) return h('p', { class: 'hint', text: t('no_latest') })
  const byslug = new Map(ctx.categories.map((c) => [c.slug, c]))
  const table = h('table', { class: 'data' },
    h('thead', {}, h('tr', {}, ['col_time', 'col_category', 'col_severity', 'col_safety', 'col_status', 'col_photos'].map((key) => h('th', { scope: 'col', text: t(key) })))),
    h('tbody', {}, items.map((o) => {
      const category = label(byslug.get(o.category)) || o.category
      return h('tr', { 'data-id': o.id },
        td(t('col_time'), formatTime(o.observed_at)),
        td(t('col_category'), category),
        td(t('col_severity'), String(o.severity)),
        td(t('col_safety'), String(o.perceived_safety)),
        td(t('col_status'), h('span', { class: `status status-${o.status}`, text: t(`status_${o.status}`) })),
        td(t('col_photos'), photoStrip(o.id, `${category}, ${formatTime(o.observed_at)}`, ctx, { none: t('none') })))
    })))
  return tableWrap(t('latest'), table, { stack: true })
}

export async function renderArea(main, ctx, code) {
  const content = h('div', {}, loading())
  const heading = h('h1', { text: code })
  let sequence = 0
  const load = async () => {
    const mine = ++sequence
    content.replaceChildren(loading())
    try {
      const area = await api.get(`/api/v1/areas/${encodeURIComponent(code)}/picture${filters.query()}`)
      if (mine !== sequence) return
      const name = area.name || area.area
      heading.textContent = name
      document.title = `${name} – ${t('app_name')}`
      const suppressed = area.suppressed
      const byslug = new Map(ctx.categories.map((c) => [c.slug, c]))
      const labelOf = (slug) => label(byslug.get(slug)) || slug
      const presence = area.presence ?? {}
      const figures = h('dl', { class: 'figures' },
        keyFigure(t('key_observations'), count(area.observations, suppressed)),
        keyFigure(t('key_previous'), count(area.previous_period, suppressed), change(area.change_previous_pct, area.comparisons?.previous)),
        area.comparisons && !area.comparisons.last_year ? null
          : keyFigure(t('key_last_year'), count(area.same_period_last_year, suppressed), change(area.change_last_year_pct, area.comparisons?.last_year)),
        keyFigure(t('key_safety'), area.mean_perceived_safety === null || area.mean_perceived_safety === undefined ? t('none') : formatNumber(area.mean_perceived_safety, 1)),
        keyFigure(t('key_after_dark'), formatShare(area.share_after_dark)),
        keyFigure(t('key_presence'), presence.hours === null || presence.hours === undefined ? t('suppressed') : t('presence_hours', { hours: formatNumber(presence.hours, 1) }),
          [t('presence_text', { activities: count(presence.activities, true), contacts: count(presence.contacts, true) }), ' ', stateBadge(area.state)]))
      const severity = area.severity_histogram ?? [0, 0, 0, 0, 0]
      // A partner's page: the published figures only, no breakdowns by hour, severity or month.
      const breakdowns = severity.length > 0
      fill(content,
        figures,
        windows(area, ctx.session()?.me?.role === 'partner'),
        !breakdowns ? null : h('div', { class: 'charts' },
          h('section', { class: 'card chart-card hours' }, h('h2', { text: t('hour_chart') }), hourOfWeek(area.hour_of_week ?? [])),
          h('section', { class: 'card chart-card' }, h('h2', { text: t('severity_chart') }),
            barChart(severity, ['1', '2', '3', '4', '5'], { ariaLabel: t('severity_chart_label', { values: severity.map((n, i) => `${i + 1}: ${n ?? t('suppressed')}`).join(', ') }) })),
          h('section', { class: 'card chart-card wide' }, h('h2', { text: t('month_chart') }),
            area.by_month?.some((m) => Object.values(m.by_category ?? {}).some(Boolean)) ? monthlyTrend(area.by_month, labelOf, ctx.categories.map((c) => c.slug)) : h('p', { class: 'hint', text: t('no_months') }))),
        area.latest ? h('section', { class: 'card' }, h('h2', { text: t('latest') }), latestTable(area.latest, ctx)) : null)
    } catch (error) {
      if (error instanceof api.SessionError) throw error
      if (mine !== sequence) return
      content.replaceChildren(failure(error, load))
    }
  }
  main.replaceChildren(h('section', { class: 'view' },
    h('p', { class: 'back' }, h('a', { href: '#areas', text: `← ${t('back_to_areas')}` })),
    heading,
    filters.filterBar(ctx.categories, () => ctx.guard(load())),
    content))
  await load()
}
