// Small SVG charts for the area view: a bar chart, the hour-of-week grid and stacked monthly bars.
// Each is an image with a text alternative that states the figures.

import { h, s } from './dom.js'
import { t, formatNumber, formatMonth, formatRange } from './i18n.js'

/** Distinct colours that read on the dark background, one per category. */
export const PALETTE = ['#ffd33d', '#58a6ff', '#ff7b72', '#56d364', '#d2a8ff', '#f0883e', '#39c5cf', '#f778ba', '#e6edf3', '#a5732f', '#8b949e', '#2f81f7', '#b0e67a']

const value = (n) => (n === null || n === undefined ? 0 : n)

/** Vertical bars with their counts above them and labels below. */
export function barChart(values, labels, { ariaLabel, colour = '#ffd33d' }) {
  const width = 320
  const height = 150
  const top = 20
  const bottom = 26
  const max = Math.max(1, ...values.map(value))
  const slot = width / values.length
  const bar = slot * 0.6
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': ariaLabel })
  svg.append(s('line', { x1: 0, x2: width, y1: height - bottom, y2: height - bottom, class: 'axis' }))
  values.forEach((n, i) => {
    const x = i * slot + (slot - bar) / 2
    const barHeight = ((height - top - bottom) * value(n)) / max
    const y = height - bottom - barHeight
    svg.append(
      s('rect', { x, y, width: bar, height: Math.max(barHeight, n ? 1 : 0), fill: colour, rx: 2 }),
      s('text', { x: x + bar / 2, y: y - 5, 'text-anchor': 'middle', class: 'value', text: n === null ? t('suppressed') : formatNumber(n) }),
      s('text', { x: x + bar / 2, y: height - 8, 'text-anchor': 'middle', class: 'tick', text: labels[i] }))
  })
  return svg
}

/** The 7×24 grid of observations by local weekday (rows, Monday first) and hour (columns). */
export function hourOfWeek(grid) {
  const cell = 14
  const left = 34
  const top = 18
  const width = left + 24 * cell + 2
  const height = top + 7 * cell + 4
  const flat = grid.flat().map(value)
  const max = Math.max(1, ...flat)
  let peak = null
  grid.forEach((day, d) => day.forEach((n, hour) => {
    if (value(n) > 0 && (!peak || value(n) > peak.n)) peak = { n: value(n), d, hour }
  }))
  const ariaLabel = peak
    ? t('hour_chart_label', { peak: `${t(`day_long_${peak.d + 1}`)} ${String(peak.hour).padStart(2, '0')}–${String((peak.hour + 1) % 24).padStart(2, '0')} (${peak.n})` })
    : t('hour_chart_empty')
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart hour-chart', role: 'img', 'aria-label': ariaLabel })
  for (let hour = 0; hour < 24; hour += 3) {
    svg.append(s('text', { x: left + hour * cell + cell / 2, y: 12, 'text-anchor': 'middle', class: 'tick', text: String(hour).padStart(2, '0') }))
  }
  grid.forEach((day, d) => {
    svg.append(s('text', { x: left - 6, y: top + d * cell + cell * 0.75, 'text-anchor': 'end', class: 'tick', text: t(`day_${d + 1}`) }))
    day.forEach((n, hour) => {
      const share = value(n) / max
      const rect = s('rect', {
        x: left + hour * cell + 1, y: top + d * cell + 1, width: cell - 2, height: cell - 2, rx: 2,
        class: n === null ? 'slot suppressed' : value(n) ? 'slot' : 'slot empty',
        'fill-opacity': value(n) ? String(0.25 + 0.75 * share) : null,
      }, s('title', { text: `${t(`day_long_${d + 1}`)} ${String(hour).padStart(2, '0')}: ${n === null ? t('suppressed') : formatNumber(n)}` }))
      svg.append(rect)
    })
  })
  return svg
}

/**
 * Stacked bars per month, coloured by category, with a legend. `months` is the API's
 * `by_month` ([{month, from, to, partial, by_category}], every month of the window); months
 * the window or today cuts are drawn lighter and named under the chart.
 */
export function monthlyTrend(months, labelOf, order = []) {
  const filled = months.map((m) => ({ ...m, by_category: m.by_category ?? {} }))
  // Each category keeps its colour from area to area: its place in the organisation's list.
  const present = new Set(filled.flatMap((m) => Object.keys(m.by_category)))
  const all = [...order, ...[...present].filter((c) => !order.includes(c)).sort()]
  const categories = all.filter((c) => present.has(c))
  const colourOf = new Map(all.map((c, i) => [c, PALETTE[i % PALETTE.length]]))
  const totals = filled.map((m) => Object.values(m.by_category).reduce((sum, n) => sum + value(n), 0))
  const width = Math.max(320, filled.length * 34)
  const height = 190
  const top = 18
  const bottom = 26
  const max = Math.max(1, ...totals)
  const slot = width / Math.max(1, filled.length)
  const bar = Math.min(26, slot * 0.7)
  const summary = filled.map((m, i) => `${formatMonth(m.month, 'short')}${m.partial ? ` (${t('month_partial')})` : ''}: ${totals[i]}`).join(', ')
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart month-chart', role: 'img', 'aria-label': t('month_chart_label', { values: summary }) })
  svg.append(s('line', { x1: 0, x2: width, y1: height - bottom, y2: height - bottom, class: 'axis' }))
  filled.forEach((m, i) => {
    const x = i * slot + (slot - bar) / 2
    let y = height - bottom
    for (const category of categories) {
      const n = value(m.by_category[category])
      if (!n) continue
      const barHeight = ((height - top - bottom) * n) / max
      y -= barHeight
      const covered = m.partial ? ` (${formatRange(m.from, m.to)}, ${t('month_partial')})` : ''
      svg.append(s('rect', { x, y, width: bar, height: barHeight, fill: colourOf.get(category), class: m.partial ? 'partial' : null },
        s('title', { text: `${formatMonth(m.month)}${covered}, ${labelOf(category)}: ${n}` })))
    }
    if (totals[i]) svg.append(s('text', { x: x + bar / 2, y: y - 4, 'text-anchor': 'middle', class: 'value', text: String(totals[i]) }))
    const [yy, mm] = m.month.split('-')
    const tick = filled.length > 8 && i % 2 ? '' : mm === '01' || i === 0 ? `${formatMonth(m.month, 'short').split(' ')[0]} ${yy.slice(2)}` : formatMonth(m.month, 'short').split(' ')[0]
    svg.append(s('text', { x: x + bar / 2, y: height - 8, 'text-anchor': 'middle', class: 'tick', text: tick && m.partial ? `${tick}*` : tick }))
  })
  const key = h('ul', { class: 'chart-legend' },
    categories.map((c) => h('li', {}, h('span', { class: 'swatch', 'data-colour': colourOf.get(c) }), h('span', { text: labelOf(c) }))))
  for (const swatch of key.querySelectorAll('.swatch')) swatch.style.background = swatch.dataset.colour
  const partial = filled.filter((m) => m.partial)
  const note = partial.length
    ? h('p', { class: 'hint month-partial' }, `* ${t('month_partial_note', { months: partial.map((m) => `${formatMonth(m.month)} (${formatRange(m.from, m.to)})`).join(', ') })}`)
    : null
  return h('div', { class: 'chart-scroll' }, svg, key, note)
}
