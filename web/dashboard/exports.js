// Exports for the follow-up: activity counts (CSV, CSV for Swedish Excel, XLSX), observations
// (CSV, XLSX, GeoJSON) and the printable follow-up report. Every file is fetched with the bearer
// token and saved under the name the server gives in `Content-Disposition`.

import * as api from './api.js'
import * as filters from './filters.js'
import { h, uid } from './dom.js'
import { t, label, getLanguage } from './i18n.js'
import { documentsSection } from './documents.js'

/** Saves a blob as a download named `filename`. */
function save(blob, filename) {
  const url = URL.createObjectURL(blob)
  const link = h('a', { href: url, download: filename, hidden: true })
  document.body.append(link)
  link.click()
  link.remove()
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

function section(title, hint, ...children) {
  const id = uid('export')
  return h('section', { class: 'card export', 'aria-labelledby': id },
    h('h2', { id, text: title }),
    h('p', { class: 'hint', text: hint }),
    ...children)
}

function check(name, text, checked) {
  const id = uid(name)
  const input = h('input', { type: 'checkbox', id, name })
  input.checked = checked
  return { input, node: h('div', { class: 'field check' }, input, h('label', { for: id, text })) }
}

function select(name, text, options, value) {
  const id = uid(name)
  const input = h('select', { id, name }, options.map(([v, l]) => h('option', { value: v, text: l })))
  input.value = value
  return { input, node: h('div', { class: 'field' }, h('label', { for: id, text }), input) }
}

export async function renderExports(main, ctx) {
  const status = h('p', { class: 'export-status' })
  const period = select('period', t('period'), filters.periodOptions({ rolling: false }), filters.currentTertial())
  const byType = check('group_type', t('group_type'), true)
  const byUnit = check('group_unit', t('group_unit'), true)
  const compare = check('compare', t('compare_last_year'), true)
  const areaCollection = await ctx.areas().catch(() => ({ features: [] }))
  const area = select('area', t('area'), [['', t('all_areas')], ...(areaCollection.features ?? []).map((f) => [f.properties.code, f.properties.name || f.properties.code])], '')
  const category = select('category', t('category'), [['', t('all_categories')], ...ctx.categories.map((c) => [c.slug, label(c)])], '')

  const run = async (what, task) => {
    status.classList.remove('problem')
    status.textContent = t('downloading', { what })
    try {
      status.textContent = await task()
      ctx.toast(status.textContent)
    } catch (error) {
      if (error instanceof api.SessionError) return ctx.sessionEnded(error)
      status.classList.add('problem')
      status.textContent = t('export_failed', { detail: error.message })
      ctx.toast(status.textContent)
    }
  }
  const download = (what, path, fallback) => run(what, async () => {
    const { blob, filename } = await api.fetchFile(path, fallback)
    save(blob, filename)
    return t('downloaded', { file: filename })
  })

  const activityPath = (format, extra = {}) => {
    const params = new URLSearchParams({ period: period.input.value })
    const groups = [byType.input.checked ? 'type' : null, byUnit.input.checked ? 'unit' : null].filter(Boolean)
    if (groups.length) params.set('group_by', groups.join(','))
    if (compare.input.checked) params.set('compare', 'last_year')
    params.set('format', format)
    for (const [key, value] of Object.entries(extra)) params.set(key, value)
    return `/api/v1/reports/activity?${params}`
  }
  const observationsPath = (format) => {
    const params = new URLSearchParams({ format, period: period.input.value })
    if (area.input.value) params.set('area', area.input.value)
    if (category.input.value) params.set('category', category.input.value)
    return `/api/v1/exports/observations?${params}`
  }
  const button = (text, onclick) => h('button', { type: 'button', class: 'secondary', text, onclick })

  /** Opens what `task` fetches (a blob of HTML) in a tab opened now, while the click still counts as the user's. */
  const open = (what, task) => {
    const tab = window.open('', '_blank')
    return run(what, async () => {
      try {
        const blob = await task()
        const url = URL.createObjectURL(blob.type.startsWith('text/html') ? blob : new Blob([blob], { type: 'text/html;charset=utf-8' }))
        setTimeout(() => URL.revokeObjectURL(url), 10 * 60_000)
        if (tab) {
          tab.location.href = url
          return t('opened_report')
        }
        status.replaceChildren(t('popup_blocked'), ' ', h('a', { href: url, target: '_blank', text: t('open_here') }))
        return status.textContent
      } catch (error) {
        tab?.close()
        throw error
      }
    })
  }
  const openReport = () => open(t('followup_export'), async () => {
    const params = new URLSearchParams({ period: period.input.value, lang: getLanguage() })
    return (await api.fetchFile(`/api/v1/reports/followup?${params}`, 'report.html')).blob
  })
  const documents = documentsSection(ctx, {
    period: () => period.input.value, run, download, open: (task) => open(t('doc_title'), task),
  })
  period.input.addEventListener('change', documents.refresh)

  main.replaceChildren(h('section', { class: 'view exports' },
    h('h1', { text: t('exports_title') }),
    h('p', { class: 'hint', text: t('exports_intro') }),
    h('div', { class: 'filters' }, period.node),
    status,
    h('div', { class: 'export-grid' },
      section(t('activity_export'), t('activity_export_hint'),
        h('fieldset', { class: 'field inline' }, h('legend', { text: t('group_by') }), byType.node, byUnit.node),
        compare.node,
        h('div', { class: 'row' },
          button(t('csv'), () => download(t('activity_export'), activityPath('csv'), 'aktiviteter.csv')),
          button(t('csv_excel'), () => download(t('activity_export'), activityPath('csv', { sep: 'semicolon' }), 'aktiviteter.csv')),
          button(t('xlsx'), () => download(t('activity_export'), activityPath('xlsx'), 'aktiviteter.xlsx')))),
      section(t('observations_export'), t('observations_export_hint'),
        h('div', { class: 'row fields' }, area.node, category.node),
        h('div', { class: 'row' },
          button(t('csv'), () => download(t('observations_export'), observationsPath('csv'), 'observationer.csv')),
          button(t('xlsx'), () => download(t('observations_export'), observationsPath('xlsx'), 'observationer.xlsx')),
          button(t('geojson'), () => download(t('observations_export'), observationsPath('geojson'), 'observationer.geojson')))),
      section(t('followup_export'), t('followup_export_hint'),
        h('div', { class: 'row' }, h('button', { type: 'button', class: 'primary', text: t('open_report'), onclick: openReport }))),
      documents.node)))
}
