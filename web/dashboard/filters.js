// The picture's filters, shared by the map and the area views and kept for the browser tab:
// period, category, time of day, weekdays, after dark, and for the map the hexagon size.

import { h, uid } from './dom.js'
import { t, label, formatMonth, getTimeZone } from './i18n.js'

const STORAGE_KEY = 'lagesbild.dashboard.filters'
const DEFAULTS = { period: '', category: '', hours: '', weekday: [], after_dark: false, resolution: '9' }

export const HOURS = [
  ['', 'hours_all'],
  ['6-18', 'hours_day'],
  ['18-24', 'hours_evening'],
  ['22-4', 'hours_night'],
  ['18-6', 'hours_evening_night'],
]

/** H3 resolutions the heat map offers, with the approximate width of a hexagon. */
export const RESOLUTIONS = [
  ['7', '2,5 km'],
  ['8', '1 km'],
  ['9', '350 m'],
  ['10', '130 m'],
  ['11', '50 m'],
]

let state = load()
/** A partner gets whole tertials, areas and categories only (the partner disclosure rule). */
let partner = false

/** Switches the filters to what the signed-in role may use. */
export function setPartner(on) {
  partner = Boolean(on)
}

function load() {
  try {
    return { ...DEFAULTS, ...JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? '{}') }
  } catch {
    return { ...DEFAULTS }
  }
}

export function current() {
  return state
}

export function update(change) {
  state = { ...state, ...change }
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(state))
}

/** The query string of the picture endpoints for the current filters. */
export function query(extra = {}, { withResolution = false } = {}) {
  const params = new URLSearchParams()
  if (partner) {
    params.set('period', /-T[1-3]$/.test(state.period) ? state.period : currentTertial())
    if (state.category) params.set('category', state.category)
    for (const [key, value] of Object.entries(extra)) if (value) params.set(key, value)
    return `?${params}`
  }
  if (state.period) params.set('period', state.period)
  if (state.category) params.set('category', state.category)
  if (state.hours) params.set('hours', state.hours)
  if (state.weekday.length) params.set('weekday', state.weekday.join(','))
  if (state.after_dark) params.set('after_dark', 'true')
  if (withResolution && state.resolution) params.set('resolution', state.resolution)
  for (const [key, value] of Object.entries(extra)) if (value) params.set(key, value)
  const text = params.toString()
  return text ? `?${text}` : ''
}

/** Today's year, month and tertial in the organisation's time zone. */
function today() {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone: getTimeZone(), year: 'numeric', month: '2-digit' }).formatToParts(new Date())
  const year = Number(parts.find((p) => p.type === 'year')?.value)
  const month = Number(parts.find((p) => p.type === 'month')?.value)
  return { year, month, tertial: Math.ceil(month / 4) }
}

function monthValue(year, month) {
  return `${year}-${String(month).padStart(2, '0')}`
}

function tertialOption(year, n) {
  return [`${year}-T${n}`, t('period_tertial', { n, year, months: t(`tertial_months_${n}`) })]
}

/** The periods people report by: tertials, months and years around today. */
export function periodOptions({ rolling = true } = {}) {
  const { year, month, tertial } = today()
  if (partner) {
    const tertials = []
    let [y, n] = [year, tertial]
    for (let back = 0; back < 6; back += 1) {
      tertials.push(tertialOption(y, n))
      ;[y, n] = n === 1 ? [y - 1, 3] : [y, n - 1]
    }
    return tertials
  }
  const options = rolling ? [['', t('period_last_12')]] : []
  let [y, n] = [year, tertial]
  for (let back = 0; back < 4; back += 1) {
    options.push(tertialOption(y, n))
    ;[y, n] = n === 1 ? [y - 1, 3] : [y, n - 1]
  }
  for (let back = 0; back < 3; back += 1) {
    const date = new Date(Date.UTC(year, month - 1 - back, 15))
    const value = monthValue(date.getUTCFullYear(), date.getUTCMonth() + 1)
    options.push([value, t('period_month', { name: formatMonth(value) })])
  }
  options.push([String(year), t('period_year', { year })], [String(year - 1), t('period_year', { year: year - 1 })])
  return options
}

/** The current tertial, e.g. `2026-T3`. */
export function currentTertial() {
  const { year, tertial } = today()
  return `${year}-T${tertial}`
}

function select(name, text, options, value, onChange) {
  const id = uid(name)
  const input = h('select', { id, name }, options.map(([v, l]) => h('option', { value: v, text: l })))
  if (!options.some(([v]) => v === value) && value) input.append(h('option', { value, text: value }))
  input.value = value
  input.addEventListener('change', () => onChange(input.value))
  return h('div', { class: 'field' }, h('label', { for: id, text }), input)
}

/**
 * The filter bar. `categories` is the reference list; `onChange` runs after each change with the
 * new filters; `map` adds the hexagon size.
 */
export function filterBar(categories, onChange, { map = false } = {}) {
  const summary = h('summary', {})
  const describe = () => {
    const chosen = [
      periodOptions().find(([v]) => v === state.period)?.[1] ?? (partner ? currentTertial() : state.period),
      state.category ? label(categories.find((c) => c.slug === state.category)) || state.category : null,
      !partner && state.hours ? t(HOURS.find(([v]) => v === state.hours)?.[1] ?? 'hours') : null,
      !partner && state.weekday.length ? state.weekday.map((d) => t(`day_${d}`)).join(' ') : null,
      !partner && state.after_dark ? t('after_dark_short') : null,
    ].filter(Boolean)
    summary.replaceChildren(h('span', { class: 'summary-title', text: t('filters') }), h('span', { class: 'summary-chosen', text: chosen.join(' · ') }))
  }
  const change = (delta) => {
    update(delta)
    describe()
    onChange(state)
  }
  const days = h('fieldset', { class: 'field weekdays' }, h('legend', { text: t('weekdays') }))
  const dayList = h('div', { class: 'day-list' })
  for (let day = 1; day <= 7; day += 1) {
    const input = h('input', { type: 'checkbox', name: 'weekday', value: String(day), 'aria-label': t(`day_long_${day}`) })
    input.checked = state.weekday.includes(String(day))
    input.addEventListener('change', () => {
      const chosen = [...dayList.querySelectorAll('input:checked')].map((i) => i.value)
      change({ weekday: chosen })
    })
    dayList.append(h('label', { class: 'day' }, input, h('span', { text: t(`day_${day}`), 'aria-hidden': 'true' })))
  }
  days.append(dayList)
  const darkId = uid('dark')
  const dark = h('input', { type: 'checkbox', id: darkId, name: 'after_dark' })
  dark.checked = state.after_dark
  dark.addEventListener('change', () => change({ after_dark: dark.checked }))
  const categoryOptions = [['', t('all_categories')], ...categories.filter((c) => c.active !== false).map((c) => [c.slug, label(c)])]
  const period = partner && !/-T[1-3]$/.test(state.period) ? currentTertial() : state.period
  const bar = partner
    ? h('form', { class: 'filters', 'aria-label': t('filters'), onsubmit: (event) => event.preventDefault() },
      select('period', t('period'), periodOptions(), period, (chosen) => change({ period: chosen })),
      select('category', t('category'), categoryOptions, state.category, (category) => change({ category })),
      h('p', { class: 'hint', text: t('partner_rule') }),
    )
    : h('form', { class: 'filters', 'aria-label': t('filters'), onsubmit: (event) => event.preventDefault() },
    select('period', t('period'), periodOptions(), state.period, (period) => change({ period })),
    select('category', t('category'), categoryOptions, state.category, (category) => change({ category })),
    select('hours', t('hours'), HOURS.map(([v, key]) => [v, t(key)]), state.hours, (hours) => change({ hours })),
    days,
    h('div', { class: 'field check' }, dark, h('label', { for: darkId, text: t('after_dark') })),
    map ? select('resolution', t('resolution'), RESOLUTIONS.map(([v, size]) => [v, t('resolution_option', { size })]), state.resolution, (resolution) => change({ resolution })) : null,
  )
  describe()
  // Open on a laptop; on a phone the map or the table comes first and the filters fold away.
  return h('details', { class: 'filter-box', open: !window.matchMedia('(max-width: 640px)').matches }, summary, bar)
}
